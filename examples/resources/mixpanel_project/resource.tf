resource "mixpanel_project" "production" {
  name                = "analytics-production"
  timezone            = "Europe/Berlin"
  data_residency      = "eu"
  deletion_protection = true
}
