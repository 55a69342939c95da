data "mixpanel_project" "production" {
  name = "analytics-production"
}
