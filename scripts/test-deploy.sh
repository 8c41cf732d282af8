#!/usr/bin/env bash
# `make test-deploy`: the Docker Compose deployment built and run as a station would run it,
# then talked to. About 20 minutes from nothing, 12 with the images cached (docs/deployment.md).
#
#  1. base images: the official python/postgres/redis/nginx images when present or pullable;
#     where no registry answers, local stand-ins built from Debian's packages (debootstrap +
#     docker import, then deploy/standin/), kept between runs and rebuilt only when missing or
#     when their recipe changed
#  2. the project's images (docker-compose.yml's builds, the model from models/current.tar.gz)
#  3. the whole stack under a project name of its own, two gateway replicas and two Rasa
#     workers, the proxy on a free loopback port, fresh secrets; waits until every container is
#     healthy (migrate: done); every gateway replica must answer through the proxy, which must
#     hand the gateway the client's address (not its own, not one the client made up)
#  4. conversations through the proxy and the gateway's JSON API (scripts/deploy_chat.py): a
#     bill question refused before verification; a fault report whose gateway replica is
#     stopped in the middle, which must go on through the other replica to one ticket, then the
#     stopped replica started again and found again by the proxy; a fault report with Rasa's
#     containers stopped and started in the middle, which must go on to its ticket
#  5. figures: build times, image sizes, the running stack's memory (docker stats)
#  6. everything it started torn down (also on failure or Ctrl-C); the images stay as cache
#
# Needs Docker (Debian: apt-get install docker.io) with BuildKit: Docker 23+ with buildx, or an
# older client (Debian 12's docker.io) with DOCKER_BUILDKIT=1; Compose v2 or docker-compose 1.29;
# for the stand-ins debootstrap and root. Settings (environment):
#   TEST_DEPLOY_STANDINS=auto|1|0  stand-ins where needed (auto), always (1), never (0) [auto]
#   TEST_DEPLOY_FRESH=1            remove the project's images and Docker's build cache first
#                                  (a build from nothing, as on a new server; stand-ins stay)
#   TEST_DEPLOY_MODEL_SOURCE=train train the model inside the Rasa image instead of copying
#                                  models/current.tar.gz [copy]
#   TEST_DEPLOY_TIMEOUT            seconds for the stack to become healthy [900]
#   TEST_DEPLOY_GATEWAYS           gateway replicas (--scale gateway=N; 1 skips the replica
#                                  checks) [2]
#   TEST_DEPLOY_RASA               Rasa workers (--scale rasa=N) [2]
#   DEBIAN_MIRROR                  for debootstrap [http://deb.debian.org/debian]
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

STANDINS="${TEST_DEPLOY_STANDINS:-auto}"
MODEL_SOURCE="${TEST_DEPLOY_MODEL_SOURCE:-copy}"
TIMEOUT="${TEST_DEPLOY_TIMEOUT:-900}"
GATEWAYS="${TEST_DEPLOY_GATEWAYS:-2}"
RASA_WORKERS="${TEST_DEPLOY_RASA:-2}"
[[ "$GATEWAYS" =~ ^[1-9][0-9]*$ && "$RASA_WORKERS" =~ ^[1-9][0-9]*$ ]] ||
  { echo "TEST_DEPLOY_GATEWAYS and TEST_DEPLOY_RASA must be whole numbers from 1" >&2; exit 2; }
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
STANDIN=township-standin
SUITE=bookworm
TAG=test-deploy
PROJECT="tpadeploy$(date +%m%d%H%M%S)$$"
SERVICES=(postgres redis migrate actions rasa gateway proxy)
REPORT="$ROOT/reports/deploy"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-deploy.XXXXXX")"
mkdir -p "$REPORT"
exec > >(tee "$REPORT/test-deploy.log") 2>&1
STARTED=0
SECONDS=0

# --- tools ------------------------------------------------------------------------------------

