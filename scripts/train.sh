#!/usr/bin/env bash
# Train the model only when its inputs changed since the last training (or FORCE=1).
# Inputs: config.yml, domain.yml, data/, nlu/dict (Jieba dictionary). The model is written to
# models/current.tar.gz with the inputs' hash beside it.
# A model trained from the same inputs is also kept in a cache outside the checkout
# (MODEL_CACHE, default ~/.cache/township-assistant/models; the newest 3): a fresh clone of the
# same commit on this machine (CI's) restores it instead of training again. MODEL_CACHE=off
# switches the cache off; FORCE=1 trains anyway.
. "$(dirname "$0")/lib.sh"

SOURCE="$MODEL_DIR/current.source"
# one training at a time: a second `make train` (or a test fixture calling this script) waits for
# the first, then finds the model up to date instead of training the same model beside it
mkdir -p "$MODEL_DIR"
exec 9>"$MODEL_DIR/.train.lock"
flock 9
if [ "${FORCE:-0}" != "1" ] && [ -f "$MODEL" ] && [ -f "$SOURCE" ]; then
  # operators deployed (or rolled back to) this model from the registry, behind the regression
  # guard: a training here would replace it without one
  log "the live model was deployed from the model registry ($(cut -d' ' -f2 "$SOURCE")): not retrained here;" \
    "operators retrain in the console (/console/nlu) or with 'python -m nlu train' (FORCE=1 trains anyway)"
  exit 0
fi
inputs_hash="$(hash_files config.yml domain.yml data nlu/dict requirements/rasa.in)"
cache="${MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/township-assistant/models}"
if [ "${FORCE:-0}" != "1" ] && [ -f "$MODEL" ] && [ "$(cat "$FINGERPRINT" 2>/dev/null)" = "$inputs_hash" ]; then
  log "model is up to date ($MODEL)"
  exit 0
fi
mkdir -p "$MODEL_DIR"
install_candidate() {  # models/candidate.tar.gz becomes the live model of these inputs
  mv -f "$MODEL_DIR/candidate.tar.gz" "$MODEL"
  rm -f "$SOURCE"
  echo "$inputs_hash" > "$FINGERPRINT"
}
if [ "${FORCE:-0}" != "1" ] && [ "$cache" != "off" ] && [ -f "$cache/$inputs_hash.tar.gz" ]; then
  cp "$cache/$inputs_hash.tar.gz" "$MODEL_DIR/candidate.tar.gz"
  install_candidate
  log "model restored from the cache of models trained from the same inputs ($cache)"
  exit 0
fi
log "training (inputs changed) ..."
start=$(date +%s)
"$RASA" train --config "$ROOT/config.yml" --domain "$ROOT/domain.yml" --data "$ROOT/data" \
  --out "$MODEL_DIR" --fixed-model-name candidate --augmentation 0 --quiet
install_candidate
if [ "$cache" != "off" ] && mkdir -p "$cache" 2>/dev/null; then
  cp "$MODEL" "$cache/$inputs_hash.tar.tmp" && mv -f "$cache/$inputs_hash.tar.tmp" "$cache/$inputs_hash.tar.gz"
  ls -t "$cache"/*.tar.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
fi
log "trained in $(( $(date +%s) - start )) s → $MODEL"
