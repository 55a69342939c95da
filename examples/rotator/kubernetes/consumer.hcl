# What a consumer (an app, ESO, VSO) needs: its own credential, nothing of the journal or lease.
path "secret/data/mixpanel-rotator/creds/warehouse/fivetran-prod" {
  capabilities = ["read"]
}
