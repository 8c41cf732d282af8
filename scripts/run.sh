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
# where the action server listens: loopback unless ACTION_HOST says otherwise (it requires a
# token either way); action_addr is how this script and Rasa reach it
ACTION_HOST="${ACTION_HOST:-127.0.0.1}"
case "$ACTION_HOST" in
  127.*|localhost) action_addr="$ACTION_HOST"; action_loopback=1 ;;
  ::1) action_addr="[::1]"; action_loopback=1 ;;
  0.0.0.0|::) action_addr=127.0.0.1; action_loopback=0 ;;
  *:*) action_addr="[$ACTION_HOST]"; action_loopback=0 ;;
  *) action_addr="$ACTION_HOST"; action_loopback=0 ;;
esac
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
mkdir -p "$ROOT/var/log"

"$ROOT/scripts/setup.sh"
# From here on everything made is its owner's only (0600/0700): the SQLite databases with
# Rasa's tracker, the logs, the generated secrets and demo passwords. var/ itself too, which
# also closes the files an earlier version left readable.
umask 077
chmod 700 "$ROOT/var" "$ROOT/var/log"
RASA_PY="$RASA_VENV/bin/python"
# The secrets each server is given (every other secret-like variable is taken away: lib.sh
# without_secrets; docs/security.md): Rasa its API token (rasa_addons/serve.py hands it to
# Rasa, never on a command line) and what endpoints.yml fills in; the action server its
# database and token; the gateway what bot/settings.py reads.
RASA_SECRETS="RASA_TOKEN ACTION_SERVER_TOKEN REDIS_PASSWORD"
ACTION_SECRETS="DATABASE_URL ACTION_SERVER_TOKEN"
GATEWAY_SECRETS="DATABASE_URL RASA_TOKEN GATEWAY_API_TOKEN HEALTH_TOKEN TELEGRAM_BOT_TOKEN TELEGRAM_WEBHOOK_SECRET"

# Secrets: from the environment, else generated once into var/secrets.env (never committed).
action_token="${ACTION_SERVER_TOKEN:-}"  # read before var/secrets.env: the environment wins
if [ -z "${RASA_TOKEN:-}" ]; then
  if [ ! -f "$ROOT/var/secrets.env" ]; then
    (umask 077 && echo "RASA_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')" > "$ROOT/var/secrets.env")
    log "generated a Rasa API token in var/secrets.env"
  fi
  # shellcheck disable=SC1091
  . "$ROOT/var/secrets.env"
fi
export RASA_TOKEN
# The action server's token: Rasa sends it (endpoints.yml), the action server requires it; only
# those two processes get it.
if [ -z "$action_token" ]; then
  if ! grep -q '^ACTION_SERVER_TOKEN=' "$ROOT/var/secrets.env" 2>/dev/null; then
    (umask 077 && echo "ACTION_SERVER_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')" >> "$ROOT/var/secrets.env")
    log "generated an action server token in var/secrets.env"
  fi
  action_token="$(sed -n 's/^ACTION_SERVER_TOKEN=//p' "$ROOT/var/secrets.env" | tail -n 1)"
fi
export -n ACTION_SERVER_TOKEN 2>/dev/null || true

without_secrets "DATABASE_URL" "$PY" -m store migrate
without_secrets "DATABASE_URL" "$PY" -m store seed

# Agent console demo staff (agent1, agent2, supervisor, operator), each with a password of its
# own kept in var/demo-staff.env (0600; DEMO_AGENT_PASSWORD from the environment, when set, is
# everyone's instead); the ready message shows them. Existing users keep their passwords.
demo_staff="$ROOT/var/demo-staff.env"
without_secrets "DATABASE_URL DEMO_AGENT_PASSWORD" "$PY" -m store demo-users --env-file "$demo_staff"
staff_logins='password $DEMO_AGENT_PASSWORD'
if [ -z "${DEMO_AGENT_PASSWORD:-}" ]; then
  staff_logins="passwords $(sed -n 's/^\(agent1\|agent2\|supervisor\|operator\)=\(.*\)$/\1 \2/p' "$demo_staff" | paste -sd, - | sed 's/,/, /g')"
fi
without_secrets "" "$ROOT/scripts/train.sh"

export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://$action_addr:$ACTION_PORT/webhook}"
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

