//! The ephemeral resources (plugin protocol 6.7, Terraform >= 1.10), one Terraform type per
//! file: values read during a plan or an apply that never enter the state or the plan.

mod rotated_credential_secret;

use std::sync::Arc;

use crate::context::Ctx;
use crate::framework::EphemeralResource;

/// Every ephemeral resource the provider serves.
pub fn all() -> Vec<Arc<dyn EphemeralResource<Ctx>>> {
    vec![Arc::new(rotated_credential_secret::RotatedCredentialSecret)]
}
