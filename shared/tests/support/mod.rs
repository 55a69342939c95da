//! Test support shared by the integration tests (and later the rotator's).
#![allow(dead_code)]

pub mod openbao;
