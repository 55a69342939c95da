data "mixpanel_service_accounts" "all" {}

# Accounts that never authenticated: candidates for removal.
output "never_used" {
  value = [for a in data.mixpanel_service_accounts.all.service_accounts : a.username if a.last_used == null]
}
