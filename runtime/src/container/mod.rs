//! Container operations, one file each: create, start, run, exec, kill, delete, state, list,
//! pause, resume, ps, update, events.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod start;
pub mod state;
pub mod update;

pub use create::{create, CreateOptions};
pub use delete::delete;
pub use exec::{exec, ExecOptions};
pub use kill::kill;
pub use list::list;
pub use pause::pause;
pub use resume::resume;
pub use run::run;
pub use start::start;
pub use state::state;
pub use update::{update, ResourceUpdate};
