//! Output helpers shared by every command: human sizes, relative ages, aligned tables, JSON.

mod age;
mod size;
mod table;

pub use age::{human_duration, time_ago};
pub use size::human_size;
pub use table::Table;

/// Prints a value as indented JSON followed by a newline.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
