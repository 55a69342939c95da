data "mixpanel_effective_access" "ana" {
  email = "ana@example.com"
}

output "ana_roles" {
  value = { for p in data.mixpanel_effective_access.ana.projects : p.project_name => p.sources }
}
