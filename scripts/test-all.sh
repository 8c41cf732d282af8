#!/usr/bin/env bash
# `make test`: everything CI runs. Three lanes share the machine so the suite finishes sooner:
#   model lane      (background): rasa data validate → train (if inputs changed) → test stories
#                                 → eval; then the end-to-end tests and the fault suite
#                                 (tests/faults), which need that model
#   retraining lane (background): the operators' retraining loop end to end (it trains its own
#                                 small models and runs its own servers)
#   code lane       (foreground): lint, every pytest test that needs no trained model
# Any failure fails the run; the background lanes' logs are in reports/ and shown at the end.
. "$(dirname "$0")/lib.sh"

"$ROOT/scripts/setup.sh"
mkdir -p "$ROOT/reports"
lane_log="$ROOT/reports/model-lane.log"
retraining_log="$ROOT/reports/retraining.log"
(
  set -e
  "$ROOT/scripts/validate.sh"
  "$ROOT/scripts/train.sh"
  "$ROOT/scripts/test-stories.sh"
  "$ROOT/scripts/eval.sh"
) >"$lane_log" 2>&1 &
lane=$!
(cd "$ROOT" && "$PY" -m pytest -q -p no:cacheprovider -m retraining --durations=5) >"$retraining_log" 2>&1 &
retraining=$!
# never leave a lane running behind an interrupted or failed run
trap 'kill "$lane" "$retraining" 2>/dev/null || true' EXIT

code=0
log "lint ..."
(cd "$ROOT" && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy) || code=1
# the tests that need no model wait mostly on subprocesses, servers and the browser: spread over
# TEST_WORKERS processes (pytest-xdist; a module's tests stay in one process, its fixtures shared)
workers="${TEST_WORKERS:-3}"
log "tests that need no trained model, in $workers processes (the retraining loop runs beside them) ..."
(cd "$ROOT" && "$PY" -m pytest -q -m "not e2e" -n "$workers" --dist loadscope --durations=10) || code=1

log "waiting for the model lane (validate, train, test stories, eval; log: reports/model-lane.log) ..."
if wait "$lane"; then
  grep -E "^\S*\[(validate|train|test-stories|eval)[] ]|macro-F1|^OK" "$lane_log" >&2 || true
  log "end-to-end tests (trained model, real servers) ..."
  (cd "$ROOT" && "$PY" -m pytest -q -m "e2e and not retraining and not faults" --durations=10) || code=1
  log "the fault suite (two Rasa workers on PostgreSQL and Redis; servers killed) ..."
  (cd "$ROOT" && "$PY" -m pytest -q -m faults --durations=5) || code=1
else
  tail -60 "$lane_log" >&2
  log "the model lane failed: end-to-end tests not run"
  code=1
fi

log "waiting for the operators' retraining loop (log: reports/retraining.log) ..."
if wait "$retraining"; then
  tail -8 "$retraining_log" >&2
else
  cat "$retraining_log" >&2
  log "the operators' retraining loop failed"
  code=1
fi
trap - EXIT
[ "$code" -eq 0 ] || die "the test suite failed"
log "all green"
