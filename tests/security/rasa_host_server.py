"""Rasa's own HTTP server (rasa.core.run.configure_app: its API, CORS, the channels of
credentials.yml's gateway input) without a model, for tests/security/test_rasa_host.py.

Run with Rasa's interpreter: `.venv-rasa/bin/python tests/security/rasa_host_server.py PORT`
(RASA_TOKEN and RASA_ALLOWED_HOSTS from the environment). What `rasa run` adds around it is the
model loading and the endpoints, which the Host check does not depend on.
"""

import os
import sys

from rasa.core.run import configure_app

from rasa_addons.gateway_channel import GatewayInput


def main() -> None:
    port = int(sys.argv[1])
    app = configure_app(
        input_channels=[GatewayInput()],
        enable_api=True,
        auth_token=os.environ["RASA_TOKEN"],
        port=port,
    )
    app.run(host="127.0.0.1", port=port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
