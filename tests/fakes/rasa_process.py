"""The fake Rasa (tests/fakes/rasa.py) as a server process, for the tests of `make run`'s
supervisor: it takes the command line scripts/run.sh gives Rasa
(`-m rasa_addons.serve --enable-api --interface H --port P --model M ...`, through a
RASA_PYTHON wrapper) and the token from RASA_TOKEN, as rasa_addons/serve.py does.

Like a real Rasa it has a helper process of its own (Rasa's workers, TensorFlow's threads in a
child ...): a process in its process group that outlives the server if only the server is killed,
which the supervisor must stop too. FAKE_RASA_LOAD_SECONDS: how long it takes to "load its
model" before it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys

from tests.fakes.rasa import FakeRasa


async def serve(port: int) -> None:
    rasa = FakeRasa(token=os.environ.get("RASA_TOKEN") or None, port=port)
    # a real Rasa listens only once its model is loaded (a minute or two)
    await asyncio.sleep(float(os.environ.get("FAKE_RASA_LOAD_SECONDS", "0")))
    await rasa.up()
    print(f"fake Rasa listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await rasa.down()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-m", dest="module")
    parser.add_argument("--port", type=int, required=True)
    args, _ = parser.parse_known_args(argv)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    print(f"fake Rasa helper process {helper.pid}", flush=True)
    try:
        asyncio.run(serve(args.port))
    finally:
        helper.terminate()
        helper.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
