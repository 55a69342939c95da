#!/usr/bin/env bash
# One-time Vault/OpenBao setup for the Kubernetes deployment: the rotator's policy and a
# Kubernetes auth role bound to its ServiceAccount. Run with a privileged VAULT_TOKEN; use `bao`
# instead of `vault` for OpenBao.
set -euo pipefail
VAULT=${VAULT:-vault}

$VAULT policy write mixpanel-rotator "$(dirname "$0")/mixpanel-rotator.hcl"
$VAULT auth enable kubernetes 2>/dev/null || true
# Vault running inside the cluster can use its own service account to review tokens:
$VAULT write auth/kubernetes/config \
  kubernetes_host="https://kubernetes.default.svc:443"
$VAULT write auth/kubernetes/role/mixpanel-rotator \
  bound_service_account_names=mixpanel-rotator \
  bound_service_account_namespaces=mixpanel-rotator \
  token_policies=mixpanel-rotator \
  token_ttl=1h token_max_ttl=24h
