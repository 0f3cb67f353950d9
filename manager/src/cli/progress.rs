//! Renders pull/push progress like `docker pull`: one line per blob, updated in place on a terminal,
//! printed once per status change otherwise.

use std::io::{IsTerminal, Write};

use berth_proto::v1::BlobProgress;

use super::format::human_size;

/// Progress renderer for one pull or push.
#[derive(Debug)]
pub struct ProgressView {
    tty: bool,
    quiet: bool,
    // (id, current line) in first-seen order; on a TTY these are the lines being redrawn.
    lines: Vec<(String, String)>,
    drawn: usize,
}

fn bar(current: i64, total: i64) -> String {
    if total <= 0 {
        return human_size(current.max(0) as u64);
    }
    let width = 50usize;
    let filled = ((current.clamp(0, total) as f64 / total as f64) * width as f64) as usize;
    let arrow = if filled < width { ">" } else { "" };
    format!(
        "[{}{}{}] {}/{}",
        "=".repeat(
            filled
                .saturating_sub(if arrow.is_empty() { 0 } else { 1 })
                .min(width)
        ),
        arrow,
        " ".repeat(width - filled.min(width)),
        human_size(current.max(0) as u64),
        human_size(total as u64)
    )
}

/// The text Docker shows for a blob event (without the id).
pub fn blob_text(b: &BlobProgress, tty: bool) -> String {
    let moving = matches!(b.status.as_str(), "Downloading" | "Extracting" | "Pushing");
    if tty && moving {
        format!("{} {}", b.status, bar(b.current, b.total))
    } else {
        b.status.clone()
    }
}

impl ProgressView {
    /// A renderer writing to stdout; `quiet` suppresses everything.
    pub fn new(quiet: bool) -> Self {
        ProgressView {
            tty: std::io::stdout().is_terminal(),
            quiet,
            lines: Vec::new(),
            drawn: 0,
        }
    }

    /// Prints a line not tied to a blob.
    pub fn message(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        self.redraw_done();
        println!("{text}");
    }

    /// Shows a blob event.
    pub fn blob(&mut self, b: &BlobProgress) {
        if self.quiet {
            return;
        }
        let text = format!("{}: {}", b.id, blob_text(b, self.tty));
        match self.lines.iter_mut().find(|(id, _)| *id == b.id) {
            Some((_, line)) => {
                if !self.tty && *line == text {
                    return;
                }
                *line = text.clone();
            }
            None => self.lines.push((b.id.clone(), text.clone())),
        }
        if self.tty {
            self.redraw();
        } else {
            // Without a terminal the text carries no byte counts, so this prints status changes only.
            println!("{text}");
        }
    }

    fn redraw(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        for (_, line) in &self.lines {
            let _ = writeln!(out, "\x1b[2K{line}");
        }
        self.drawn = self.lines.len();
        let _ = out.flush();
    }

    // Lines printed after blob lines scroll them away; further blob updates start a fresh block.
    fn redraw_done(&mut self) {
        self.drawn = 0;
        self.lines.clear();
    }
}
