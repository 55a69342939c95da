data "mixpanel_organization" "current" {}
