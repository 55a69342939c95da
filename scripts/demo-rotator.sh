#!/usr/bin/env bash
# The rotator part of the demo. Needs VAULT_ADDR and VAULT_TOKEN (an OpenBao/Vault with KV v2
# at secret/) and the MIXPANEL_* variables of a bootstrapped emulator organization
# (MIXPANEL_API_URL, MIXPANEL_ORGANIZATION_ID, MIXPANEL_SERVICE_ACCOUNT_USERNAME,
# MIXPANEL_SERVICE_ACCOUNT_SECRET), as `mixpanel-emulator bootstrap` prints them.
#
# It registers a service account in the inventory (creating it through the API, its secret
# going straight into Vault), rotates it once as an incident (overlap 0s), and prints the
# inventory as Markdown. It starts with `doctor`, the read-only preflight. No secret is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VAULT_ADDR:?set VAULT_ADDR}" "${VAULT_TOKEN:?set VAULT_TOKEN}"
: "${MIXPANEL_API_URL:?set MIXPANEL_API_URL}" "${MIXPANEL_SERVICE_ACCOUNT_USERNAME:?}" "${MIXPANEL_SERVICE_ACCOUNT_SECRET:?}"

rotator=${ROTATOR:-target/debug/mixpanel-rotator}
[ -x "$rotator" ] || cargo build --quiet -p mixpanel-rotator --bin mixpanel-rotator

# Text logs on stderr for a person; JSON is the default for the daemon.
export MIXPANEL_ROTATOR_LOG_FORMAT=text MIXPANEL_ROTATOR_LOG=warn
name=${DEMO_CREDENTIAL:-warehouse/demo-etl}

echo "== doctor: a read-only preflight of every read route the provider and the rotator use"
"$rotator" doctor

echo "== registering $name (a new service account, its secret stored in Vault)"
if "$rotator" inventory list | grep -q "^$name "; then
  echo "$name is already in the inventory"
else
  "$rotator" inventory add "$name" --kind service_account --owner data-platform@example.com \
    --integration data_pipeline --used-by "demo ETL job" --purpose "export events" \
    --role analyst --rotation-period 90d --overlap 1h --create
fi

echo "== rotating $name (incident, overlap 0s)"
"$rotator" rotate "$name" --reason demo --overlap 0s

echo "== inventory"
"$rotator" inventory export --format md
