#!/usr/bin/env bash
# Rasa test stories (tests/test_stories.yml): every intent's happy path and the unhappy paths.
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/train.sh"
out="$ROOT/reports/core"
rm -rf "$out" && mkdir -p "$out"
"$RASA" test core --stories "$ROOT/tests/test_stories.yml" --model "$MODEL" --out "$out" \
  --fail-on-prediction-errors >"$out/rasa.log" 2>&1 || {
  grep -v -E "DeprecationWarning|declare_namespace" "$out/rasa.log" | tail -30 >&2
  [ -f "$out/failed_test_stories.yml" ] && cat "$out/failed_test_stories.yml" >&2
  die "test stories failed (reports/core/)"
}
log "test stories passed: $(grep -c '  - story:' "$ROOT/tests/test_stories.yml") stories"
