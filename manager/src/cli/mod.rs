//! The `berth` CLI (container commands; the framework is merged from wt/mcore).

pub mod attach;
pub mod container_opts;
pub mod daemon_error;
pub mod events;
pub mod humanize;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
// pub mod prune; (needs the Images API from wt/mcore)
pub mod ps;
pub mod run;
pub mod tty;

pub use daemon_error::daemon_error;
