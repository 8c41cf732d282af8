#!/bin/sh
# Start of docker-compose.yml's `proxy` service: deploy/proxy/nginx.conf.template with this
# container's settings filled in, checked, then nginx in the foreground. Plain sh and sed: it
# runs in the official nginx image and in the Debian stand-in (deploy/standin/Dockerfile.nginx).
#
#   GATEWAY_PORT            where this proxy listens and every gateway replica listens [8080]
#   GATEWAY_MAX_BODY_BYTES  the gateway's largest request body; the proxy allows at least that
#                           and at least 1 MiB (nginx's default) [65536, the gateway's default]
#   TRUSTED_PROXIES         proxies in front of this one (addresses or networks, separated by
#                           commas or spaces) whose X-Forwarded-For names the client [none]
#   PROXY_CONF              where the configuration is written [/etc/nginx/township-proxy.conf]
set -eu
here=$(dirname "$0")
port=${GATEWAY_PORT:-8080}
body=${GATEWAY_MAX_BODY_BYTES:-65536}
case "$port$body" in
  *[!0-9]*) echo "proxy: GATEWAY_PORT and GATEWAY_MAX_BODY_BYTES must be whole numbers" >&2; exit 3 ;;
esac
if [ "$body" -lt 1048576 ]; then body=1048576; fi

# the unprivileged user nginx's workers run as: the official image's, or Debian's
user=nobody
for candidate in nginx www-data; do
  if id -u "$candidate" >/dev/null 2>&1; then user=$candidate; break; fi
done

real_ip=$(mktemp)
for proxy in $(echo "${TRUSTED_PROXIES:-}" | tr ',' ' '); do
  case "$proxy" in
    *[!0-9A-Fa-f.:/]*) echo "proxy: TRUSTED_PROXIES: $proxy is not an address or network" >&2; exit 3 ;;
  esac
  echo "    set_real_ip_from $proxy;" >>"$real_ip"
done
if [ -s "$real_ip" ]; then
  printf '    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n' >>"$real_ip"
fi

conf=${PROXY_CONF:-/etc/nginx/township-proxy.conf}
sed -e "s/@PORT@/$port/g" -e "s/@MAX_BODY@/$body/g" -e "s/@USER@/$user/g" \
  -e "/^@REAL_IP@\$/{r $real_ip" -e "d}" "$here/nginx.conf.template" >"$conf"
rm -f "$real_ip"
nginx -t -q -c "$conf"
exec nginx -c "$conf" -g 'daemon off;'
