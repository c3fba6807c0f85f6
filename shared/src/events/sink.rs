//! Where event and metrics lines go: standard output (CloudWatch Logs in Lambda, the terminal
//! locally), or memory for tests.

use std::io::Write;
use std::sync::Mutex;

/// Takes the lines of one request at a time.
pub trait Sink: Send + Sync {
    /// Writes `lines` (JSON objects separated by newlines, none at the end).
    fn write(&self, lines: &str);
}

/// Standard output, one line per write (the lock keeps lines whole).
#[derive(Debug, Default)]
pub struct Stdout;

impl Sink for Stdout {
    fn write(&self, lines: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{lines}");
    }
}

/// Lines kept in memory, for tests.
#[derive(Debug, Default)]
pub struct Memory(Mutex<Vec<String>>);

impl Memory {
    /// The lines written so far, parsed.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.0
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The lines written so far, as written.
    pub fn raw(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Sink for Memory {
    fn write(&self, lines: &str) {
        if let Ok(mut kept) = self.0.lock() {
            kept.extend(lines.lines().map(str::to_owned));
        }
    }
}
