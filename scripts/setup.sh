#!/usr/bin/env bash
# Create or update both virtual environments. Re-installs only when the pinned requirements
# changed (a hash stamp inside each venv), so a second run takes a second.
. "$(dirname "$0")/lib.sh"

stamp_ok() { [ -f "$1/.requirements-stamp" ] && [ "$(cat "$1/.requirements-stamp")" = "$2" ]; }

# --- our code: Python >= 3.11 -------------------------------------------------------------
main_hash="$(hash_files pyproject.toml)"
if ! stamp_ok "$VENV" "$main_hash"; then
  python="$(find_python 3.11)" || die "Python 3.11 or newer is required (install it with pyenv: 'pyenv install 3.11', or your package manager)."
  log "main environment ($("$python" --version)) → .venv"
  [ -x "$PY" ] || "$python" -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -e "$ROOT[dev]"
  echo "$main_hash" > "$VENV/.requirements-stamp"
fi

# --- Rasa engine: Python 3.10 ---------------------------------------------------------------
rasa_hash="$(hash_files requirements/rasa.in requirements/rasa-constraints.txt)"
if ! stamp_ok "$RASA_VENV" "$rasa_hash"; then
  python310="$(find_python310)" || die "Rasa 3.6 needs Python 3.10 (it does not run on 3.11+). Install it, e.g. 'pyenv install 3.10', or 'apt-get install python3.10 python3.10-venv', or point PYTHON310 at an interpreter."
  log "Rasa environment ($("$python310" --version)) → .venv-rasa (takes about two minutes the first time)"
  [ -x "$RASA_VENV/bin/python" ] || "$python310" -m venv "$RASA_VENV"
  "$RASA_VENV/bin/python" -m pip install -q --upgrade pip
  env -u PYTHONPATH "$RASA_VENV/bin/python" -m pip install -q -r "$ROOT/requirements/rasa.in" setuptools wheel \
    -c "$ROOT/requirements/rasa-constraints.txt"
  echo "$rasa_hash" > "$RASA_VENV/.requirements-stamp"
fi
log "environments ready"
