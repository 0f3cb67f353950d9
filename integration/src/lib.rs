//! Shared harness for the end-to-end tests in `integration/tests/`: fixtures, binaries, cleanup guards.

pub mod daemon;
