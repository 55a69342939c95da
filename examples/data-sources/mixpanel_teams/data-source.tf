data "mixpanel_teams" "all" {}

output "team_members" {
  value = { for t in data.mixpanel_teams.all.teams : t.name => t.members }
}
