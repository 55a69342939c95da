resource "mixpanel_team_member" "ana" {
  team_id = mixpanel_team.data.id
  email   = mixpanel_organization_member.ana.email
}

resource "mixpanel_team_member" "pipeline" {
  team_id            = mixpanel_team.data.id
  service_account_id = mixpanel_service_account.pipeline.id
}
