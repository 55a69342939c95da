//! One module per subcommand. Each takes the configuration and its own arguments (plain
//! structs, not the command line's clap types), and reaches Vault, Mixpanel and stdout
//! through [`crate::app`].

pub mod access;
pub mod audit;
pub mod doctor;
pub mod history;
pub mod inventory;
pub mod offboard;
pub mod once;
pub mod review;
pub mod review_apply;
pub mod rotate;
pub mod run;
pub mod status;
