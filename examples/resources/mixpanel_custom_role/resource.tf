# A role between analyst and admin: reports and exports, plus classified data.
resource "mixpanel_custom_role" "report_builder" {
  project_id  = mixpanel_project.production.id
  name        = "Report builder"
  description = "Builds, shares and exports reports; sees classified data"
  permissions = ["view_reports", "create_reports", "share_reports", "export_data", "classified_data_access"]
}
