#!/usr/bin/env bash
# Create or update both virtual environments. Re-installs only when the pinned requirements
# changed (a hash stamp inside each venv), so a second run takes a second.
. "$(dirname "$0")/lib.sh"

stamp_ok() { [ -f "$1/.requirements-stamp" ] && [ "$(cat "$1/.requirements-stamp")" = "$2" ]; }

# The two environments install side by side (each pip is mostly single-threaded unpacking).

# --- our code: Python >= 3.11 -------------------------------------------------------------
setup_main() {
  local main_hash python
  main_hash="$(hash_files pyproject.toml)"
  stamp_ok "$VENV" "$main_hash" && return 0
  python="$(find_python 3.11)" || die "Python 3.11 or newer is required (install it with pyenv: 'pyenv install 3.11', or your package manager)."
  log "main environment ($("$python" --version)) → .venv"
  [ -x "$PY" ] || "$python" -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -e "$ROOT[dev]"
  echo "$main_hash" > "$VENV/.requirements-stamp"
}

# --- Rasa engine: Python 3.10 ---------------------------------------------------------------
setup_rasa() {
  local rasa_hash python310
  rasa_hash="$(hash_files requirements/rasa.in requirements/rasa-constraints.txt)"
  stamp_ok "$RASA_VENV" "$rasa_hash" && return 0
  python310="$(find_python310)" || die "Rasa 3.6 needs Python 3.10 (it does not run on 3.11+). Install it, e.g. 'pyenv install 3.10', or 'apt-get install python3.10 python3.10-venv', or point PYTHON310 at an interpreter."
  log "Rasa environment ($("$python310" --version)) → .venv-rasa (takes about two minutes the first time)"
  [ -x "$RASA_VENV/bin/python" ] || "$python310" -m venv "$RASA_VENV"
  "$RASA_VENV/bin/python" -m pip install -q --upgrade pip
  env -u PYTHONPATH "$RASA_VENV/bin/python" -m pip install -q -r "$ROOT/requirements/rasa.in" setuptools wheel \
    -c "$ROOT/requirements/rasa-constraints.txt"
  echo "$rasa_hash" > "$RASA_VENV/.requirements-stamp"
}

( setup_rasa ) &
rasa_setup=$!
trap 'kill "$rasa_setup" 2>/dev/null || true' EXIT  # the main one failed: stop the other
setup_main
wait "$rasa_setup" || die "the Rasa environment could not be set up (see above)"
trap - EXIT

# --- Chromium for the web chat's browser tests: Debian's package, never `playwright install` ---
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  :
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing Debian's chromium (for the web chat's browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } ||
    log "could not install chromium with apt-get: the browser tests will be skipped" \
      "(under CI=true they fail); install it by hand: 'apt-get install chromium'"
else
  log "chromium is not installed: the web chat's browser tests will be skipped (under CI=true they fail)." \
    "Install it with 'sudo apt-get install chromium' (Debian/Ubuntu) or your package manager;" \
    "run this script as root to have it done."
fi
log "environments ready"
