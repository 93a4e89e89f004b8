#!/usr/bin/env bash
# Run the whole test suite. Needs PostgreSQL and Redis (local defaults below; override with env).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/annotations -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
if [ ! -x /usr/bin/fluidsynth ] || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ ! -d /usr/share/games/asc/music ]; then
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
# librosa's numba functions cache their machine code; a cache of the run's own (not the shared
# one inside .venv, which two concurrent runs once corrupted into a segfault) keeps runs apart.
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$WORKBENCH_DATA_DIR/numba}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/workbench}
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}
export CHANNEL_LAYER_URL=${CHANNEL_LAYER_URL:-redis://127.0.0.1:6379/14}
exec .venv/bin/python -m pytest "$@"
