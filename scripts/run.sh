#!/usr/bin/env bash
# `make run`: set up, migrate, seed demo data into an empty database, train if needed, then run
# the action server, Rasa (and its standby) and the gateway under the supervisor
# (scripts/supervisor/) until Ctrl-C, which stops them all. Customers reach only the gateway
# (GATEWAY_PORT: web chat, JSON API, Telegram); Rasa listens on loopback.
#
# Before anything starts, every port is checked: a taken one is named with the process holding
# it, and nothing is started. Each server runs in a process group of its own; if one fails to
# start, every group is stopped. Once all are up, a server that dies is restarted with back-off
# (the gateway keeps taking messages meanwhile and answers them when Rasa is back); only a crash
# loop (RUN_RESTART_LIMIT restarts within RUN_RESTART_WINDOW s) or Ctrl-C stops the stack.
#
#   scripts/run.sh                 everything
#   scripts/run.sh --servers-only  only the servers, on a machine already set up, migrated and
#                                  trained (RUN_VAR_DIR [var/]: secrets, logs, status file)
. "$(dirname "$0")/lib.sh"
cd "$ROOT"  # rasa imports rasa_addons/ (credentials.yml) from its working directory

prepare=1
case "${1:-}" in
  "") ;;
  --servers-only) prepare=0 ;;
  *) die "usage: scripts/run.sh [--servers-only]" ;;
esac

VAR="${RUN_VAR_DIR:-$ROOT/var}"
RASA_PY="${RASA_PYTHON:-$RASA_VENV/bin/python}"
RASA_PORT="${RASA_PORT:-5005}"
# a second Rasa server for blue/green model deployments: an operator's new model loads there
# while customers keep being answered, then they are switched to it (RASA_STANDBY=0: one server,
# which answers nothing while a new model loads, ~15 s)
RASA_STANDBY="${RASA_STANDBY:-1}"
RASA_STANDBY_PORT="${RASA_STANDBY_PORT:-5006}"
# RASA_WORKERS Rasa processes share the conversations (the SQL tracker store, Redis's lock
# store; docs/scaling.md) and the gateway spreads conversations over them: worker i listens on
# RASA_PORT+2(i-1), its standby twin on RASA_STANDBY_PORT+2(i-1)
RASA_WORKERS="${RASA_WORKERS:-1}"
case "$RASA_WORKERS" in
  "" | *[!0-9]* | 0*) die "RASA_WORKERS must be a whole number from 1, got '$RASA_WORKERS'" ;;
esac
[ "$RASA_WORKERS" = 1 ] || [ -n "${REDIS_URL:-}" ] ||
  die "RASA_WORKERS=$RASA_WORKERS: several Rasa workers take turns on a conversation through" \
    "Redis (Rasa's lock store): set REDIS_URL, e.g. redis://127.0.0.1:6379/1"
ACTION_PORT="${ACTION_PORT:-5055}"
# where the action server listens: loopback unless ACTION_HOST says otherwise (it requires a
# token either way)
ACTION_HOST="${ACTION_HOST:-127.0.0.1}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
GATEWAY_HOST="${GATEWAY_HOST:-127.0.0.1}"
reach() {  # reach HOST: how this machine reaches a server listening on HOST
  case "$1" in
    0.0.0.0) echo 127.0.0.1 ;;
    ::) echo "[::1]" ;;
    *:*) echo "[$1]" ;;
    *) echo "$1" ;;
  esac
}
loopback() { case "$1" in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac; }
action_addr="$(reach "$ACTION_HOST")"
mkdir -p "$VAR/log"

if [ "$prepare" = 1 ]; then
  "$ROOT/scripts/setup.sh"
else
  [ -x "$PY" ] && [ -x "$RASA_PY" ] || die "--servers-only needs both environments: run 'make setup' first"
fi
# From here on everything made is its owner's only (0600/0700): the SQLite databases with
# Rasa's tracker, the logs, the generated secrets and demo passwords. var/ itself too, which
# also closes the files an earlier version left readable.
umask 077
chmod 700 "$VAR" "$VAR/log"
# The secrets each server is given (every other secret-like variable is taken away: lib.sh
# unset_secrets; docs/security.md): Rasa its API token (rasa_addons/serve.py hands it to
# Rasa, never on a command line) and what endpoints.yml fills in; the action server its
# database and token; the gateway what bot/settings.py reads.
RASA_SECRETS="RASA_TOKEN ACTION_SERVER_TOKEN REDIS_PASSWORD"
ACTION_SECRETS="DATABASE_URL ACTION_SERVER_TOKEN"
GATEWAY_SECRETS="DATABASE_URL RASA_TOKEN GATEWAY_API_TOKEN HEALTH_TOKEN TELEGRAM_BOT_TOKEN TELEGRAM_WEBHOOK_SECRET WECHAT_APP_SECRET WECHAT_TOKEN WECHAT_ENCODING_AES_KEY"

