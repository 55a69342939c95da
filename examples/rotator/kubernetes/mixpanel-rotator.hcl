# Vault/OpenBao policy of the rotator (mount "secret", prefix "mixpanel-rotator").
path "secret/data/mixpanel-rotator/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "secret/metadata/mixpanel-rotator/*" {
  capabilities = ["create", "read", "update", "patch", "list"]
}
# OpenBao: one LIST for the whole inventory (HashiCorp Vault falls back to LIST + GET metadata).
path "secret/detailed-metadata/mixpanel-rotator/*" {
  capabilities = ["list"]
}
# `inventory add --create` asks whether the token can store the new secret before it creates
# the account (Vault's default policy grants this too).
path "sys/capabilities-self" {
  capabilities = ["update"]
}
