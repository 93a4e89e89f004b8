#!/usr/bin/env bash
# Run the embedded workbench: SQLite, a file-system Celery broker, no external service.
# Installs what is missing, migrates, creates demo users and songs, starts a Celery worker and the
# ASGI web server, and prints the URL. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export WORKBENCH_ENV=demo
export WORKBENCH_DATA_DIR=${WORKBENCH_DATA_DIR:-$PWD/var/demo}
# librosa's numba cache under the data dir (the seed and two workers analyse at once; a shared
# cache inside .venv was once corrupted by concurrent writers)
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$WORKBENCH_DATA_DIR/numba}
# The demo is self-contained even when the shell has real-deployment variables set.
unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND CHANNEL_LAYER_URL
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
PY=.venv/bin/python

$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0
# The console gets the demo's own progress; warnings, progress bars and training logs go to seed.log.
$PY manage.py seed_demo --log-file "$WORKBENCH_DATA_DIR/seed.log"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# Two workers: one for what people start from the pages, one for the start-up backlog that the seed
# queued on the background queue (the 21-minute suite's analysis, its generation, the GRPO run), so
# an upload's analysis or a watched generation never waits behind it (see workbench/celery.py).
.venv/bin/celery -A workbench --quiet worker -Q audio,gpu_inference,gpu_training --concurrency 1 \
  -n demo@%h --loglevel INFO --logfile "$WORKBENCH_DATA_DIR/celery.log" \
  2>> "$WORKBENCH_DATA_DIR/celery.log" &
pids+=($!)
.venv/bin/celery -A workbench --quiet worker -Q background --concurrency 1 \
  -n demo-background@%h --loglevel INFO --logfile "$WORKBENCH_DATA_DIR/celery-background.log" \
  2>> "$WORKBENCH_DATA_DIR/celery-background.log" &
pids+=($!)
.venv/bin/daphne -b "$HOST" -p "$PORT" workbench.asgi:application \
  >> "$WORKBENCH_DATA_DIR/web.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  if $PY -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/health/', timeout=1)" 2>/dev/null; then
    echo "Flamingo Workbench is running at http://$HOST:$PORT/  (logs in $WORKBENCH_DATA_DIR)"
    echo "Start-up work (the 21-minute suite's analysis, a GRPO run) goes on in the background;"
    echo "the home page shows what is left."
    break
  fi
  sleep 0.5
done
wait -n "${pids[@]}"
echo "A workbench process stopped (see the logs in $WORKBENCH_DATA_DIR); shutting down." >&2
exit 1
