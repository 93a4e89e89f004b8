#!/usr/bin/env bash
# Run the test suite. Needs PostgreSQL and Redis (local defaults below; override with env).
#   bash scripts/test.sh              everything (what CI runs)
#   bash scripts/test.sh --quick      the inner loop (under 3 minutes): leaves out the tests marked
#                                     browser, worker, corpus, subprocess, demo and training
# Other arguments go to pytest, e.g. `bash scripts/test.sh tests/annotations -x` or
# `bash scripts/test.sh --quick tests/annotations`.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK_MARKERS="not browser and not worker and not corpus and not subprocess and not demo and not training"
quick=false
args=()
for arg in "$@"; do
  if [ "$arg" = --quick ]; then quick=true; else args+=("$arg"); fi
done

bash scripts/setup.sh

if [ "$quick" = false ] && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
if [ "$quick" = false ] && { [ ! -x /usr/bin/fluidsynth ] || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ ! -d /usr/share/games/asc/music ]; }; then
  echo "Installing Debian's fluidsynth, fluid-soundfont-gm and asc-music for the analysis tests"
  analysis_packages="fluidsynth fluid-soundfont-gm asc-music"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $analysis_packages >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $analysis_packages >/dev/null
  fi
fi

export WORKBENCH_ENV=test
export WORKBENCH_DATA_DIR=${WORKBENCH_DATA_DIR:-$PWD/var/test}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/workbench}
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}
export CHANNEL_LAYER_URL=${CHANNEL_LAYER_URL:-redis://127.0.0.1:6379/14}

# numba's cache of librosa's compiled beat tracker, per checkout rather than inside .venv, filled
# by one process before any test runs: processes that compile the same gufunc at once can leave
# a cache that crashes every later process (numba issue 10128), and the suite starts workers.
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$WORKBENCH_DATA_DIR/numba}
numba_stamp="$NUMBA_CACHE_DIR/.warm-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$numba_stamp" ]; then
  mkdir -p "$NUMBA_CACHE_DIR"
  rm -f "$NUMBA_CACHE_DIR"/.warm-*
  .venv/bin/python -c "from audio_analysis import warm_up; warm_up()"
  touch "$numba_stamp"
fi

if [ "$quick" = true ]; then
  exec .venv/bin/python -m pytest -m "$QUICK_MARKERS" "${args[@]}"
fi
exec .venv/bin/python -m pytest "${args[@]}"
