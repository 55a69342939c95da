# The setup guide's pattern: a development and a production project, the same teams on both
# with different roles (engineers administer development but only analyse production), exact
# team memberships and individual grants, and the organization's access settings.
# Credentials come from MIXPANEL_* variables; `terraform init` installs the module.

terraform {
  required_providers {
    mixpanel = {
      source = "mixpanel-access/mixpanel"
    }
  }
}

provider "mixpanel" {}

locals {
  people = {
    "ana@example.com"  = "admin"
    "ben@example.com"  = "member"
    "cleo@example.com" = "member"
  }
}

resource "mixpanel_organization_member" "people" {
  for_each = local.people
  email    = each.key
  role     = each.value
}

resource "mixpanel_team" "engineering" {
  name = "Engineering"
}

resource "mixpanel_team" "analysts" {
  name = "Analysts"
}

# Authoritative: someone added to a team outside Terraform is planned for removal.
resource "mixpanel_team_members" "engineering" {
  team_id = mixpanel_team.engineering.id
  emails  = [mixpanel_organization_member.people["ben@example.com"].email]
}

resource "mixpanel_team_members" "analysts" {
  team_id = mixpanel_team.analysts.id
  emails  = [mixpanel_organization_member.people["cleo@example.com"].email]
}

module "development" {
  source              = "./modules/environment"
  name                = "analytics-development"
  timezone            = "Europe/Berlin"
  data_residency      = "eu"
  deletion_protection = false
  team_roles = {
    engineering = { team_id = mixpanel_team.engineering.id, role = "admin" }
    analysts    = { team_id = mixpanel_team.analysts.id, role = "analyst" }
  }
}

module "production" {
  source         = "./modules/environment"
  name           = "analytics-production"
  timezone       = "Europe/Berlin"
  data_residency = "eu"
  team_roles = {
    engineering = { team_id = mixpanel_team.engineering.id, role = "analyst" }
    analysts    = { team_id = mixpanel_team.analysts.id, role = "consumer" }
  }
  # Ana owns production; nobody else holds an individual grant there.
  individual_grants = {
    "ana@example.com" = "owner"
  }
  depends_on = [mixpanel_organization_member.people]
}

# Invite only, two-factor for everyone.
resource "mixpanel_organization_settings" "this" {
  discoverability     = "invite_only"
  two_factor_required = true
}

data "mixpanel_effective_access" "ben" {
  email      = mixpanel_organization_member.people["ben@example.com"].email
  depends_on = [module.development, module.production, mixpanel_team_members.engineering]
}

output "ben_access" {
  description = "Ben's role on each project, with where it comes from."
  value       = { for p in data.mixpanel_effective_access.ben.projects : p.project_name => p.sources }
}