pick_docker() {  # a docker client that builds with BuildKit (→ DOCKER), and Compose (→ COMPOSE)
  local candidate major
  DOCKER=""
  while IFS= read -r candidate; do
    if "$candidate" buildx version >/dev/null 2>&1; then DOCKER="$candidate"; break; fi
    major="$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)"
    if [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -lt 23 ]; then DOCKER="$candidate"; break; fi
  done < <(type -ap docker | awk '!seen[$0]++')
  if [ -z "$DOCKER" ]; then
    type -P docker >/dev/null || die "no docker: install it (Debian: apt-get install docker.io)"
    die "this docker cannot build with BuildKit: install buildx (Debian 13: docker-buildx)" \
      "or use Debian 12's docker.io client"
  fi
  "$DOCKER" info >/dev/null 2>&1 ||
    die "the Docker daemon does not answer: start it (as root: dockerd >/var/log/dockerd.log 2>&1 &)"
  export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
  # docker-compose 1.29 builds with the `docker` first on the PATH: make it this one
  mkdir -p "$WORK/bin"
  ln -s "$DOCKER" "$WORK/bin/docker"
  export PATH="$WORK/bin:$PATH"
  if "$DOCKER" compose version >/dev/null 2>&1; then
    COMPOSE=("$DOCKER" compose)
  elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
  else
    die "no Compose: install the compose plugin, or docker-compose (Debian: apt-get install docker-compose)"
  fi
  log "docker: $DOCKER ($("$DOCKER" version --format 'client {{.Client.Version}}, engine {{.Server.Version}}'));" \
    "compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo '?'))"
}

compose() {  # Compose on this run's project, with only this run's settings (not the caller's)
  local keep=(PATH="$PATH" HOME="$HOME" DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1) name
  for name in DOCKER_HOST DOCKER_CONFIG DOCKER_CONTEXT TMPDIR; do
    if [ -n "${!name:-}" ]; then keep+=("$name=${!name}"); fi
  done
  env -i "${keep[@]}" "${COMPOSE[@]}" --env-file "$WORK/env" -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"
}

containers() { compose ps -q "$1"; }  # every container of a service (scaled: several)
container() { containers "$1" | head -n 1; }
replicas() {  # how many containers a service runs in this test
  case "$1" in gateway) echo "$GATEWAYS" ;; rasa) echo "$RASA_WORKERS" ;; *) echo 1 ;; esac
}

recipe_hash() { cat "$@" | sha256sum | cut -c1-16; }

standin_current() {  # standin_current IMAGE HASH: the stand-in exists and was built from HASH
  [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "township.standin.recipe"}}' "$1" 2>/dev/null)" = "$2" ]
}

# --- stand-in base images (only where no registry is reachable) ------------------------------

build_debian_base() {  # Debian minbase, trusting what the host trusts (its local CAs: proxies)
  local image="$STANDIN/debian:$SUITE" rootfs="$WORK/rootfs" hash
  hash="$({ echo "$SUITE $MIRROR"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } |
    sha256sum | cut -c1-16)"
  if standin_current "$image" "$hash"; then return 0; fi
  command -v debootstrap >/dev/null || die "the stand-ins need debootstrap (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root (or build with TEST_DEPLOY_STANDINS=0 and a registry)"
  log "stand-in $image: debootstrap --variant=minbase $SUITE ($MIRROR) ..."
  local start=$SECONDS
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL township.standin.recipe=$hash" --change 'CMD ["bash"]' - "$image" >/dev/null
  rm -rf "$rootfs"
  FIGURES+=("stand-in $image (debootstrap + docker import): $((SECONDS - start)) s")
}

build_standin() {  # build_standin IMAGE DOCKERFILE CONTEXT [HASH-EXTRA]
  local image="$1" dockerfile="$2" context="$3" hash
  hash="$(recipe_hash "$dockerfile" deploy/standin/*.sh <(echo "${4:-}") \
    <("$DOCKER" image inspect -f '{{.Id}}' "$STANDIN/debian:$SUITE"))"
  if standin_current "$image" "$hash"; then log "stand-in $image: cached"; return 0; fi
  log "stand-in $image: building from Debian's packages ..."
  local start=$SECONDS
  "$DOCKER" build -f "$dockerfile" --build-arg "BASE_IMAGE=$STANDIN/debian:$SUITE" \
    --label "township.standin.recipe=$hash" -t "$image" "$context" >"$WORK/standin.log" 2>&1 ||
    { tail -n 30 "$WORK/standin.log"; die "building the stand-in $image failed"; }
  FIGURES+=("stand-in $image built: $((SECONDS - start)) s")
}

