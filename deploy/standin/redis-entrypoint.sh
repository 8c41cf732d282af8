#!/bin/sh
# Entrypoint of the Redis stand-in (deploy/standin/Dockerfile.redis): `redis-server ARGS` runs
# as the redis user with protected mode off (the official image's default: only the compose
# network reaches it) and every interface bound; ARGS come after, so they win.
set -eu
if [ "${1:-}" != redis-server ]; then exec "$@"; fi
shift
exec setpriv --reuid=redis --regid=redis --init-groups \
  redis-server --protected-mode no --bind '* -::*' "$@"
