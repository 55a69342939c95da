data "mixpanel_organization_members" "admins" {
  role = "admin"
}

data "mixpanel_organization_members" "pending" {
  status = "invited"
}

output "admins" {
  value = data.mixpanel_organization_members.admins.members[*].email
}