python310_context() {  # the CPython 3.10 of .venv-rasa as a build context (→ PY310_CONTEXT, PY310_ID)
  local prefix context="$WORK/python310"
  prefix="$("$RASA_VENV/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" ||
    prefix="$(dirname "$(dirname "$(find_python310)")")" ||
    die "no Python 3.10 for the Rasa stand-in: run 'make setup' (it needs one too)"
  [ -x "$prefix/bin/python3.10" ] || die "no $prefix/bin/python3.10 (Rasa's Python 3.10)"
  mkdir -p "$context/python"
  tar -C "$prefix" --exclude='lib/python3.10/test' --exclude='lib/python3.10/idlelib' \
    --exclude='lib/python3.10/tkinter' --exclude='lib/python3.10/turtledemo' \
    --exclude='lib/python3.10/lib2to3/tests' --exclude='lib/python3.10/site-packages/*' \
    --exclude='lib/python3.10/lib-dynload/_tkinter*' \
    --exclude='*.a' --exclude='*.pyc' -cf - bin/python3.10 lib include | tar -C "$context/python" -xf -
  PY310_ID="$prefix $("$prefix/bin/python3.10" -VV | tr '\n' ' ')"
  PY310_CONTEXT="$context"
}

REGISTRY_DOWN=0
official_or_standin() {  # official_or_standin VARIABLE OFFICIAL STANDIN: sets VARIABLE to the image
  local image="$3"
  if [ "$STANDINS" != 1 ] && "$DOCKER" image inspect "$2" >/dev/null 2>&1; then
    image="$2"
  elif [ "$STANDINS" = auto ] && [ "$REGISTRY_DOWN" = 0 ] && timeout 120 "$DOCKER" pull -q "$2" >/dev/null 2>&1; then
    image="$2"
  elif [ "$STANDINS" = 0 ]; then
    die "$2 is neither here nor pullable, and TEST_DEPLOY_STANDINS=0"
  elif [ "$STANDINS" = auto ] && [ "$REGISTRY_DOWN" = 0 ]; then
    REGISTRY_DOWN=1
    log "no image registry answers ($2 cannot be pulled): local stand-ins from Debian's packages"
  fi
  printf -v "$1" '%s' "$image"
}

base_images() {
  official_or_standin APP_PYTHON_IMAGE python:3.11-slim "$STANDIN/python:3.11-slim"
  official_or_standin RASA_PYTHON_IMAGE python:3.10-slim "$STANDIN/python:3.10-slim"
  official_or_standin POSTGRES_IMAGE postgres:16 "$STANDIN/postgres:15"
  official_or_standin REDIS_IMAGE redis:7 "$STANDIN/redis:7"
  official_or_standin NGINX_IMAGE nginx:1.27 "$STANDIN/nginx:1.22"
  local all="$APP_PYTHON_IMAGE $RASA_PYTHON_IMAGE $POSTGRES_IMAGE $REDIS_IMAGE $NGINX_IMAGE"
  local start=$SECONDS
  [[ "$all" == *"$STANDIN/"* ]] || return 0
  build_debian_base
  [[ "$APP_PYTHON_IMAGE" != "$STANDIN/"* ]] ||
    build_standin "$APP_PYTHON_IMAGE" deploy/standin/Dockerfile.python311 deploy/standin
  if [[ "$RASA_PYTHON_IMAGE" == "$STANDIN/"* ]]; then
    python310_context
    build_standin "$RASA_PYTHON_IMAGE" deploy/standin/Dockerfile.python310 "$PY310_CONTEXT" "$PY310_ID"
  fi
  [[ "$POSTGRES_IMAGE" != "$STANDIN/"* ]] ||
    build_standin "$POSTGRES_IMAGE" deploy/standin/Dockerfile.postgres deploy/standin
  [[ "$REDIS_IMAGE" != "$STANDIN/"* ]] ||
    build_standin "$REDIS_IMAGE" deploy/standin/Dockerfile.redis deploy/standin
  [[ "$NGINX_IMAGE" != "$STANDIN/"* ]] ||
    build_standin "$NGINX_IMAGE" deploy/standin/Dockerfile.nginx deploy/standin
  FIGURES+=("base images ready (stand-ins built or cached): $((SECONDS - start)) s")
}

