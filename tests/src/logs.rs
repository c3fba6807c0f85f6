//! Captures the JSON log lines `tracing` writes while a test runs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// A shared buffer that a JSON `tracing` subscriber writes into.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// A fresh, empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a JSON subscriber writing into this buffer (every level, spans included) the
    /// default of the current thread until the guard drops.
    pub fn install(&self) -> LogGuard {
        // With exactly one dispatcher alive, tracing-core computes a new callsite's interest
        // from the default of whichever thread hits it first; a test running on another thread
        // would then cache "never" and events on this thread would be lost. A second, idle
        // dispatcher makes it consult every live dispatcher instead.
        let companion = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(self.clone())
            .finish();
        LogGuard {
            _default: tracing::subscriber::set_default(subscriber),
            _companion: companion,
        }
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        let buf = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Keeps the capturing subscriber installed on this thread.
pub struct LogGuard {
    _default: tracing::subscriber::DefaultGuard,
    _companion: tracing::Dispatch,
}

/// One writer handed out per event.
pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(Arc::clone(&self.0))
    }
}