# Secrets: from the environment, else generated once into var/secrets.env (never committed).
secrets_env="$VAR/secrets.env"
action_token="${ACTION_SERVER_TOKEN:-}"  # read before var/secrets.env: the environment wins
if [ -z "${RASA_TOKEN:-}" ]; then
  if [ ! -f "$secrets_env" ]; then
    (umask 077 && echo "RASA_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')" > "$secrets_env")
    log "generated a Rasa API token in $secrets_env"
  fi
  # shellcheck disable=SC1090
  . "$secrets_env"
fi
export RASA_TOKEN
# The action server's token: Rasa sends it (endpoints.yml), the action server requires it; the
# supervisor holds it and only those two servers get it (unset_secrets).
if [ -z "$action_token" ]; then
  if ! grep -q '^ACTION_SERVER_TOKEN=' "$secrets_env" 2>/dev/null; then
    (umask 077 && echo "ACTION_SERVER_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')" >> "$secrets_env")
    log "generated an action server token in $secrets_env"
  fi
  action_token="$(sed -n 's/^ACTION_SERVER_TOKEN=//p' "$secrets_env" | tail -n 1)"
fi
export ACTION_SERVER_TOKEN="$action_token"

export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://$action_addr:$ACTION_PORT/webhook}"
export RASA_TRACKER_DIALECT="${RASA_TRACKER_DIALECT:-sqlite}"
export RASA_TRACKER_DB="${RASA_TRACKER_DB:-$VAR/rasa-tracker.db}"
endpoints="$ROOT/endpoints.yml"
if [ -n "${REDIS_URL:-}" ]; then  # several Rasa workers share conversations: Redis lock store
  endpoints="$VAR/endpoints.yml"
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

# The servers, one line each in the supervisor's servers file (no secret in it: each command
# starts with `env -u ...`, the secrets that server may not hold, and Rasa's readiness probe
# names the variable holding its token).
servers="$VAR/servers.jsonl"
status="$VAR/supervisor.json"
: > "$servers"
server() { "$PY" -m scripts.supervisor spec "$@" >> "$servers"; }
rasa_server() {  # rasa_server NAME PORT SETTING [--after NAME]: Rasa through rasa_addons/serve.py
  local name="$1" port="$2" setting="$3"
  shift 3
  unset_secrets "$RASA_SECRETS"
  server "$name" --listen "127.0.0.1:$port" --setting "$setting" \
    --ready "http://127.0.0.1:$port/status" --ready-token-env RASA_TOKEN "$@" \
    -- env "${UNSET[@]}" "$RASA_PY" -m rasa_addons.serve --enable-api --interface 127.0.0.1 --port "$port" \
    --credentials "$ROOT/credentials.yml" --endpoints "$endpoints" --model "$MODEL"
}
unset_secrets "$ACTION_SECRETS"
server actions --listen "$ACTION_HOST:$ACTION_PORT" --setting ACTION_PORT --ready "http://$action_addr:$ACTION_PORT/health" \
  -- env "${UNSET[@]}" ACTION_HOST="$ACTION_HOST" "$PY" -m actions --port "$ACTION_PORT"
# the other servers start once the first is up: all would create the tracker store's tables
rasa_urls="" standby_urls="" rasa_ports="" after=()
for i in $(seq 1 "$RASA_WORKERS"); do
  suffix="$([ "$i" = 1 ] || echo "-$i")"
  port=$((RASA_PORT + 2 * (i - 1)))
  rasa_server "rasa$suffix" "$port" RASA_PORT "${after[@]}"
  after=(--after rasa)
  rasa_urls="$rasa_urls${rasa_urls:+,}http://127.0.0.1:$port"
  rasa_ports="$rasa_ports${rasa_ports:+ }:$port"
  if [ "$RASA_STANDBY" = "1" ]; then
    port=$((RASA_STANDBY_PORT + 2 * (i - 1)))
    rasa_server "rasa-standby$suffix" "$port" RASA_STANDBY_PORT --after rasa
    standby_urls="$standby_urls${standby_urls:+,}http://127.0.0.1:$port"
  fi