# --- the stack ----------------------------------------------------------------------------------

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }

write_env() {  # this run's .env: fresh secrets, the proxy on loopback only
  GATEWAY_PORT="$(free_port)"
  GATEWAY_API_TOKEN="$(secret)"
  (
    umask 077
    cat >"$WORK/env" <<EOF
COMPOSE_PROJECT_NAME=$PROJECT
POSTGRES_PASSWORD=$(secret)
RASA_TOKEN=$(secret)
ACTION_SERVER_TOKEN=$(secret)
GATEWAY_API_TOKEN=$GATEWAY_API_TOKEN
DEMO_AGENT_PASSWORD=$(secret)
GATEWAY_BIND_ADDRESS=127.0.0.1
GATEWAY_PORT=$GATEWAY_PORT
IMAGE_TAG=$TAG
RASA_MODEL_SOURCE=$MODEL_SOURCE
APP_PYTHON_IMAGE=$APP_PYTHON_IMAGE
RASA_PYTHON_IMAGE=$RASA_PYTHON_IMAGE
POSTGRES_IMAGE=$POSTGRES_IMAGE
REDIS_IMAGE=$REDIS_IMAGE
NGINX_IMAGE=$NGINX_IMAGE
EOF
    if [ -n "${PIP_INDEX_URL:-}" ]; then echo "PIP_INDEX_URL=$PIP_INDEX_URL" >>"$WORK/env"; fi
  )
}

build_images() {
  local start images=("township-power-assistant-app:$TAG" "township-power-assistant-rasa:$TAG") old id
  old="$("$DOCKER" image inspect -f '{{.Id}}' "${images[@]}" 2>/dev/null || true)"
  if [ "${TEST_DEPLOY_FRESH:-0}" = 1 ]; then
    log "fresh: removing the project's images and Docker's build cache"
    "$DOCKER" image rm -f "${images[@]}" >/dev/null 2>&1 || true
    "$DOCKER" builder prune -af >/dev/null
  fi
  for service in gateway rasa; do
    if [ "$service" = rasa ] && [ "$MODEL_SOURCE" = copy ]; then
      "$ROOT/scripts/train.sh"  # trains only when the model is missing or its inputs changed
    fi
    start=$SECONDS
    log "building the $service image ..."
    compose build "$service" >"$WORK/build-$service.log" 2>&1 ||
      { tail -n 40 "$WORK/build-$service.log"; die "building the $service image failed"; }
    FIGURES+=("build of the ${service/gateway/app} image: $((SECONDS - start)) s")
  done
  for id in $old; do  # the previous run's images, if these builds replaced them (~3.5 GB)
    if [ -z "$("$DOCKER" image inspect -f '{{join .RepoTags ""}}' "$id" 2>/dev/null || true)" ]; then
      "$DOCKER" image rm "$id" >/dev/null 2>&1 || true
    fi
  done
}

service_state() {  # running/healthy, exited/0, ... of each of a service's containers, one a line
  local ids
  ids="$(containers "$1")"
  [ -n "$ids" ] || { echo missing; return; }
  # shellcheck disable=SC2086  # one argument per container id
  "$DOCKER" inspect -f '{{.State.Status}}/{{if eq .State.Status "exited"}}{{.State.ExitCode}}{{else if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' $ids
}

