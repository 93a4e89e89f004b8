#!/usr/bin/env bash
# Run benchmarks on a throwaway PostgreSQL database. Usage: bash benchmarks/run.sh [name] [size]
# Each benchmark exits non-zero when one of its checks misses and prints which; this script exits
# with the first failing status, and "all" runs every benchmark before saying which failed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Inference needs no database, Django or front-end packages: it runs on a bare GPU box that has only
# the repository and a Python with torch + transformers (PYTHON, default .venv/bin/python; a GPU
# box's own CUDA build of torch, say). Usage: bash benchmarks/run.sh inference [--device cuda …]
if [ "${1:-}" = inference ]; then
  shift
  exec "${PYTHON:-.venv/bin/python}" -m benchmarks.inference "$@"
fi
case "${1:-all}" in
  all | song_list | analysis | review_load | rewards | audit | training) ;;
  *)
    echo "unknown benchmark ${1}: all, song_list, analysis, review_load, rewards, audit, training or inference" >&2
    exit 2
    ;;
esac
bash scripts/setup.sh
export WORKBENCH_ENV=test WORKBENCH_DATA_DIR=${WORKBENCH_DATA_DIR:-$PWD/var/bench}
if [ -z "${DATABASE_URL:-}" ]; then
  db="bench_workbench_$$"
  createdb -h 127.0.0.1 -U postgres "$db"
  trap 'dropdb -h 127.0.0.1 -U postgres --if-exists "$db"' EXIT
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
fi
.venv/bin/python manage.py migrate --noinput -v 0
name=${1:-all}
failed=()
status=0
bench() {  # bench NAME ARGS…: run one benchmark; remember it when it fails
  local label=$1 code=0
  shift
  .venv/bin/python -m "benchmarks.$label" "$@" || code=$?
  if [ "$code" -ne 0 ]; then
    failed+=("$label (exit $code)")
    [ "$status" -ne 0 ] || status=$code
  fi
}
if [ "$name" = all ] || [ "$name" = song_list ]; then
  bench song_list "${2:-20000}"
fi
if [ "$name" = all ] || [ "$name" = analysis ]; then
  bench analysis "${2:-200}"
fi
if [ "$name" = review_load ]; then
  # Options after the name go to the benchmark: --processes 2, --paced-seconds 60, …
  bench review_load "${@:2}"
elif [ "$name" = all ]; then
  bench review_load
fi
if [ "$name" = rewards ]; then
  # Not part of "all" (1,000,000 generations take ~50 minutes). Options after the name go to
  # the benchmark: --generations 20000, --subset 10000, --processes 2, --profile /tmp/rewards.prof
  bench rewards "${@:2}"
fi
if [ "$name" = audit ]; then
  # Not part of "all" (1,000,000 flags take ~17 minutes). Options after the name go to the
  # benchmark: --flags 20000, --subset 10000, --requests 10, --seconds 300
  bench audit "${@:2}"
fi
if [ "$name" = training ]; then
  # Not part of "all" (~2 minutes on 2 idle CPU cores). Options after the name go to the benchmark:
  # --device cuda --size large, --reps 5, --hooks files, --no-learning, …
  bench training "${@:2}"
fi
if [ "$name" = all ]; then
  bench inference
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "benchmarks that missed a check: ${failed[*]}" >&2
fi
exit "$status"
