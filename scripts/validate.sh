#!/usr/bin/env bash
# rasa data validate, failing on real problems. Rasa also warns about every response that only
# custom actions use ("not used in any story or rule"); those warnings are expected here.
. "$(dirname "$0")/lib.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
"$RASA" data validate --domain "$ROOT/domain.yml" --data "$ROOT/data" --config "$ROOT/config.yml" >"$out" 2>&1 || status=$?
problems="$(grep -E "UserWarning|ERROR" "$out" | grep -v -E "is not used in any story or rule" || true)"
if [ "$status" -ne 0 ] || [ -n "$problems" ]; then
  grep -v -E "DeprecationWarning|declare_namespace|pkg_resources|^\s*$" "$out" | tail -40 >&2
  die "rasa data validate found problems"
fi
log "training data and domain are valid ($(grep -c 'is not used in any story' "$out" || true) responses used only by custom actions)"