wait_healthy() {  # every container of the long-running services healthy (as many as scaled)
  # and the migrate job done, or fail
  local start=$SECONDS states service state ready last=0 found
  while :; do
    states="" ready=1
    for service in "${SERVICES[@]}"; do
      found="$(service_state "$service")"
      states+=" $service=$(paste -sd, - <<<"$found")"
      if [ "$found" != missing ] && [ "$(wc -l <<<"$found")" -lt "$(replicas "$service")" ]; then
        ready=0
      fi
      while read -r state; do
        case "$service:$state" in
          migrate:exited/0 | *:running/healthy) ;;
          migrate:exited/* | *:*unhealthy | *:exited/* | *:dead/*) die "$service is $state" ;;
          *) ready=0 ;;
        esac
      done <<<"$found"
    done
    if [ "$ready" = 1 ]; then log "all healthy after $((SECONDS - start)) s:$states"; break; fi
    if [ $((SECONDS - start)) -ge "$TIMEOUT" ]; then die "not healthy after $TIMEOUT s:$states"; fi
    if [ $((SECONDS - last)) -ge 30 ]; then log "waiting ($((SECONDS - start)) s):$states"; last=$SECONDS; fi
    sleep 3
  done
  FIGURES+=("${1:-start}: every service healthy after $((SECONDS - start)) s")
}

hang_and_recover() {  # a service that hangs (its process stopped: alive, answering nothing) is
  # marked unhealthy by its health check and restarted by deploy/restart-unhealthy.sh
  local service="$1" id pid start=$SECONDS state out
  id="$(container "$service")"
  pid="$("$DOCKER" inspect -f '{{.State.Pid}}' "$id")"
  log "hanging $service (SIGSTOP to its process $pid): waiting for Docker to find it unhealthy"
  kill -STOP "$pid"
  while state="$(service_state "$service")"; [ "$state" != running/unhealthy ]; do
    [ $((SECONDS - start)) -lt "$TIMEOUT" ] || die "$service not found unhealthy after $TIMEOUT s ($state)"
    sleep 3
  done
  out="$(COMPOSE_PROJECT_NAME="$PROJECT" DOCKER="$DOCKER" sh "$ROOT/deploy/restart-unhealthy.sh")" ||
    die "deploy/restart-unhealthy.sh failed: $out"
  log "$out"
  case "$out" in *"restarted $service "*) ;; *) die "restart-unhealthy.sh did not restart $service" ;; esac
  FIGURES+=("$service hung: unhealthy after $((SECONDS - start)) s, restarted by deploy/restart-unhealthy.sh")
  wait_healthy "after $service hung and was restarted"
}

# --- the proxy and the gateway replicas -----------------------------------------------------------

FORGED=203.0.113.77  # an X-Forwarded-For a client makes up (TEST-NET-3: nobody's address)

replicas_answer() {  # every gateway replica answers through the proxy (counted in their access
  # logs by a user agent of this check), and the gateway sees the client's address the proxy
  # saw: neither the proxy's own address nor the X-Forwarded-For the client sent
  local agent i id count counts=() addresses address proxy_ips
  # letters only: the gateway's logs mask digit runs that look like phone or account numbers
  agent="test-deploy-${1// /-}-$(tr 0-9 a-j <<<"$RANDOM$RANDOM")"
  for ((i = 0; i < 8 * GATEWAYS; i++)); do  # /health: 200, or 503 while Rasa is away
    curl -sS -o /dev/null -A "$agent" -H "X-Forwarded-For: $FORGED" \
      "http://127.0.0.1:$GATEWAY_PORT/health" || die "the proxy did not answer /health"
  done
  for id in $(containers gateway); do
    count="$("$DOCKER" logs "$id" 2>&1 | grep -cF "\"$agent\"" || true)"
    counts+=("${id:0:12}: $count")
    [ "$count" -gt 0 ] || die "gateway replica $id got none of $((8 * GATEWAYS)) requests through the proxy"
  done
  addresses="$(for id in $(containers gateway); do "$DOCKER" logs "$id" 2>&1; done |
    grep -F "\"$agent\"" | sed -n 's/.*aiohttp\.access: \([^ ]*\) .*/\1/p' | sort -u | paste -sd' ' -)"
  proxy_ips="$("$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$(container proxy)")"
  [ -n "$addresses" ] || die "no client address in the gateway's access log"
  for address in $addresses; do
    [ "$address" != "$FORGED" ] || die "the gateway believed an X-Forwarded-For the client made up"
    [[ " $proxy_ips " != *" $address "* ]] || die "the gateway sees the proxy ($address) as the client"
  done
  log "$1: every gateway replica answered through the proxy (requests: ${counts[*]});" \
    "the client's address as the gateway sees it: $addresses"
  FIGURES+=("$1: requests through the proxy per gateway replica: ${counts[*]}")
}

