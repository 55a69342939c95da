//! `mixpanel-access`: the one model the Terraform provider, the rotation daemon and the
//! emulator share: roles, grants, the permission rules and the Mixpanel API client.

pub mod api;
pub mod audit;
pub mod cause;
pub mod csv_cells;
pub mod governance;
pub mod inventory;
pub mod model;
pub mod permissions;
pub mod provision;
pub mod redact;
pub mod vault;
