data "mixpanel_effective_access" "ana" {
  email = "ana@example.com"
}

output "ana_roles" {
  value = { for p in data.mixpanel_effective_access.ana.projects : p.project_name => p.sources }
}

# The same for a service account.
data "mixpanel_effective_access" "etl" {
  service_account_id = "194890"
}
