"""Code that runs inside Rasa's own process (Python 3.10, the `.venv-rasa` environment).

Rasa imports it by module path (credentials.yml names the gateway's channel); it may import
only Rasa and the standard library, never `bot`, `actions` or `store` (those run on Python 3.11
in the main environment and talk to Rasa over HTTP).
"""

from rasa_addons.fast_action_check import install as _install_fast_action_check
from rasa_addons.fast_load import install as _install_fast_load

_install_fast_load()  # DIET loads to predict without tracing a training step (fast_load.py)
_install_fast_action_check()  # the action server's replies checked by one validator
