//! berth-manager: the library behind `berthd` (the daemon), `berth` (its CLI) and `berth-monitor`.

pub mod monitor;
pub mod runtime;
pub mod tasks;
