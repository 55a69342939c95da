resource "mixpanel_service_account_project" "pipeline_production" {
  project_id         = mixpanel_project.production.id
  service_account_id = mixpanel_service_account.pipeline.id
  role               = "analyst"
}
