//! Shared harness for the end-to-end tests in `integration/tests/`: fixtures, binaries, cleanup guards.

pub mod blob_store;
pub mod daemon;
pub mod fake_registry;
pub mod registry;
pub mod token_server;
