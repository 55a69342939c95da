resource "mixpanel_data_view_member" "ana" {
  project_id   = mixpanel_project.production.id
  data_view_id = mixpanel_data_view.marketing.data_view_id
  email        = mixpanel_organization_member.ana.email
}

resource "mixpanel_data_view_member" "data_team" {
  project_id   = mixpanel_project.production.id
  data_view_id = mixpanel_data_view.marketing.data_view_id
  team_id      = mixpanel_team.data.id
}
