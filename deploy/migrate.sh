#!/bin/sh
# The one-shot `migrate` service of docker-compose.yml; the other app services start after it
# succeeded. Safe to run on every `docker compose up`:
#   1. the schema to the latest revision        (python -m store migrate)
#   2. the service areas of conf/areas.yml      (python -m store sync-areas; areas are never deleted)
#   3. with SEED_DEMO_DATA=true (the default): the demo township, only into a database without
#      accounts (python -m store seed), and the console's demo staff (python -m store demo-users:
#      agent1, agent2, supervisor, operator: each its own password, printed once here, or all
#      $DEMO_AGENT_PASSWORD).
set -eu
python -m store migrate
python -m store sync-areas
case "${SEED_DEMO_DATA:-true}" in
  1 | true | yes | on)
    python -m store seed
    python -m store demo-users
    ;;
  0 | false | no | off) ;;
  *)
    echo "SEED_DEMO_DATA must be true or false, got '${SEED_DEMO_DATA}'" >&2
    exit 2
    ;;
esac
