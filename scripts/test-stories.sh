#!/usr/bin/env bash
# Rasa test stories against the trained model: tests/conversations/ (every intent's happy path in
# single_turn.yml, and multi-turn conversations: variants, interruptions mid-form, cancelling,
# corrections, context carried over, button presses).
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/train.sh"
out="$ROOT/reports/core"
rm -rf "$out" && mkdir -p "$out"
"$RASA" test core --stories "$ROOT/tests/conversations" --model "$MODEL" --out "$out" \
  --fail-on-prediction-errors >"$out/rasa.log" 2>&1 || {
  grep -v -E "DeprecationWarning|declare_namespace" "$out/rasa.log" | tail -30 >&2
  [ -f "$out/failed_test_stories.yml" ] && cat "$out/failed_test_stories.yml" >&2
  die "test stories failed (reports/core/)"
}
log "test stories passed: $(cat "$ROOT"/tests/conversations/*.yml | grep -c '  - story:') stories"
