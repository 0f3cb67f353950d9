//! The `containers` table: container id → its record (see `crate::containers::record`).

use super::Table;
use crate::containers::record::ContainerRecord;

/// Container records keyed by 64-hex id.
pub const CONTAINERS: Table<ContainerRecord> = Table::new("containers");
