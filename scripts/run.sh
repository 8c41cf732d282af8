#!/usr/bin/env bash
# `make run`: set up, migrate, seed demo data into an empty database, train if needed, then run
# the action server and Rasa until Ctrl-C, which stops both cleanly.
. "$(dirname "$0")/lib.sh"

RASA_PORT="${RASA_PORT:-5005}"
ACTION_PORT="${ACTION_PORT:-5055}"
mkdir -p "$ROOT/var/log"

"$ROOT/scripts/setup.sh"

# Secrets: from the environment, else generated once into var/secrets.env (never committed).
if [ -z "${RASA_TOKEN:-}" ]; then
  if [ ! -f "$ROOT/var/secrets.env" ]; then
    (umask 077 && echo "RASA_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')" > "$ROOT/var/secrets.env")
    log "generated a Rasa API token in var/secrets.env"
  fi
  # shellcheck disable=SC1091
  . "$ROOT/var/secrets.env"
fi
export RASA_TOKEN

"$PY" -m store migrate
"$PY" -m store seed
"$ROOT/scripts/train.sh"

export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://127.0.0.1:$ACTION_PORT/webhook}"
export RASA_TRACKER_DIALECT="${RASA_TRACKER_DIALECT:-sqlite}"
export RASA_TRACKER_DB="${RASA_TRACKER_DB:-$ROOT/var/rasa-tracker.db}"
endpoints="$ROOT/endpoints.yml"
if [ -n "${REDIS_URL:-}" ]; then  # several Rasa workers share conversations: Redis lock store
  endpoints="$ROOT/var/endpoints.yml"
  "$PY" - "$REDIS_URL" > "$endpoints" <<'PYEOF'
import sys
from urllib.parse import urlparse
url = urlparse(sys.argv[1])
print(open("endpoints.yml", encoding="utf-8").read())
print("lock_store:\n  type: redis")
print(f"  url: {url.hostname or 'localhost'}\n  port: {url.port or 6379}")
print(f"  db: {(url.path or '/0').lstrip('/') or 0}")
if url.password:
    print("  password: ${REDIS_PASSWORD}")
PYEOF
  export REDIS_PASSWORD="$("$PY" -c 'import sys; from urllib.parse import urlparse; print(urlparse(sys.argv[1]).password or "")' "$REDIS_URL")"
fi

pids=()
stop() {
  trap - INT TERM EXIT
  log "stopping ..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  log "stopped"
}
trap stop INT TERM EXIT

"$PY" -m actions --port "$ACTION_PORT" > >(tee "$ROOT/var/log/actions.log" | sed -u 's/^/[actions] /') 2>&1 &
pids+=($!)
"$RASA" run --enable-api --auth-token "$RASA_TOKEN" --port "$RASA_PORT" \
  --credentials "$ROOT/credentials.yml" --endpoints "$endpoints" --model "$MODEL" \
  > >(tee "$ROOT/var/log/rasa.log" | sed -u 's/^/[rasa] /') 2>&1 &
pids+=($!)

log "waiting for the servers ..."
for _ in $(seq 1 180); do
  if curl -fs "http://127.0.0.1:$ACTION_PORT/health" >/dev/null &&
    curl -fs "http://127.0.0.1:$RASA_PORT/status?token=$RASA_TOKEN" >/dev/null; then
    cat >&2 <<MSG

  Ready.
  Rasa REST webhook : http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook
  Rasa HTTP API     : http://127.0.0.1:$RASA_PORT  (token: \$RASA_TOKEN, see var/secrets.env)
  Action server     : http://127.0.0.1:$ACTION_PORT
  Try:
    curl -s -XPOST localhost:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
         -d '{"sender": "me", "message": "东山村停电了"}'
  Logs: var/log/. Ctrl-C stops everything.

MSG
    wait -n "${pids[@]}" || true
    die "a server exited; see var/log/"
  fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a server failed to start; see var/log/"; done
  sleep 1
done
die "servers did not become ready in 180 s; see var/log/"
