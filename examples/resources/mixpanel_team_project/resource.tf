resource "mixpanel_team_project" "data_production" {
  team_id    = mixpanel_team.data.id
  project_id = mixpanel_project.production.id
  role       = "analyst"
}
