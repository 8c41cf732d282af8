"""Code that runs inside Rasa's own process (Python 3.10, the `.venv-rasa` environment).

Rasa imports it by module path (credentials.yml names the gateway's channel); it may import
only Rasa and the standard library, never `bot`, `actions` or `store` (those run on Python 3.11
in the main environment and talk to Rasa over HTTP).

Importing it installs the fast paths below into Rasa, unless TOWNSHIP_RASA_FAST=0 (pinned.py)
keeps Rasa's own code: for measuring what they save (`make bench`'s profile part) or ruling
them out when something looks wrong (docs/operators.md).
"""

import os as _os

from rasa_addons.fast_action_check import install as _install_fast_action_check
from rasa_addons.fast_events import install as _install_fast_events
from rasa_addons.fast_load import install as _install_fast_load
from rasa_addons.pinned import fast_paths_on as _fast_paths_on

if _fast_paths_on(_os.environ):
    _install_fast_load()  # DIET loads to predict without tracing a training step (fast_load.py)
    _install_fast_action_check()  # the action server's replies checked by one validator
    _install_fast_events()  # events' classes looked up by name in a table (fast_events.py)
