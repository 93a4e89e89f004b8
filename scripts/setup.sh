#!/usr/bin/env bash
# Install everything the workbench needs into .venv and node_modules. Safe to run again: it skips
# what is already installed for the current pyproject.toml / package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
py_stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$py_stamp" ]; then
  echo "Installing Python packages (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch==2.13.0 is pinned in pyproject.toml: the CPU wheel, not a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$py_stamp"
fi

js_stamp="node_modules/.installed-$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
if [ ! -f "$js_stamp" ]; then
  echo "Installing front-end packages from npm"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$js_stamp"
fi
