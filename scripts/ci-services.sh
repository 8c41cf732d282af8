#!/usr/bin/env bash
# The services CI's tests need, before any test runs: PostgreSQL at TEST_DATABASE_URL (with its
# database) and Redis at TEST_REDIS_URL. One that does not answer is started from Debian's
# packages when it is on this machine (pg_ctlcluster; redis-server --daemonize); otherwise the run
# stops here, naming what is missing, instead of failing later inside a test.
. "$(dirname "$0")/lib.sh"

: "${TEST_DATABASE_URL:?TEST_DATABASE_URL is not set}"
: "${TEST_REDIS_URL:?TEST_REDIS_URL is not set}"
WAIT_SECONDS="${CI_SERVICE_WAIT:-30}"

# host port user database of both URLs, in one go (defaults for what a URL leaves out)
read -r pg_host pg_port pg_user pg_db redis_host redis_port < <(
  python3 - "$TEST_DATABASE_URL" "$TEST_REDIS_URL" <<'PYEOF'
import sys
from urllib.parse import urlsplit
pg, redis = urlsplit(sys.argv[1]), urlsplit(sys.argv[2])
print(pg.hostname or "127.0.0.1", pg.port or 5432, pg.username or "postgres",
      pg.path.lstrip("/") or "test", redis.hostname or "127.0.0.1", redis.port or 6379)
PYEOF
)
local_host() { case "$1" in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac; }
answers() {  # answers HOST PORT: something accepts TCP connections there
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
wait_for() {  # wait_for HOST PORT
  local i
  for i in $(seq 1 "$WAIT_SECONDS"); do answers "$1" "$2" && return 0; sleep 1; done
  return 1
}

# --- PostgreSQL ---------------------------------------------------------------------------
if ! answers "$pg_host" "$pg_port"; then
  local_host "$pg_host" ||
    die "PostgreSQL at $pg_host:$pg_port (TEST_DATABASE_URL) does not answer, and it is not on this machine"
  command -v pg_ctlcluster >/dev/null 2>&1 ||
    die "PostgreSQL does not answer at $pg_host:$pg_port (TEST_DATABASE_URL) and is not installed:" \
      "apt-get install postgresql"
  clusters="$(pg_lsclusters --no-header 2>/dev/null | awk '{print $1 "/" $2}')"
  [ -n "$clusters" ] ||
    die "PostgreSQL is installed but has no cluster: pg_createcluster --start 15 main (or your version)"
  for cluster in $clusters; do
    log "starting PostgreSQL $cluster ..."
    pg_ctlcluster --skip-systemctl-redirect "${cluster%/*}" "${cluster#*/}" start >/dev/null 2>&1 || true
  done
  wait_for "$pg_host" "$pg_port" ||
    die "PostgreSQL started ($clusters) but nothing answers at $pg_host:$pg_port (TEST_DATABASE_URL):" \
      "check the cluster's port (pg_lsclusters)"
fi
if command -v psql >/dev/null 2>&1; then
  exists="$(psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$pg_db'" 2>&1)" ||
    die "PostgreSQL answers at $pg_host:$pg_port but refuses $pg_user: $exists"
  if [ "$exists" != 1 ]; then
    log "creating the database $pg_db"
    createdb -h "$pg_host" -p "$pg_port" -U "$pg_user" "$pg_db"
  fi
fi
log "PostgreSQL answers at $pg_host:$pg_port (database $pg_db)"

# --- Redis ----------------------------------------------------------------------------------
if ! answers "$redis_host" "$redis_port"; then
  local_host "$redis_host" ||
    die "Redis at $redis_host:$redis_port (TEST_REDIS_URL) does not answer, and it is not on this machine"
  command -v redis-server >/dev/null 2>&1 ||
    die "Redis does not answer at $redis_host:$redis_port (TEST_REDIS_URL) and is not installed:" \
      "apt-get install redis-server"
  log "starting Redis on $redis_host:$redis_port (keeps nothing on disk) ..."
  redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" --save "" \
    --appendonly no --dir "${TMPDIR:-/tmp}" >/dev/null
  wait_for "$redis_host" "$redis_port" ||
    die "redis-server was started but nothing answers at $redis_host:$redis_port (TEST_REDIS_URL)"
fi
log "Redis answers at $redis_host:$redis_port"
