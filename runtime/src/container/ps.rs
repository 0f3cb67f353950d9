//! `ps`: the processes of a container (its cgroup's pids), and runc's filtering of `ps` output.

use std::path::Path;

use crate::state_dir::State;
use crate::{Error, Result};

/// The pids in container `id`'s cgroup (empty once the container's processes are gone).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let st = State::load(root, id)?;
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument(format!("container {id} has no cgroup")))?;
    Ok(cg.pids()?.into_iter().map(|p| p.as_raw()).collect())
}

/// Keeps the header of `ps` output and the lines whose PID column is one of `pids`, as runc does.
pub fn filter_ps_output(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or_else(|| Error::InvalidArgument("couldn't find PID field in ps output".into()))?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(pid_col).unwrap_or_default();
        let pid: i32 = field.parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "unexpected pid {field:?} in ps output line {line:?}"
            ))
        })?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_matching_pid_lines() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                  root           1       0  0 10:00 ?        00:00:01 /sbin/init\n\
                  root         42       1  0 10:00 ?        00:00:00 sleep 1000\n";
        assert_eq!(
            filter_ps_output(ps, &[42]).unwrap(),
            "UID          PID    PPID  C STIME TTY          TIME CMD\n\
             root         42       1  0 10:00 ?        00:00:00 sleep 1000\n"
        );
    }

    #[test]
    fn missing_pid_column_is_an_error() {
        let err = filter_ps_output("USER COMMAND\nroot sh\n", &[1]).unwrap_err();
        assert!(err.to_string().contains("couldn't find PID field"), "{err}");
    }
}
