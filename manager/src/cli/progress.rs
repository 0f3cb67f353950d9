//! Renders pull/push progress like `docker pull`: one line per blob, redrawn in place on a terminal,
//! printed once per status change otherwise.

use std::io::{IsTerminal, Write};

use berth_proto::v1::BlobProgress;

use super::format::human_size;

/// Progress renderer for one pull or push.
pub struct ProgressView {
    out: Box<dyn Write + Send>,
    tty: bool,
    quiet: bool,
    // (id, current line) in first-seen order: the block of lines being redrawn on a terminal.
    lines: Vec<(String, String)>,
    drawn: usize,
}

const BAR_WIDTH: usize = 50;

fn bar(current: i64, total: i64) -> String {
    let current = current.max(0) as u64;
    if total <= 0 {
        return human_size(current);
    }
    let total = total as u64;
    let filled = ((current.min(total) as f64 / total as f64) * BAR_WIDTH as f64) as usize;
    let body = if filled >= BAR_WIDTH {
        "=".repeat(BAR_WIDTH)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled),
            " ".repeat(BAR_WIDTH - filled - 1)
        )
    };
    format!("[{body}]  {}/{}", human_size(current), human_size(total))
}

fn moving(status: &str) -> bool {
    matches!(status, "Downloading" | "Extracting" | "Pushing")
}

/// The text Docker shows for a blob event, without the id. Byte counts only on a terminal.
pub fn blob_text(b: &BlobProgress, tty: bool) -> String {
    if tty && moving(&b.status) {
        format!("{} {}", b.status, bar(b.current, b.total))
    } else {
        b.status.clone()
    }
}

impl ProgressView {
    /// A renderer writing to stdout (live-updating if it is a terminal); `quiet` suppresses output.
    pub fn new(quiet: bool) -> Self {
        Self::with_writer(
            Box::new(std::io::stdout()),
            std::io::stdout().is_terminal(),
            quiet,
        )
    }

    /// A renderer writing to stderr (live-updating if it is a terminal): the progress of a pull
    /// that `run` and `create` make, as Docker's client does, so stdout holds only what the
    /// command itself prints (the container's id with `-d`, its output otherwise).
    pub fn stderr() -> Self {
        Self::with_writer(
            Box::new(std::io::stderr()),
            std::io::stderr().is_terminal(),
            false,
        )
    }

    /// A renderer writing to `out`.
    pub fn with_writer(out: Box<dyn Write + Send>, tty: bool, quiet: bool) -> Self {
        ProgressView {
            out,
            tty,
            quiet,
            lines: Vec::new(),
            drawn: 0,
        }
    }

    /// Prints a line not tied to a blob. It ends the current block of blob lines.
    pub fn message(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        self.lines.clear();
        self.drawn = 0;
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// Shows a blob event.
    pub fn blob(&mut self, b: &BlobProgress) {
        if self.quiet {
            return;
        }
        let text = format!("{}: {}", b.id, blob_text(b, self.tty));
        match self.lines.iter_mut().find(|(id, _)| *id == b.id) {
            Some((_, line)) if *line == text => return,
            Some((_, line)) => *line = text.clone(),
            None => self.lines.push((b.id.clone(), text.clone())),
        }
        if self.tty {
            self.redraw();
        } else {
            let _ = writeln!(self.out, "{text}");
            let _ = self.out.flush();
        }
    }

    fn redraw(&mut self) {
        if self.drawn > 0 {
            let _ = write!(self.out, "\x1b[{}A", self.drawn);
        }
        for (_, line) in &self.lines {
            let _ = writeln!(self.out, "\x1b[2K{line}");
        }
        self.drawn = self.lines.len();
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn ev(id: &str, status: &str, current: i64, total: i64) -> BlobProgress {
        BlobProgress {
            id: id.into(),
            digest: String::new(),
            status: status.into(),
            current,
            total,
        }
    }

    #[test]
    fn plain_output_prints_status_changes_once() {
        let buf = Buf::default();
        let mut v = ProgressView::with_writer(Box::new(buf.clone()), false, false);
        v.message("latest: Pulling from library/hello-world");
        v.blob(&ev("c1ec31eb5944", "Pulling fs layer", 0, 0));
        v.blob(&ev("c1ec31eb5944", "Downloading", 100, 2000));
        v.blob(&ev("c1ec31eb5944", "Downloading", 900, 2000));
        v.blob(&ev("c1ec31eb5944", "Download complete", 0, 0));
        v.blob(&ev("c1ec31eb5944", "Pull complete", 0, 0));
        v.message("Digest: sha256:abc");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "latest: Pulling from library/hello-world\n\
             c1ec31eb5944: Pulling fs layer\n\
             c1ec31eb5944: Downloading\n\
             c1ec31eb5944: Download complete\n\
             c1ec31eb5944: Pull complete\n\
             Digest: sha256:abc\n"
        );
    }

    #[test]
    fn terminal_output_redraws_lines_in_place() {
        let buf = Buf::default();
        let mut v = ProgressView::with_writer(Box::new(buf.clone()), true, false);
        v.blob(&ev("aaaaaaaaaaaa", "Pulling fs layer", 0, 0));
        v.blob(&ev("bbbbbbbbbbbb", "Pulling fs layer", 0, 0));
        v.blob(&ev("aaaaaaaaaaaa", "Downloading", 1000, 2000));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("\x1b[2A"), "{text:?}");
        assert!(
            text.ends_with("\x1b[2Kbbbbbbbbbbbb: Pulling fs layer\n"),
            "{text:?}"
        );
        assert!(
            text.contains("aaaaaaaaaaaa: Downloading [=========================>"),
            "{text:?}"
        );
        assert!(text.contains("1kB/2kB"), "{text:?}");
    }

    #[test]
    fn quiet_prints_nothing() {
        let buf = Buf::default();
        let mut v = ProgressView::with_writer(Box::new(buf.clone()), false, true);
        v.message("x");
        v.blob(&ev("a", "Pull complete", 0, 0));
        assert!(buf.0.lock().unwrap().is_empty());
    }
}
