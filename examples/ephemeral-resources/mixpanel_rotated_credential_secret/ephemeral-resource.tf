# The secret the rotator keeps for "warehouse/looker", read from Vault during plan and apply
# only: it is never written to the state or the plan.
ephemeral "mixpanel_rotated_credential_secret" "looker" {
  name = mixpanel_rotated_credential.looker.name
}

# A provider block may take ephemeral values: this one acts as the rotated account.
provider "mixpanel" {
  alias                    = "looker"
  service_account_username = ephemeral.mixpanel_rotated_credential_secret.looker.username
  service_account_secret   = ephemeral.mixpanel_rotated_credential_secret.looker.secret
}

# Or pass it to another provider's write-only argument (Terraform >= 1.11), for example:
# resource "vendor_connection" "looker" {
#   secret_wo         = ephemeral.mixpanel_rotated_credential_secret.looker.secret
#   secret_wo_version = ephemeral.mixpanel_rotated_credential_secret.looker.version
# }
