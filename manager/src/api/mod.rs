//! The gRPC fronts of the container model: each handler resolves its request, calls
//! [`crate::containers::Containers`] (where the rules are) and builds the response.

mod containers;
mod gc;
mod tasks;

pub use containers::ContainersService;
pub use gc::GcApi;
pub use tasks::{exit_status, TasksService};
