//! `berth run --explain`: the steps of the run that just happened, each timed where it happened
//! (in `berth` around its calls, in berthd around its work; berthd's steps come back in the
//! responses), printed on stderr after the container's output.

use berth_proto::v1 as pb;
use std::time::Duration;

/// How to print the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// A table for people.
    Text,
    /// One JSON object for tools.
    Json,
}

/// One step, measured by `berth` (with berthd's own steps of that call inside).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientStep {
    /// Short name.
    pub name: String,
    /// What happened.
    pub detail: String,
    /// How long it took; `None` for a state rather than work (e.g. "container kept").
    pub elapsed: Option<Duration>,
    /// berthd's steps within this call.
    pub daemon: Vec<pb::Step>,
}

/// The steps of one run, in order.
#[derive(Debug, Default)]
pub struct Trace {
    /// Client-side steps.
    pub steps: Vec<ClientStep>,
    /// Wall-clock time of the whole command, when measured.
    pub total: Option<Duration>,
}

impl Trace {
    /// Adds a step measured by the client.
    pub fn step(&mut self, name: &str, detail: impl Into<String>, elapsed: Option<Duration>) {
        self.steps.push(ClientStep {
            name: name.to_string(),
            detail: detail.into(),
            elapsed,
            daemon: Vec::new(),
        });
    }

    /// Adds a client step with berthd's steps of that call.
    pub fn call(
        &mut self,
        name: &str,
        detail: impl Into<String>,
        elapsed: Duration,
        daemon: Vec<pb::Step>,
    ) {
        self.steps.push(ClientStep {
            name: name.to_string(),
            detail: detail.into(),
            elapsed: Some(elapsed),
            daemon,
        });
    }

    /// Renders the explanation.
    pub fn render(&self, format: ExplainFormat) -> String {
        match format {
            ExplainFormat::Text => self.text(),
            ExplainFormat::Json => self.json().to_string() + "\n",
        }
    }

    fn text(&self) -> String {
        let mut rows: Vec<(String, &str, String, String)> = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            rows.push((
                s.elapsed.map(ms).unwrap_or_else(|| "-".into()),
                "berth",
                format!("{:>2}. {}", i + 1, s.name),
                s.detail.clone(),
            ));
            for d in &s.daemon {
                rows.push((
                    ms(Duration::from_micros(d.micros)),
                    "berthd",
                    format!("      {}", d.name),
                    d.detail.clone(),
                ));
            }
        }
        let w_ms = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(2);
        let w_step = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
        let mut out =
            String::from("berth run --explain (milliseconds, measured where each step ran):\n");
        out.push_str(&format!(
            "{:>w_ms$}  {:<6}  {:<w_step$}  DETAIL\n",
            "MS", "WHERE", "STEP"
        ));
        for (m, at, step, detail) in rows {
            out.push_str(format!("{m:>w_ms$}  {at:<6}  {step:<w_step$}  {detail}").trim_end());
            out.push('\n');
        }
        if let Some(t) = self.total {
            out.push_str(&format!(
                "{:>w_ms$}  total (wall clock of berth run)\n",
                ms(t)
            ));
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "step": s.name,
                    "detail": s.detail,
                    "ms": s.elapsed.map(ms_f64),
                    "daemon": s.daemon.iter().map(|d| serde_json::json!({
                        "step": d.name,
                        "detail": d.detail,
                        "ms": ms_f64(Duration::from_micros(d.micros)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({ "steps": steps, "total_ms": self.total.map(ms_f64) })
    }
}

fn ms_f64(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

fn ms(d: Duration) -> String {
    format!("{:.1}", ms_f64(d))
}

/// "1.2 MB" style byte counts for details.
pub fn bytes(n: u64) -> String {
    super::format::human_size(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trace {
        let mut t = Trace::default();
        t.step(
            "client -> daemon",
            "unix:///run/x.sock",
            Some(Duration::from_micros(400)),
        );
        t.call(
            "create container",
            "Containers.Create",
            Duration::from_millis(12),
            vec![pb::Step {
                name: "snapshot prepared".into(),
                detail: "1 layer".into(),
                micros: 5_250,
            }],
        );
        t.step("container kept", "until berth rm", None);
        t.total = Some(Duration::from_millis(20));
        t
    }

    #[test]
    fn text_lists_steps_with_milliseconds() {
        let out = sample().render(ExplainFormat::Text);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[2].contains("0.4") && lines[2].contains("1. client -> daemon"),
            "{out}"
        );
        assert!(
            lines[4].contains("5.2") && lines[4].contains("berthd"),
            "{out}"
        );
        assert!(lines[5].trim_start().starts_with('-'), "{out}");
        assert!(lines[6].contains("20.0"), "{out}");
    }

    #[test]
    fn json_nests_daemon_steps() {
        let v: serde_json::Value =
            serde_json::from_str(&sample().render(ExplainFormat::Json)).unwrap();
        assert_eq!(v["steps"][1]["daemon"][0]["ms"], 5.25);
        assert_eq!(v["steps"][2]["ms"], serde_json::Value::Null);
        assert_eq!(v["total_ms"], 20.0);
    }
}
