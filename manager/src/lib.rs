//! berth-manager: the library behind `berthd` (the daemon), `berth` (its CLI) and `berth-monitor`.

pub mod bundle;
pub mod cli;
pub mod containers;
pub mod events;
pub mod monitor;
pub mod reference;
pub mod registry;
pub mod runtime;
pub mod snapshots;
pub mod tasks;
pub mod unpack;
