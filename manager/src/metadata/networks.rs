//! The `networks` and `endpoints` tables (see `crate::network::store`).

pub use crate::network::store::{ENDPOINTS, NETWORKS};
