resource "mixpanel_organization_member" "ana" {
  email = "ana@example.com"
  role  = "member"
}
