#!/usr/bin/env bash
# `make run`: set up, migrate, seed demo data into an empty database, train if needed, then run
# the action server, Rasa and the gateway until Ctrl-C, which stops all three cleanly. Customers
# reach only the gateway (GATEWAY_PORT, web chat, JSON API, Telegram); Rasa listens on loopback.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"  # rasa imports rasa_addons/ (credentials.yml) from its working directory

RASA_PORT="${RASA_PORT:-5005}"
# a second Rasa server for blue/green model deployments: an operator's new model loads there
# while customers keep being answered, then they are switched to it (RASA_STANDBY=0: one server,
# which answers nothing while a new model loads, ~15 s)
RASA_STANDBY="${RASA_STANDBY:-1}"
RASA_STANDBY_PORT="${RASA_STANDBY_PORT:-5006}"
ACTION_PORT="${ACTION_PORT:-5055}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
mkdir -p "$ROOT/var/log"

"$ROOT/scripts/setup.sh"

# Secrets: from the environment, else generated once into var/secrets.env (never committed).
if [ -z "${RASA_TOKEN:-}" ]; then
  if [ ! -f "$ROOT/var/secrets.env" ]; then
    (umask 077 && echo "RASA_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')" > "$ROOT/var/secrets.env")
    log "generated a Rasa API token in var/secrets.env"
  fi
  # shellcheck disable=SC1091
  . "$ROOT/var/secrets.env"
fi
export RASA_TOKEN

"$PY" -m store migrate
"$PY" -m store seed

# Agent console demo staff (agent1, agent2, supervisor, operator): one demo password, made once
# into var/demo-staff.env (DEMO_AGENT_PASSWORD from the environment wins); the ready message
# shows it. Users that already exist keep their passwords.
demo_password="${DEMO_AGENT_PASSWORD:-}"
if [ -z "$demo_password" ]; then
  if [ ! -f "$ROOT/var/demo-staff.env" ]; then
    (umask 077 && echo "DEMO_AGENT_PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(9))')" > "$ROOT/var/demo-staff.env")
  fi
  demo_password="$(sed -n 's/^DEMO_AGENT_PASSWORD=//p' "$ROOT/var/demo-staff.env" | tail -n 1)"
fi
DEMO_AGENT_PASSWORD="$demo_password" "$PY" -m store demo-users
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
trap stop EXIT
trap 'stop; exit 130' INT TERM  # Ctrl-C: stop everything, no "server exited" error

"$PY" -m actions --port "$ACTION_PORT" > >(tee "$ROOT/var/log/actions.log" | sed -u 's/^/[actions] /') 2>&1 &
pids+=($!)
"$RASA" run --enable-api --auth-token "$RASA_TOKEN" --interface 127.0.0.1 --port "$RASA_PORT" \
  --credentials "$ROOT/credentials.yml" --endpoints "$endpoints" --model "$MODEL" \
  > >(tee "$ROOT/var/log/rasa.log" | sed -u 's/^/[rasa] /') 2>&1 &
pids+=($!)
rasa_ready="http://127.0.0.1:$RASA_PORT/status?token=$RASA_TOKEN"
standby_ready="$rasa_ready"
standby_started=1
if [ "$RASA_STANDBY" = "1" ]; then
  # started once the first server is up: both would create the tracker store's tables at once
  export RASA_STANDBY_URL="${RASA_STANDBY_URL:-http://127.0.0.1:$RASA_STANDBY_PORT}"
  standby_ready="http://127.0.0.1:$RASA_STANDBY_PORT/status?token=$RASA_TOKEN"
  standby_started=0
fi
start_standby() {
  "$RASA" run --enable-api --auth-token "$RASA_TOKEN" --interface 127.0.0.1 --port "$RASA_STANDBY_PORT" \
    --credentials "$ROOT/credentials.yml" --endpoints "$endpoints" --model "$MODEL" \
    > >(tee "$ROOT/var/log/rasa-standby.log" | sed -u 's/^/[rasa-standby] /') 2>&1 &
  pids+=($!)
  standby_started=1
}

# The gateway: the customers' only front door. It talks to Rasa and the action server on
# loopback and answers '系统繁忙' (keeping the message) while they are still starting.
RASA_URL="${RASA_URL:-http://127.0.0.1:$RASA_PORT}" ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:$ACTION_PORT}" \
  GATEWAY_PORT="$GATEWAY_PORT" RASA_TOKEN="$RASA_TOKEN" \
  "$PY" -m bot > >(tee "$ROOT/var/log/gateway.log" | sed -u 's/^/[gateway] /') 2>&1 &
pids+=($!)

# what the ready message shows; never the secrets themselves
auth_hint=""
[ -n "${GATEWAY_API_TOKEN:-}" ] && auth_hint=' -H "Authorization: Bearer $GATEWAY_API_TOKEN"'
telegram_state="off (set TELEGRAM_BOT_TOKEN to turn it on)"
[ -n "${TELEGRAM_BOT_TOKEN:-}" ] && telegram_state="on"
log "waiting for the servers ..."
for _ in $(seq 1 240); do
  if [ "$standby_started" = "0" ] && curl -fs "$rasa_ready" >/dev/null; then start_standby; fi
  if curl -fs "http://127.0.0.1:$ACTION_PORT/health" >/dev/null &&
    curl -fs "$rasa_ready" >/dev/null && curl -fs "$standby_ready" >/dev/null &&
    curl -fs "http://127.0.0.1:$GATEWAY_PORT/health" >/dev/null; then
    cat >&2 <<MSG

  Ready.
  Web chat          : http://127.0.0.1:$GATEWAY_PORT/
  Agent console     : http://127.0.0.1:$GATEWAY_PORT/console  (supervisors: /console/supervisor)
                      users agent1, agent2, supervisor, operator; demo password: $demo_password
  JSON API          : http://127.0.0.1:$GATEWAY_PORT/api/v1/messages
  Health            : http://127.0.0.1:$GATEWAY_PORT/health
  Telegram          : $telegram_state
  Internal, loopback only: Rasa :$RASA_PORT$([ "$RASA_STANDBY" = "1" ] && echo " and its standby :$RASA_STANDBY_PORT") (token in var/secrets.env), actions :$ACTION_PORT
  Try:
    curl -s -XPOST localhost:$GATEWAY_PORT/api/v1/messages -H 'Content-Type: application/json'$auth_hint \\
         -d '{"sender": "me", "text": "东山村停电了"}'
  Logs: var/log/. Ctrl-C stops everything.

MSG
    wait -n "${pids[@]}" || true
    die "a server exited; see var/log/"
  fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a server failed to start; see var/log/"; done
  sleep 1
done
die "servers did not become ready in 240 s; see var/log/"
