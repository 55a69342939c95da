# People with an @example.com address may ask to join; an admin approves. Everyone must use
# two-factor authentication. Destroying this resource leaves the settings as they are.
resource "mixpanel_organization_settings" "this" {
  discoverability      = "admin_approval"
  discoverable_domains = ["example.com"]
  two_factor_required  = true
}
