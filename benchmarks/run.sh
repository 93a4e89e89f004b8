#!/usr/bin/env bash
# Run benchmarks on a throwaway PostgreSQL database. Usage: bash benchmarks/run.sh [name] [size]
set -euo pipefail
cd "$(dirname "$0")/.."
# Inference needs no database, Django or front-end packages: it runs on a bare GPU box that has only
# the repository and a Python with torch + transformers (PYTHON, default .venv/bin/python; a GPU
# box's own CUDA build of torch, say). Usage: bash benchmarks/run.sh inference [--device cuda …]
if [ "${1:-}" = inference ]; then
  shift
  exec "${PYTHON:-.venv/bin/python}" -m benchmarks.inference "$@"
fi
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
if [ "$name" = all ] || [ "$name" = song_list ]; then
  .venv/bin/python -m benchmarks.song_list "${2:-20000}"
fi
if [ "$name" = all ] || [ "$name" = analysis ]; then
  .venv/bin/python -m benchmarks.analysis "${2:-200}"
fi
if [ "$name" = review_load ]; then
  # Options after the name go to the benchmark: --processes 2, --paced-seconds 60, …
  .venv/bin/python -m benchmarks.review_load "${@:2}"
elif [ "$name" = all ]; then
  .venv/bin/python -m benchmarks.review_load
fi
if [ "$name" = rewards ]; then
  # Not part of "all" (1,000,000 generations take ~50 minutes). Options after the name go to
  # the benchmark: --generations 20000, --subset 10000, --processes 2, --profile /tmp/rewards.prof
  .venv/bin/python -m benchmarks.rewards "${@:2}"
fi
if [ "$name" = audit ]; then
  # Not part of "all" (1,000,000 flags take ~17 minutes). Options after the name go to the
  # benchmark: --flags 20000, --subset 10000, --requests 10, --seconds 300
  .venv/bin/python -m benchmarks.audit "${@:2}"
fi
if [ "$name" = training ]; then
  # Not part of "all" (~2 minutes on 2 idle CPU cores). Options after the name go to the benchmark:
  # --device cuda --size large, --reps 5, --hooks files, --no-learning, …
  .venv/bin/python -m benchmarks.training "${@:2}"
fi
if [ "$name" = all ]; then
  .venv/bin/python -m benchmarks.inference
fi
