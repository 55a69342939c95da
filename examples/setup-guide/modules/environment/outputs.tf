output "project_id" {
  description = "The project's id."
  value       = mixpanel_project.this.id
}

output "token" {
  description = "The project token (not a secret: it is sent with events)."
  value       = mixpanel_project.this.token
}
