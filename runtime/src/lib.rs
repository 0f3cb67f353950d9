//! berth-runtime: the library behind `berth-runc`, an OCI runtime (runtime-spec 1.2, Linux).
//!
//! The library never prints and never exits; the `berth-runc` binary is a thin CLI over it.

pub mod cgroups;
