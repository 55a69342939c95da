# A BI tool's credential that the mixpanel-rotator keeps, declared in Terraform: the provider
# creates the service account and writes its secret straight into Vault, in the rotator's
# layout; the Terraform state holds only where it is. Needs VAULT_ADDR and VAULT_TOKEN (or the
# vault block's settings) and the MIXPANEL_* variables; the production project of
# examples/quickstart must exist.

terraform {
  required_providers {
    mixpanel = {
      source = "mixpanel-access/mixpanel"
    }
  }
}

provider "mixpanel" {
  vault {} # VAULT_ADDR, VAULT_TOKEN; mount "secret" and prefix "mixpanel-rotator" by default
}

data "mixpanel_project" "production" {
  name = "analytics-production"
}

data "mixpanel_project" "development" {
  name = "analytics-development"
}

resource "mixpanel_rotated_credential" "looker" {
  name = "bi/looker"
  # Each project with the role the account holds there; the rotator gives every successor
  # exactly these grants.
  projects = {
    (data.mixpanel_project.production.id)  = "consumer"
    (data.mixpanel_project.development.id) = "analyst"
  }
  integration         = "bi_tool"
  owner               = "data-platform@example.com"
  used_by             = "Looker"
  purpose             = "dashboards on production events"
  rotation_period     = "90d"
  overlap             = "24h"
  deletion_protection = false
}

output "looker_vault_path" {
  value = mixpanel_rotated_credential.looker.vault_path
}

output "looker_account" {
  value = mixpanel_rotated_credential.looker.username
}
