//! `terraform-provider-mixpanel`: the binary Terraform starts. All the work is in the library.

use std::process::ExitCode;

use terraform_provider_mixpanel::protocol;
use terraform_provider_mixpanel::provider::{MixpanelProvider, INFO};

fn main() -> ExitCode {
    protocol::run(INFO, MixpanelProvider::new)
}
