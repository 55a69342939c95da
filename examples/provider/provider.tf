terraform {
  required_providers {
    mixpanel = {
      source = "mixpanel-access/mixpanel"
    }
  }
}

# Credentials usually come from MIXPANEL_SERVICE_ACCOUNT_USERNAME and
# MIXPANEL_SERVICE_ACCOUNT_SECRET; the organization is discovered when the
# service account belongs to exactly one.
provider "mixpanel" {
  region = "eu"
}
