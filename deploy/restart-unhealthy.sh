#!/bin/sh
# Restart the containers of this Compose project that Docker reports unhealthy.
#
# Docker restarts a container whose process exits (restart: unless-stopped), not one that is
# still running but no longer answers its health check (a deadlock, a busy loop): it only marks
# it "unhealthy". Run this every minute from the host's cron or a systemd timer
# (docs/deployment.md, "A service that hangs"):
#
#   * * * * * cd /srv/township-power-assistant && sh deploy/restart-unhealthy.sh >>/var/log/assistant-restarts.log 2>&1
#
# COMPOSE_PROJECT_NAME (from .env when run from the project folder, else the environment) names
# the project; DOCKER the client [docker]. Prints one line per restart; exit 1 if one failed.
set -eu
project="${COMPOSE_PROJECT_NAME:-}"
if [ -z "$project" ] && [ -f .env ]; then
  project="$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' .env | tail -n 1)"
fi
project="${project:-township-power-assistant}"
docker="${DOCKER:-docker}"
status=0
for id in $("$docker" ps -q --filter health=unhealthy --filter "label=com.docker.compose.project=$project"); do
  service="$("$docker" inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")"
  if "$docker" restart --time 20 "$id" >/dev/null; then
    echo "$(date -u +'%Y-%m-%dT%H:%M:%SZ') restarted $service ($id): its health check failed"
  else
    echo "$(date -u +'%Y-%m-%dT%H:%M:%SZ') could not restart $service ($id)" >&2
    status=1
  fi
done
exit "$status"
