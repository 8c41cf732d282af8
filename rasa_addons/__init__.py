"""Code that runs inside Rasa's own process (Python 3.10, the `.venv-rasa` environment).

Rasa imports it by module path (credentials.yml names the gateway's channel); it may import
only Rasa and the standard library, never `bot`, `actions` or `store` (those run on Python 3.11
in the main environment and talk to Rasa over HTTP).
"""
