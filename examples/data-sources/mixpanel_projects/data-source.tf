data "mixpanel_projects" "all" {}

output "project_ids" {
  value = { for p in data.mixpanel_projects.all.projects : p.name => p.id }
}
