#!/usr/bin/env bash
# Held-out NLU evaluation: reports/nlu/{intent_report.json, intent_confusion_matrix.png, ...}
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/train.sh"
out="$ROOT/reports/nlu"
rm -rf "$out" && mkdir -p "$out"
log "evaluating on tests/nlu/holdout.yml (never trained on) ..."
"$RASA" test nlu --nlu "$ROOT/tests/nlu/holdout.yml" --model "$MODEL" --out "$out" --quiet >"$out/rasa.log" 2>&1 \
  || { tail -30 "$out/rasa.log" >&2; die "rasa test nlu failed"; }
"$PY" -m nlu.report "$out/intent_report.json" --min-macro-f1 "${MIN_MACRO_F1:-0.92}" --out-md "$out/summary.md"
log "confusion matrix: $out/intent_confusion_matrix.png"
