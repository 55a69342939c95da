resource "mixpanel_project_member" "ana_production" {
  project_id = mixpanel_project.production.id
  email      = mixpanel_organization_member.ana.email
  role       = "analyst"
}