websocket_through_proxy() {  # the web chat's websocket opens through the proxy (Upgrade passed
  # on, and the Host with its port: the gateway refuses another origin than its own)
  local url="http://127.0.0.1:$GATEWAY_PORT/ws" own foreign
  upgrade() {  # the status of a websocket handshake from origin $1 (curl gives up after 5 s)
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' \
      -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
      -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H "Origin: $1" "$url" || true
  }
  own="$(upgrade "http://127.0.0.1:$GATEWAY_PORT")"
  foreign="$(upgrade "http://attacker.example")"
  [ "$own" = 101 ] || die "the web chat's websocket did not open through the proxy (HTTP $own)"
  [ "$foreign" = 403 ] || die "a websocket from a foreign origin got HTTP $foreign through the proxy, not 403"
  log "the web chat's websocket opens through the proxy (101), not from a foreign origin (403)"
}

write_gateway_stopper() {  # $WORK/stop-gateway, deploy_chat's --stop-gateway
  cat >"$WORK/stop-gateway" <<'EOF'
# stop-gateway DOCKER RECORD ID...: stops the gateway replica that answered the last API message
# (the latest "POST /api/v1/messages" of the replicas' access logs) and writes its id to RECORD
set -eu
docker=$1 record=$2
shift 2
latest=$(for id in "$@"; do
  "$docker" logs "$id" 2>&1 | grep -F '"POST /api/v1/messages ' | tail -n 1 | cut -d' ' -f1,2 |
    sed "s/\$/ $id/"
done | sort | tail -n 1)
[ -n "$latest" ] || { echo "no gateway replica logged an API message" >&2; exit 1; }
id=${latest##* }
echo "$id" >"$record"
echo "  stopping the gateway replica ${id:0:12} (it answered at ${latest% *})" >&2
exec "$docker" stop "$id"
EOF
}

stop_a_gateway_in_a_report() {  # a fault report whose replica is stopped, then started again
  local ids stopped start
  ids="$(containers gateway | paste -sd' ' -)"
  write_gateway_stopper
  log "a fault report through the proxy, its gateway replica stopped in the middle"
  start=$SECONDS
  GATEWAY_API_TOKEN="$GATEWAY_API_TOKEN" "$PY" -m scripts.deploy_chat --url "http://127.0.0.1:$GATEWAY_PORT" \
    --stop-gateway "bash $WORK/stop-gateway $DOCKER $WORK/stopped-gateway $ids" ||
    die "the fault report across a gateway replica's stop failed"
  FIGURES+=("fault report with its gateway replica stopped in the middle: $((SECONDS - start)) s")
  stopped="$(cat "$WORK/stopped-gateway")"
  log "starting the stopped gateway replica ${stopped:0:12} again"
  "$DOCKER" start "$stopped" >/dev/null
  wait_healthy "after a gateway replica's stop and start"
  replicas_answer "after the replica's start"
}

# --- figures and teardown -----------------------------------------------------------------------

report_figures() {
  local image service id
  FIGURES+=("image sizes (uncompressed, as \`docker image ls\`):")
  for image in "township-power-assistant-app:$TAG" "township-power-assistant-rasa:$TAG" \
    "$APP_PYTHON_IMAGE" "$RASA_PYTHON_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$NGINX_IMAGE"; do
    FIGURES+=("  $image: $("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')")
  done
  FIGURES+=("memory of the running stack (docker stats, after the conversations):")
  local ids=() usage total
  for service in postgres redis actions rasa gateway proxy; do
    mapfile -t -O "${#ids[@]}" ids < <(containers "$service")
  done
  usage="$("$DOCKER" stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.CPUPerc}}' "${ids[@]}")"
  while read -r name used _ _ cpu; do
    FIGURES+=("  ${name#"${PROJECT}"[_-]}: $used (CPU $cpu)")
  done <<<"$usage"
  total="$(awk '{v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[A-Za-z]+$/, "", v)
    s += v * ((u == "GiB") ? 1024 : (u == "KiB") ? 1 / 1024 : (u == "B") ? 1 / 1048576 : 1)}
    END {printf "%.0f MiB", s}' <<<"$usage")"
  FIGURES+=("  together: $total")
}

check_logs() {  # every service's log kept (reports/deploy/services.log), and none with a traceback
  compose logs --no-color >"$REPORT/services.log" 2>&1
  if grep -q 'Traceback' "$REPORT/services.log"; then
    grep -n -B2 -A12 'Traceback' "$REPORT/services.log" | head -n 60 || true
    die "a service logged a traceback (above; all logs: reports/deploy/services.log)"
  fi
}

teardown() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$STARTED" = 1 ]; then
    if [ "$status" != 0 ]; then
      log "failed: the services' last log lines (all: reports/deploy/services.log)"
      compose ps || true
      compose logs --no-color >"$REPORT/services.log" 2>&1 || true
      for service in "${SERVICES[@]}"; do compose logs --no-color --tail 25 "$service" 2>&1 || true; done
    fi
    log "tearing down $PROJECT (containers, networks, volume)"
    compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || log "compose down failed: see 'docker ps -a'"
  fi
  rm -rf "$WORK"
  if [ "$status" = 0 ]; then
    log "test-deploy passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
  else
    log "test-deploy FAILED (exit $status); log: reports/deploy/test-deploy.log"
  fi
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- the run ------------------------------------------------------------------------------------

FIGURES=()
pick_docker
base_images
log "base images: app $APP_PYTHON_IMAGE, rasa $RASA_PYTHON_IMAGE, $POSTGRES_IMAGE, $REDIS_IMAGE, $NGINX_IMAGE"
write_env
build_images
log "starting the stack as project $PROJECT ($GATEWAYS gateway replicas, $RASA_WORKERS Rasa workers;" \
  "the proxy on 127.0.0.1:$GATEWAY_PORT)"
STARTED=1
compose up -d --no-build --scale "gateway=$GATEWAYS" --scale "rasa=$RASA_WORKERS" >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log"; die "compose up failed"; }
wait_healthy start
replicas_answer "at start"
websocket_through_proxy
# the replica's stop first: after Rasa's restart a replica answers '系统繁忙' until its retry
# worker has found Rasa back (up to RASA_RETRY_MAX_BACKOFF, 60 s; docs/deployment.md)
if [ "$GATEWAYS" -gt 1 ]; then
  stop_a_gateway_in_a_report
else
  log "one gateway replica (TEST_DEPLOY_GATEWAYS=1): no replica stopped in a report"
fi
log "conversations through the proxy and the gateway's JSON API"
rasa_ids="$(containers rasa | paste -sd' ' -)"
GATEWAY_API_TOKEN="$GATEWAY_API_TOKEN" "$PY" -m scripts.deploy_chat --url "http://127.0.0.1:$GATEWAY_PORT" \
  --stop-rasa "$DOCKER stop $rasa_ids" --start-rasa "$DOCKER start $rasa_ids" ||
  die "the conversations failed"
wait_healthy "after Rasa's restart"
hang_and_recover actions
for service in postgres redis actions gateway proxy; do
  for id in $(containers "$service"); do
    restarts="$("$DOCKER" inspect -f '{{.RestartCount}}' "$id")"
    [ "$restarts" = 0 ] || die "$service (${id:0:12}) restarted $restarts times during the run"
  done
done
check_logs
report_figures
log "figures of this run ($(date -u +'%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')):"
printf '  %s\n' "${FIGURES[@]}" | tee "$REPORT/figures.txt"
