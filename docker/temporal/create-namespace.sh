#!/bin/sh
# The temporal-namespace job (temporalio/admin-tools): once the server answers, makes the namespace
# the workers use (TEMPORAL_NAMESPACE) and registers BigBrotr's custom search attributes
# (common/search-attributes.ts), so the Web UI finds one relay's workflows by URL and network.
# Idempotent: what exists is left alone.
set -eu
NS="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-7d}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"

i=0
until temporal operator cluster health >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then echo "temporal-namespace: the server at $TEMPORAL_ADDRESS is not healthy"; exit 1; fi
  sleep 5
done

if temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
  echo "temporal-namespace: namespace $NS exists"
else
  temporal operator namespace create --namespace "$NS" --retention "$RETENTION"
  echo "temporal-namespace: namespace $NS created (retention $RETENTION)"
fi

existing="$(temporal operator search-attribute list --namespace "$NS" 2>/dev/null || true)"
for name in RelayUrl RelayNetwork BigBrotrService; do
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "temporal-namespace: search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$NS" --name "$name" --type Keyword
    echo "temporal-namespace: search attribute $name registered"
  fi
done
