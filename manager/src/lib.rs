//! berth-manager: the library behind `berthd` (the daemon), `berth` (its CLI) and `berth-monitor`.
pub mod bundle;
pub mod snapshots;
pub mod unpack;
