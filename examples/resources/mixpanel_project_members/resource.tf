# Production's individual grants, exactly: a grant made outside Terraform (a project owner
# added in the web app, say) shows in the next plan as a removal. Do not also use
# mixpanel_project_member on this project.
resource "mixpanel_project_members" "production" {
  project_id = mixpanel_project.production.id
  members = {
    "ana@example.com" = "analyst"
    "ops@example.com" = "admin"
  }
  max_removals = 1
}
