resource "mixpanel_team" "data" {
  name = "Data Engineering"
}
