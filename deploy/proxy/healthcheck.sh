#!/usr/bin/env bash
# Health check of docker-compose.yml's `proxy` service: nginx answers its own /proxy-health on
# GATEWAY_PORT (the replicas behind it have health checks of their own). bash's /dev/tcp, as
# neither the official nginx image nor the stand-in is sure to have curl.
set -eu
exec 3<>"/dev/tcp/127.0.0.1/${GATEWAY_PORT:-8080}"
printf 'GET /proxy-health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r status <&3
[[ "$status" == *" 200 "* ]]
