# A development and a production project, teams with project roles, members, and a
# service account for a data pipeline. Credentials come from MIXPANEL_* variables.
# `make install` (at the repository root), then `terraform init` and `terraform apply` here:
# see README.md beside this file.

terraform {
  required_providers {
    mixpanel = {
      source = "mixpanel-access/mixpanel"
    }
  }
}

provider "mixpanel" {}

resource "mixpanel_project" "development" {
  name                = "analytics-development"
  timezone            = "Europe/Berlin"
  data_residency      = "eu"
  deletion_protection = false
}

resource "mixpanel_project" "production" {
  name           = "analytics-production"
  timezone       = "Europe/Berlin"
  data_residency = "eu"
}

resource "mixpanel_organization_member" "ana" {
  email = "ana@example.com"
  role  = "member"
}

resource "mixpanel_organization_member" "ben" {
  email = "ben@example.com"
  role  = "admin"
}

resource "mixpanel_team" "engineering" {
  name = "Data Engineering"
}

resource "mixpanel_team" "analysts" {
  name = "Analysts"
}

resource "mixpanel_team_member" "ana" {
  team_id = mixpanel_team.analysts.id
  email   = mixpanel_organization_member.ana.email
}

resource "mixpanel_team_project" "engineering_development" {
  team_id    = mixpanel_team.engineering.id
  project_id = mixpanel_project.development.id
  role       = "admin"
}

resource "mixpanel_team_project" "engineering_production" {
  team_id    = mixpanel_team.engineering.id
  project_id = mixpanel_project.production.id
  role       = "analyst"
}

resource "mixpanel_team_project" "analysts_production" {
  team_id    = mixpanel_team.analysts.id
  project_id = mixpanel_project.production.id
  role       = "consumer"
}

resource "mixpanel_project_member" "ana_development" {
  project_id = mixpanel_project.development.id
  email      = mixpanel_organization_member.ana.email
  role       = "analyst"
}

resource "mixpanel_service_account" "pipeline" {
  username = "warehouse-pipeline"
  role     = "consumer"
  expires  = "2030-01-01T00:00:00Z"
}

resource "mixpanel_service_account_project" "pipeline_production" {
  project_id         = mixpanel_project.production.id
  service_account_id = mixpanel_service_account.pipeline.id
  role               = "analyst"
}

resource "mixpanel_team_member" "pipeline" {
  team_id            = mixpanel_team.engineering.id
  service_account_id = mixpanel_service_account.pipeline.id
}

data "mixpanel_effective_access" "ana" {
  email      = mixpanel_organization_member.ana.email
  depends_on = [mixpanel_team_member.ana, mixpanel_project_member.ana_development, mixpanel_team_project.analysts_production]
}

output "ana_access" {
  value = { for p in data.mixpanel_effective_access.ana.projects : p.project_name => p.sources }
}

output "pipeline_username" {
  value = mixpanel_service_account.pipeline.full_username
}
