# The Data team holds exactly these members: anyone added outside Terraform is planned for
# removal. Do not also use mixpanel_team_member on this team.
resource "mixpanel_team_members" "data" {
  team_id             = mixpanel_team.data.id
  emails              = [mixpanel_organization_member.ana.email]
  service_account_ids = [mixpanel_service_account.pipeline.id]
  max_removals        = 2
}
