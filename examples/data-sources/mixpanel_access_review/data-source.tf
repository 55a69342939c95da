# The quarterly access review as guardrails: `terraform plan` warns when one is broken.
data "mixpanel_access_review" "org" {
  dormant_days = 60
  max_admins   = 4
}

check "no_high_findings" {
  assert {
    condition = data.mixpanel_access_review.org.high_count == 0
    error_message = join("\n", [
      for f in data.mixpanel_access_review.org.findings :
      "${f.code} ${f.subject}: ${f.detail}" if f.severity == "high"
    ])
  }
}

check "at_least_two_owners" {
  assert {
    condition     = length(data.mixpanel_access_review.org.owners) >= 2
    error_message = "The organization needs at least two active owners; it has ${length(data.mixpanel_access_review.org.owners)}."
  }
}

check "admins_from_the_company_domain" {
  assert {
    condition = alltrue([
      for a in data.mixpanel_access_review.org.admins : endswith(a, "@example.com")
    ])
    error_message = "Organization admins and owners must have an @example.com address."
  }
}
