//! The gRPC fronts of the container model: each handler resolves its request, calls
//! [`crate::containers::Containers`] (where the rules are) and builds the response.

mod containers;
mod files;
mod networks;
mod observe;
mod tasks;

pub use containers::ContainersService;
pub use files::FilesService;
pub use networks::NetworksService;
pub use observe::ObserveService;
pub use tasks::{exit_status, TasksService};
