//! The data sources, one Terraform type per file.

mod effective_access;
mod organization;
mod project;

use std::sync::Arc;

use crate::context::Ctx;
use crate::framework::DataSource;

/// Every data source the provider serves.
pub fn all() -> Vec<Arc<dyn DataSource<Ctx>>> {
    vec![
        Arc::new(project::ProjectDataSource),
        Arc::new(organization::OrganizationDataSource),
        Arc::new(effective_access::EffectiveAccessDataSource),
    ]
}