unset_secrets "$ACTION_SECRETS"  # env runs in place of the shell: $! is the server's pid
ACTION_SERVER_TOKEN="$action_token" ACTION_HOST="$ACTION_HOST" env "${UNSET[@]}" "$PY" -m actions --port "$ACTION_PORT" > >(tee "$ROOT/var/log/actions.log" | sed -u 's/^/[actions] /') 2>&1 &
pids+=($!)
unset_secrets "$RASA_SECRETS"
ACTION_SERVER_TOKEN="$action_token" env "${UNSET[@]}" "$RASA_PY" -m rasa_addons.serve --enable-api --interface 127.0.0.1 --port "$RASA_PORT" \
  --credentials "$ROOT/credentials.yml" --endpoints "$endpoints" --model "$MODEL" \
  > >(tee "$ROOT/var/log/rasa.log" | sed -u 's/^/[rasa] /') 2>&1 &
pids+=($!)
rasa_up() {  # rasa_up PORT: the server answers with a model; the token goes to curl on stdin, never in ps
  printf 'url = "http://127.0.0.1:%s/status?token=%s"\n' "$1" "$RASA_TOKEN" | curl -fs -K - >/dev/null
}
standby_port="$RASA_PORT"
standby_started=1
if [ "$RASA_STANDBY" = "1" ]; then
  # started once the first server is up: both would create the tracker store's tables at once
  export RASA_STANDBY_URL="${RASA_STANDBY_URL:-http://127.0.0.1:$RASA_STANDBY_PORT}"
  standby_port="$RASA_STANDBY_PORT"
  standby_started=0
fi
start_standby() {
  unset_secrets "$RASA_SECRETS"
  ACTION_SERVER_TOKEN="$action_token" env "${UNSET[@]}" "$RASA_PY" -m rasa_addons.serve --enable-api --interface 127.0.0.1 --port "$RASA_STANDBY_PORT" \
    --credentials "$ROOT/credentials.yml" --endpoints "$endpoints" --model "$MODEL" \
    > >(tee "$ROOT/var/log/rasa-standby.log" | sed -u 's/^/[rasa-standby] /') 2>&1 &
  pids+=($!)
  standby_started=1
}

# The gateway: the customers' only front door. It talks to Rasa and the action server on
# loopback and answers '系统繁忙' (keeping the message) while they are still starting.
unset_secrets "$GATEWAY_SECRETS"
RASA_URL="${RASA_URL:-http://127.0.0.1:$RASA_PORT}" ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://$action_addr:$ACTION_PORT}" \
  GATEWAY_PORT="$GATEWAY_PORT" RASA_TOKEN="$RASA_TOKEN" \
  env "${UNSET[@]}" "$PY" -m bot > >(tee "$ROOT/var/log/gateway.log" | sed -u 's/^/[gateway] /') 2>&1 &
pids+=($!)

# what the ready message shows; never the secrets themselves
auth_hint=""
[ -n "${GATEWAY_API_TOKEN:-}" ] && auth_hint=' -H "Authorization: Bearer $GATEWAY_API_TOKEN"'
telegram_state="off (set TELEGRAM_BOT_TOKEN to turn it on)"
[ -n "${TELEGRAM_BOT_TOKEN:-}" ] && telegram_state="on"
actions_state=", actions :$ACTION_PORT (token in var/secrets.env)"
[ "$action_loopback" = "1" ] ||
  actions_state="$(printf '\n  Action server     : %s:%s, NOT loopback only (ACTION_HOST); token required' "$ACTION_HOST" "$ACTION_PORT")"
log "waiting for the servers ..."
for _ in $(seq 1 240); do
  if [ "$standby_started" = "0" ] && rasa_up "$RASA_PORT"; then start_standby; fi
  if curl -fs "http://$action_addr:$ACTION_PORT/health" >/dev/null &&
    rasa_up "$RASA_PORT" && rasa_up "$standby_port" &&
    curl -fs "http://127.0.0.1:$GATEWAY_PORT/health" >/dev/null; then
    cat >&2 <<MSG

  Ready.
  Web chat          : http://127.0.0.1:$GATEWAY_PORT/
  Agent console     : http://127.0.0.1:$GATEWAY_PORT/console  (supervisors: /console/supervisor)
                      users agent1, agent2, supervisor, operator; $staff_logins
  JSON API          : http://127.0.0.1:$GATEWAY_PORT/api/v1/messages
  Health            : http://127.0.0.1:$GATEWAY_PORT/health
  Telegram          : $telegram_state
  Internal, loopback only: Rasa :$RASA_PORT$([ "$RASA_STANDBY" = "1" ] && echo " and its standby :$RASA_STANDBY_PORT") (token in var/secrets.env)$actions_state
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
