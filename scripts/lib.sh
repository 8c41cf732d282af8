# Shared helpers for the project's scripts. Source it: `. "$(dirname "$0")/lib.sh"`.
# Two environments: .venv (our code, Python >= 3.11) and .venv-rasa (Rasa 3.6, Python 3.10).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
RASA_VENV="$ROOT/.venv-rasa"
PY="$VENV/bin/python"
RASA="$RASA_VENV/bin/rasa"
MODEL_DIR="$ROOT/models"
MODEL="$MODEL_DIR/current.tar.gz"
FINGERPRINT="$MODEL_DIR/current.fingerprint"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Rasa and TensorFlow are chatty; keep their logs to what matters.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export SQLALCHEMY_SILENCE_UBER_WARNING=1
# No telemetry or crash reports leave the machine (and these machines have no internet).
export RASA_TELEMETRY_ENABLED=false
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"

# Secrets a process is started without (docs/security.md): variables whose name says they hold
# one (…TOKEN, …SECRET, …PASSWORD, …; database and Redis URLs, which may carry a password) and
# any URL value with a password in it; nlu/rasa_cli.py `without_secrets` is the same rule.
SECRET_NAME_RE='TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|AES_KEY|DATABASE_URL|REDIS_URL'
URL_PASSWORD_RE='://[^/@[:space:]:]*:[^/@[:space:]]*@'
unset_secrets() {  # unset_secrets "NAME ...": UNSET=(-u OTHER ...), for `env "${UNSET[@]}" command`
  local keep=" $1 " name
  UNSET=()
  while IFS= read -r name; do
    case "$keep" in *" $name "*) continue ;; esac
    if [[ "${name^^}" =~ $SECRET_NAME_RE || "${!name-}" =~ $URL_PASSWORD_RE ]]; then UNSET+=(-u "$name"); fi
  done < <(compgen -e)
}
without_secrets() {  # without_secrets "NAME ..." command [args]: command with only those secrets
  unset_secrets "$1"
  shift
  env "${UNSET[@]}" "$@"
}

log() { printf '\033[1;34m[%s %s]\033[0m %s\n' "$(basename "$0" .sh)" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '\033[1;31m[%s] error:\033[0m %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

hash_files() {  # stable hash of the given files/directories' contents and names
  (cd "$ROOT" && find "$@" -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
    | sha256sum | cut -d' ' -f1
}

find_python() {  # find_python 3.11 → prints an interpreter path of that minor version (or newer for 3.11+)
  local want="$1" candidate
  for candidate in "${PYTHON:-}" "python$want" python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c "import sys; sys.exit(0 if sys.version_info[:2] >= tuple(map(int, '$want'.split('.'))) else 1)" 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

find_python310() {  # Rasa 3.6 runs on 3.8-3.10 only; prefer 3.10
  local candidate prefix
  for candidate in "${PYTHON310:-}" python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    prefix="$(pyenv prefix 3.10 2>/dev/null || true)"
    if [ -z "$prefix" ]; then
      prefix="$(pyenv root)/versions/$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | tail -1)"
    fi
    if [ -x "$prefix/bin/python3.10" ]; then echo "$prefix/bin/python3.10"; return 0; fi
  fi
  return 1
}
