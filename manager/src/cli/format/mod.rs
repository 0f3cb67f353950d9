//! Output helpers shared by every command: human sizes, relative ages, container status text,
//! aligned tables, JSON. The one place the CLI rounds sizes and durations.

mod age;
mod size;
mod status;
mod table;
pub mod template;

pub use age::{human_duration, time_ago};
pub use size::human_size;
pub use status::{ago, command_text, since, status_text, to_system_time};
pub use table::Table;
pub use template::{Format, Template, TemplateError};

/// Prints a value as indented JSON followed by a newline.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
