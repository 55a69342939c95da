# Marketing sees only its own events in production.
resource "mixpanel_data_view" "marketing" {
  project_id  = mixpanel_project.production.id
  name        = "Marketing"
  description = "Signups and campaigns only"
  restricted  = true
  filters     = jsonencode({ events = ["Signup", "Campaign Click"] })
}
