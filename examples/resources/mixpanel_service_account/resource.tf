resource "mixpanel_service_account" "pipeline" {
  username = "warehouse-pipeline"
  role     = "consumer"
  expires  = "2027-06-30T00:00:00Z"
}
