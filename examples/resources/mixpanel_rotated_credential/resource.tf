# The provider needs the rotator's Vault:
#
# provider "mixpanel" {
#   vault {
#     address = "https://vault.example.com:8200" # or VAULT_ADDR
#     mount   = "secret"
#     prefix  = "mixpanel-rotator"
#     # token = ... (or VAULT_TOKEN), or approle_role_id + approle_secret_id, or kubernetes_role
#   }
# }

resource "mixpanel_rotated_credential" "looker" {
  name = "warehouse/looker"
  # Project id -> role (admin, analyst or consumer); kept by every rotation.
  projects = {
    (mixpanel_project.production.id) = "consumer"
    "4040002"                        = "analyst" # another project, by its id
  }
  teams           = [mixpanel_team.data.id]
  integration     = "bi_tool"
  owner           = "data-platform@example.com"
  used_by         = "looker"
  purpose         = "BI dashboards on production data"
  rotation_period = "90d"
  overlap         = "24h"
}

# Consumers read the secret from Vault, never from the Terraform state:
#   bao kv get -mount=secret mixpanel-rotator/creds/warehouse/looker
output "looker_vault_path" {
  value = mixpanel_rotated_credential.looker.vault_path
}
