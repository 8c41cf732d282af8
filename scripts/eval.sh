#!/usr/bin/env bash
# NLU evaluation on two sets the model never trained on:
#   tests/nlu/holdout.yml  the regression guard (macro-F1 >= MIN_MACRO_F1, default 0.92)
#   tests/nlu/corpus/      the independent corpus, written by authors who never saw data/
#                          (accuracy >= MIN_CORPUS_ACCURACY, default 0.93, the gate issue 13 asks;
#                          its target is 0.95: reports/nlu/corpus/summary.md, BENCHMARKS.md)
# Each folder gets Rasa's intent report, errors and confusion matrix picture.
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/train.sh"
out="$ROOT/reports/nlu"
rm -rf "$out" && mkdir -p "$out/corpus"
log "evaluating on tests/nlu/holdout.yml (never trained on) ..."
"$RASA" test nlu --nlu "$ROOT/tests/nlu/holdout.yml" --model "$MODEL" --out "$out" --quiet >"$out/rasa.log" 2>&1 \
  || { tail -30 "$out/rasa.log" >&2; die "rasa test nlu failed"; }
"$PY" -m nlu.report "$out/intent_report.json" --min-macro-f1 "${MIN_MACRO_F1:-0.92}" --out-md "$out/summary.md"
log "evaluating on the independent corpus tests/nlu/corpus/ ..."
"$RASA" test nlu --nlu "$ROOT/tests/nlu/corpus" --model "$MODEL" --out "$out/corpus" --successes --quiet \
  >"$out/corpus/rasa.log" 2>&1 || { tail -30 "$out/corpus/rasa.log" >&2; die "rasa test nlu failed (corpus)"; }
"$PY" -m nlu.corpus_report "$out/corpus" --corpus "$ROOT/tests/nlu/corpus" --config "$ROOT/config.yml" \
  --min-accuracy "${MIN_CORPUS_ACCURACY:-0.93}" --out-md "$out/corpus/summary.md"
log "confusion matrices: $out/intent_confusion_matrix.png, $out/corpus/intent_confusion_matrix.png"
