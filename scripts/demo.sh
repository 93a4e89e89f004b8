#!/usr/bin/env bash
# Run the embedded workbench: SQLite, a file-system Celery broker, no external service.
# Installs what is missing, migrates, creates demo users and songs, starts a Celery worker and the
# ASGI web server, and prints the URL. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export WORKBENCH_ENV=demo
export WORKBENCH_DATA_DIR=${WORKBENCH_DATA_DIR:-$PWD/var/demo}
# The demo is self-contained even when the shell has real-deployment variables set.
unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND CHANNEL_LAYER_URL
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
PY=.venv/bin/python

$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0
$PY manage.py seed_demo

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.venv/bin/celery -A workbench --quiet worker -Q audio,gpu_inference,gpu_training --concurrency 1 \
  --loglevel WARNING --logfile "$WORKBENCH_DATA_DIR/celery.log" 2>> "$WORKBENCH_DATA_DIR/celery.log" &
pids+=($!)
.venv/bin/daphne -b "$HOST" -p "$PORT" workbench.asgi:application \
  >> "$WORKBENCH_DATA_DIR/web.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  if $PY -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/health/', timeout=1)" 2>/dev/null; then
    echo "Flamingo Workbench is running at http://$HOST:$PORT/  (logs in $WORKBENCH_DATA_DIR)"
    break
  fi
  sleep 0.5
done
wait -n "${pids[@]}"
echo "A workbench process stopped (see the logs in $WORKBENCH_DATA_DIR); shutting down." >&2
exit 1
