#!/usr/bin/env bash
# Create or update both virtual environments from their locks (requirements/main.txt and
# requirements/rasa.txt: every package at one version, its files' hashes checked; `make lock`
# refreshes them). Re-installs only when a lock changed (a hash stamp inside each venv), so a
# second run takes a second. pip installs them, with its own configuration (pip.conf: a local
# package index or mirror serves as well as PyPI).
. "$(dirname "$0")/lib.sh"

stamp_ok() { [ -f "$1/.requirements-stamp" ] && [ "$(cat "$1/.requirements-stamp")" = "$2" ]; }

# How to get a Python that the system's package manager may not have.
python_hint() {  # python_hint VERSION VARIABLE: how to get it, and the variable naming one
  cat >&2 <<HINT
  Ways to get Python $1 (then run 'make setup' again):
    pyenv:   curl -fsSL https://pyenv.run | bash; pyenv install $1   (any Linux; builds it, so
             it needs a compiler and the -dev libraries of pyenv's wiki; found through pyenv)
    uv:      uv python install $1; export $2=\$(uv python find $1)   (prebuilt, no
             compiler; uv itself from 'pipx install uv', or .venv/bin/uv once .venv exists)
    Ubuntu:  sudo add-apt-repository ppa:deadsnakes/ppa; sudo apt-get install python$1-venv
  A distribution packages only the Python it ships (Debian 12: 3.11, Debian 13: 3.13,
  Ubuntu 24.04: 3.12): 'apt-get install python3.10' finds nothing there.
  Or set $2 to the path of a python$1 you have.
HINT
}

# The two environments install side by side (each pip is mostly single-threaded unpacking).

# --- our code: Python >= 3.11 -------------------------------------------------------------
setup_main() {
  local main_hash python
  main_hash="$(hash_files pyproject.toml requirements/main.txt)"
  stamp_ok "$VENV" "$main_hash" && return 0
  python="$(find_python 3.11)" || { python_hint 3.11 PYTHON; die "Python 3.11 or newer is required."; }
  "$python" "$ROOT/scripts/locks.py" || die "the locks do not match their inputs (see above)"
  log "main environment ($("$python" --version)) → .venv"
  [ -x "$PY" ] || "$python" -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q --require-hashes -r "$ROOT/requirements/main.txt"
  # the project itself, editable; its dependencies and build backend came from the lock (the
  # backend's warning about editable installs in general is not for us)
  PYTHONWARNINGS=ignore "$PY" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
  echo "$main_hash" > "$VENV/.requirements-stamp"
}

# --- Rasa engine: Python 3.10 ---------------------------------------------------------------
setup_rasa() {
  local rasa_hash python310
  rasa_hash="$(hash_files requirements/rasa.txt)"
  stamp_ok "$RASA_VENV" "$rasa_hash" && return 0
  python310="$(find_python310)" || {
    python_hint 3.10 PYTHON310
    die "Rasa 3.6 needs Python 3.10 (it does not run on 3.11 or newer)."
  }
  log "Rasa environment ($("$python310" --version)) → .venv-rasa (takes about two minutes the first time)"
  [ -x "$RASA_VENV/bin/python" ] || "$python310" -m venv "$RASA_VENV"
  "$RASA_VENV/bin/python" -m pip install -q --upgrade pip
  env -u PYTHONPATH "$RASA_VENV/bin/python" -m pip install -q --require-hashes -r "$ROOT/requirements/rasa.txt"
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
# --- the evaluation reports' PDF (store/quality_reports/pdf.py): Pango and a Chinese font -----
# Debian's packages, as for Chromium; poppler-utils gives the reports' tests and their readers
# pdftotext and pdftoppm (a PDF page as a PNG image).
report_packages="libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk poppler-utils"
reports_ready() {  # no `grep -q` in a pipe: under pipefail its early exit fails the pipe
  command -v pdftoppm >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ] &&
    [[ "$(/sbin/ldconfig -p 2>/dev/null)" == *libpangoft2-1.0* ]]
}
if reports_ready; then
  :
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing Debian's Pango, Chinese fonts and poppler-utils (the evaluation reports' PDF)"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086  # a list of package names
  apt-get install -y -q $report_packages >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q $report_packages >/dev/null; } ||
    log "could not install $report_packages with apt-get: reports' PDFs will lack Chinese" \
      "glyphs and their tests fail; install them by hand: 'apt-get install $report_packages'"
else
  log "a Chinese font or Pango is missing: the evaluation reports' PDF needs them." \
    "Install them with 'sudo apt-get install $report_packages' (Debian/Ubuntu);" \
    "run this script as root to have it done."
fi
log "environments ready"
