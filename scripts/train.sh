#!/usr/bin/env bash
# Train the model only when its inputs changed since the last training (or FORCE=1).
# Inputs: config.yml, domain.yml, data/, nlu/dict (Jieba dictionary). The model is written to
# models/current.tar.gz with the inputs' hash beside it.
. "$(dirname "$0")/lib.sh"

inputs_hash="$(hash_files config.yml domain.yml data nlu/dict requirements/rasa.in)"
if [ "${FORCE:-0}" != "1" ] && [ -f "$MODEL" ] && [ "$(cat "$FINGERPRINT" 2>/dev/null)" = "$inputs_hash" ]; then
  log "model is up to date ($MODEL)"
  exit 0
fi
mkdir -p "$MODEL_DIR"
log "training (inputs changed) ..."
start=$(date +%s)
"$RASA" train --config "$ROOT/config.yml" --domain "$ROOT/domain.yml" --data "$ROOT/data" \
  --out "$MODEL_DIR" --fixed-model-name candidate --augmentation 0 --quiet
mv -f "$MODEL_DIR/candidate.tar.gz" "$MODEL"
echo "$inputs_hash" > "$FINGERPRINT"
log "trained in $(( $(date +%s) - start )) s → $MODEL"
