# The data team may see properties classified as sensitive in production.
resource "mixpanel_classified_data_access" "data_team" {
  project_id = mixpanel_project.production.id
  team_id    = mixpanel_team.data.id
}
