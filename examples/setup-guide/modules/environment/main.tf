# One environment of the setup guide's pattern: a project, the roles the organization's teams
# have on it, and its exact individual grants (authoritative: a grant made outside Terraform
# shows up in the next plan as a removal).

terraform {
  required_providers {
    mixpanel = {
      source = "mixpanel-access/mixpanel"
    }
  }
}

resource "mixpanel_project" "this" {
  name                = var.name
  timezone            = var.timezone
  data_residency      = var.data_residency
  deletion_protection = var.deletion_protection
}

resource "mixpanel_team_project" "this" {
  for_each   = var.team_roles
  team_id    = each.value.team_id
  project_id = mixpanel_project.this.id
  role       = each.value.role
}

resource "mixpanel_project_members" "this" {
  project_id   = mixpanel_project.this.id
  members      = var.individual_grants
  max_removals = var.max_removals
}
