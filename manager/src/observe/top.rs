//! `berth top`: the host's `ps` output, narrowed to the container's processes (Docker's way:
//! the ps options are the user's, the rows kept are those whose PID is in the cgroup).

use super::cgroup::CgroupPaths;
use super::ObserveError;

/// The table `top` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processes {
    /// Column titles as ps printed them.
    pub titles: Vec<String>,
    /// One row per process, as many cells as titles (the last holds the command with its spaces).
    pub rows: Vec<Vec<String>>,
}

/// Lists the processes of the container whose init process is `pid`, with `ps ps_args`
/// (`-ef` when empty).
pub async fn top(pid: u32, ps_args: &[String]) -> Result<Processes, ObserveError> {
    let procs = CgroupPaths::of_pid(pid)?.procs()?;
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = tokio::process::Command::new("ps")
        .args(&args)
        .output()
        .await
        .map_err(|e| ObserveError::Ps(format!("running ps {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(ObserveError::Ps(format!(
            "ps {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    filter(&String::from_utf8_lossy(&out.stdout), &procs)
}

fn filter(ps: &str, pids: &[u32]) -> Result<Processes, ObserveError> {
    let mut lines = ps.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ObserveError::Ps("Couldn't find PID field in ps output".into()))?;
    let mut rows = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(p) = fields[pid_col].parse::<u32>() else {
            continue;
        };
        if !pids.contains(&p) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|f| f.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        rows.push(row);
    }
    Ok(Processes { titles, rows })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_containers_pids_are_kept() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\nroot           1       0  0 10:00 ?        00:00:01 /sbin/init\nroot        4242    4200  0 10:01 ?        00:00:00 sleep 100\n";
        let p = super::filter(ps, &[4242]).unwrap();
        assert_eq!(p.titles.len(), 8);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0][1], "4242");
        assert_eq!(p.rows[0][7], "sleep 100");
        assert!(super::filter("USER CMD\n", &[1]).is_err());
    }
}