done
[ "$RASA_STANDBY" = "1" ] && export RASA_STANDBY_URL="${RASA_STANDBY_URL:-$standby_urls}"
# The gateway: the customers' only front door. It talks to Rasa and the action server on
# loopback and answers '系统繁忙' (keeping the message) while they are starting or restarting;
# its /health shows the supervisor's status file (restarts) to operators.
unset_secrets "$GATEWAY_SECRETS"
server gateway --listen "$GATEWAY_HOST:$GATEWAY_PORT" --setting GATEWAY_PORT \
  --ready "http://$(reach "$GATEWAY_HOST"):$GATEWAY_PORT/health" --ready-any-status \
  -- env "${UNSET[@]}" RASA_URL="${RASA_URL:-$rasa_urls}" \
  ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://$action_addr:$ACTION_PORT}" GATEWAY_HOST="$GATEWAY_HOST" \
  GATEWAY_PORT="$GATEWAY_PORT" SUPERVISOR_STATUS_FILE="$status" "$PY" -m bot

# Before anything starts: every port free? (else: which process holds it, and stop)
"$PY" -m scripts.supervisor check-ports "$servers" || exit 1

if [ "$prepare" = 1 ]; then
  without_secrets "DATABASE_URL" "$PY" -m store migrate
  without_secrets "DATABASE_URL" "$PY" -m store seed
fi
# Agent console demo staff (agent1, agent2, supervisor, operator, manager...), each with a password
# of its own kept in var/demo-staff.env (0600; DEMO_AGENT_PASSWORD from the environment, when set, is
# everyone's instead); the ready message shows them. Existing users keep their passwords.
demo_staff="$VAR/demo-staff.env"
[ "$prepare" = 0 ] || without_secrets "DATABASE_URL DEMO_AGENT_PASSWORD" "$PY" -m store demo-users --env-file "$demo_staff"
staff_logins='password $DEMO_AGENT_PASSWORD'
if [ -z "${DEMO_AGENT_PASSWORD:-}" ]; then
  staff_logins="passwords in $demo_staff"
  [ ! -f "$demo_staff" ] ||
    staff_logins="passwords $(sed -n 's/^\(agent1\|agent2\|supervisor\|foreman\|operator\|manager\)=\(.*\)$/\1 \2/p' "$demo_staff" | paste -sd, - | sed 's/,/, /g')"
fi
[ "$prepare" = 0 ] || without_secrets "" "$ROOT/scripts/train.sh"

# what the ready message shows; never the secrets themselves
auth_hint=""
[ -n "${GATEWAY_API_TOKEN:-}" ] && auth_hint=' -H "Authorization: Bearer $GATEWAY_API_TOKEN"'
telegram_state="off (set TELEGRAM_BOT_TOKEN to turn it on)"
[ -n "${TELEGRAM_BOT_TOKEN:-}" ] && telegram_state="on"
actions_state=", actions :$ACTION_PORT (token in $secrets_env)"
loopback "$ACTION_HOST" ||
  actions_state="$(printf '\n  Action server     : %s:%s, NOT loopback only (ACTION_HOST); token required' "$ACTION_HOST" "$ACTION_PORT")"
web="http://$(reach "$GATEWAY_HOST"):$GATEWAY_PORT"
wechat_state="off (set WECHAT_APP_ID and its secrets to turn it on: docs/wechat.md)"
[ -n "${WECHAT_APP_ID:-}" ] &&
  wechat_state="on: $web$(sed -n 's/^path: *//p' "${CONF_DIR:-$ROOT/conf}/wechat.yml" 2>/dev/null | head -n 1) (behind the HTTPS proxy)"
# The supervisor replaces this shell, so Ctrl-C and SIGTERM reach it and it stops every server.
# The servers' output goes to the terminal and to their logs in var/log/ (RUN_VAR_DIR), its own
# lines to var/log/run.log.
exec "$PY" -m scripts.supervisor run "$servers" --logs "$VAR/log" --status "$status" --banner - <<MSG

  Ready.
  Web chat          : $web/
  Agent console     : $web/console  (supervisors: /console/supervisor)
                      users agent1, agent2, supervisor, operator, manager; $staff_logins
  Service quality   : $web/console/quality  (manager; supervisors: the chat desk)
  JSON API          : $web/api/v1/messages
  Health            : $web/health
  Telegram          : $telegram_state
  WeChat            : $wechat_state
  Internal, loopback only: Rasa $rasa_ports$([ "$RASA_STANDBY" = "1" ] && echo " and the standby pool ${standby_urls//http:\/\/127.0.0.1/}") (token in $secrets_env)$actions_state
  Try:
    curl -s -XPOST $web/api/v1/messages -H 'Content-Type: application/json'$auth_hint \\
         -d '{"sender": "me", "text": "东山村停电了"}'
  Logs: $VAR/log/ (run.log: starts, restarts, stops). A server that dies is restarted.
  Ctrl-C stops everything.

MSG
