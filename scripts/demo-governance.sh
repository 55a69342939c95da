#!/usr/bin/env bash
# The governance part of the demo: an access review and the offboarding of a collaborator.
# Needs what scripts/demo-rotator.sh needs (VAULT_ADDR, VAULT_TOKEN and the MIXPANEL_* variables
# of a bootstrapped emulator organization) and an evidence folder (DEMO_EVIDENCE_DIR).
#
# It adds a collaborator (contractor@agency.example, admin of the first project, and the
# creator of a service account nobody registered), simulates logins through the emulator's
# admin API (one person dormant for 200 days, the others active), prints the review in
# Markdown, then offboards the collaborator: the plan (dry run), the run (grants, membership,
# the rotation of the credential they could read as an admin, the deletion of the account they
# left unregistered), and the evidence folder with its SHA256SUMS checked. No secret is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VAULT_ADDR:?set VAULT_ADDR}" "${VAULT_TOKEN:?set VAULT_TOKEN}"
: "${MIXPANEL_API_URL:?}" "${MIXPANEL_ORGANIZATION_ID:?}" "${MIXPANEL_SERVICE_ACCOUNT_USERNAME:?}" "${MIXPANEL_SERVICE_ACCOUNT_SECRET:?}"
: "${DEMO_EVIDENCE_DIR:?set DEMO_EVIDENCE_DIR}"

rotator=${ROTATOR:-target/debug/mixpanel-rotator}
export MIXPANEL_ROTATOR_LOG_FORMAT=text MIXPANEL_ROTATOR_LOG=warn
export MIXPANEL_ROTATOR_EVIDENCE_DIR="$DEMO_EVIDENCE_DIR"
org=$MIXPANEL_ORGANIZATION_ID
who=contractor@agency.example

# The API as the service account (Mixpanel's routes), and the emulator's admin routes.
api() { # method path [json]
  python3 - "$@" <<'PY'
import base64, json, os, sys, urllib.request
method, path = sys.argv[1], sys.argv[2]
body = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(os.environ["MIXPANEL_API_URL"] + path, data=body, method=method)
if not path.startswith("/_emulator/"):
    tok = f'{os.environ["MIXPANEL_SERVICE_ACCOUNT_USERNAME"]}:{os.environ["MIXPANEL_SERVICE_ACCOUNT_SECRET"]}'
    req.add_header("Authorization", "Basic " + base64.b64encode(tok.encode()).decode())
if body is not None:
    req.add_header("Content-Type", "application/json")
print(urllib.request.urlopen(req, timeout=10).read().decode())
PY
}
ago() { python3 -c 'import sys, datetime; print((datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=int(sys.argv[1]))).isoformat())' "$1"; }
field() { python3 -c 'import json, sys; v = json.load(sys.stdin)["results"]; print(eval(sys.argv[1]))' "$1"; }

echo "== a collaborator: $who, admin of the first project, creator of an unregistered service account"
project=$(api GET "/organizations/$org/projects/" | field 'sorted(p["id"] for p in v)[0]')
api POST "/organizations/$org/add-users/" "{\"emails\":[\"$who\"],\"role\":\"member\"}" >/dev/null
api POST "/_emulator/users/$who/activate" >/dev/null
api POST "/organizations/$org/add-users-to-projects/" "{\"users\":[\"$who\"],\"projects\":[$project],\"role\":\"admin\"}" >/dev/null
sa=$(api POST "/api/app/organizations/$org/service-accounts" '{"username":"contractor-adhoc","role":"analyst"}' | field 'v["id"]')
api POST "/_emulator/organizations/$org/service-accounts/$sa/facts" "{\"creator_email\":\"$who\"}" >/dev/null
echo "== and a registered integration credential on that project, which the collaborator could read"
"$rotator" inventory add warehouse/agency-sync --kind service_account --owner data-platform@example.com \
  --integration reverse_etl --used-by "agency sync job" --purpose "sync cohorts" \
  --role analyst --project "$project" --rotation-period 90d --create

echo "== simulated logins: ben@example.com and $who active, ana@example.com dormant (200 days)"
for email in ana@example.com ben@example.com; do
  api POST "/_emulator/users/$email/activate" >/dev/null 2>&1 || true
done
api POST "/_emulator/organizations/$org/users/ana@example.com/login" "{\"at\":\"$(ago 200)\"}" >/dev/null
api POST "/_emulator/organizations/$org/users/ben@example.com/login" "{\"at\":\"$(ago 2)\",\"twofactor_method\":\"totp\"}" >/dev/null
api POST "/_emulator/organizations/$org/users/$who/login" "{\"at\":\"$(ago 1)\"}" >/dev/null

echo "== access review (mixpanel-rotator review)"
"$rotator" review --format md
"$rotator" review --output "$DEMO_EVIDENCE_DIR/reviews" >/dev/null 2>&1

echo "== offboarding $who: the plan (dry run)"
"$rotator" offboard "$who" --ticket IAM-DEMO-1

echo "== offboarding $who: carried out"
"$rotator" offboard "$who" --ticket IAM-DEMO-1 --execute --approved-by security-lead@example.com

dir="$DEMO_EVIDENCE_DIR/$(date -u +%Y)/IAM-DEMO-1"
echo "== the evidence folder $dir"
find "$dir" -type f | sort
"$rotator" offboard verify "$dir"
echo "== a second run changes nothing"
"$rotator" offboard "$who" --ticket IAM-DEMO-1 --execute --approved-by security-lead@example.com

echo "== time-limited access: ben@example.com admin of project $project for 5 seconds (the playbook's admin sprint, shortened)"
"$rotator" access grant ben@example.com --project "$project" --role admin --for 5s \
  --ticket IAM-DEMO-2 --reason "two-week implementation sprint (5 s in the demo)"
"$rotator" access list
echo "== the daemon's leader revokes it at its expiry (verified by a read)"
MIXPANEL_ROTATOR_GRANT_CHECK_INTERVAL=1s MIXPANEL_ROTATOR_HTTP_LISTEN=127.0.0.1:0 \
  MIXPANEL_ROTATOR_LOG=info "$rotator" run >"$DEMO_EVIDENCE_DIR/daemon.log" 2>&1 &
daemon=$!
revoked=
for _ in $(seq 1 60); do
  if "$rotator" access list --format json | python3 -c 'import json, sys; sys.exit(0 if any(g["id"] == "IAM-DEMO-2-1" and g["status"] == "revoked" for g in json.load(sys.stdin)) else 1)'; then
    revoked=1; break
  fi
  sleep 1
done
kill -TERM "$daemon" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
[ -n "$revoked" ] || { echo "the grant was not revoked:"; tail -n 20 "$DEMO_EVIDENCE_DIR/daemon.log"; exit 1; }
"$rotator" access list
api GET "/api/app/projects/$project/granted-users" | python3 -c 'import json, sys; v = json.load(sys.stdin)["results"]; print("ben@example.com on the project:", [g["role"] for g in v if g["email"] == "ben@example.com" and g.get("target_type") == "individual"] or "no individual grant")'
grant_dir="$DEMO_EVIDENCE_DIR/$(date -u +%Y)/IAM-DEMO-2"
find "$grant_dir" -type f | sort
"$rotator" offboard verify "$grant_dir"
