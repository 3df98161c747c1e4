//! The debug trace of the SGX loader's and the CVM launch's steps (each ioctl, each QEMU start,
//! with its result), captured for a bug-report bundle ([`super::bundle`]).
//!
//! [`layer`] is installed beside the log's own layer by the binary, with its own filter: the
//! `debug!` lines of `confidump::sgx` and `confidump::vm` reach it whatever `RUST_LOG` says,
//! and it keeps them only while a capture is on. Those steps run in the victim processes (an
//! SGX victim loads its enclave, a VM victim starts QEMU), so a capture is a private directory
//! named in [`TRACE_ENV`]: every confidump process started while it is on (they inherit the
//! environment) appends its lines to a file of its own there, and [`Capture::finish`] reads
//! them back. Lines are scrubbed of canary-shaped strings by the bundle like every entry.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};

/// The environment variable naming a capture's directory, for the processes it starts.
pub const TRACE_ENV: &str = "CONFIDUMP_TRACE_DIR";

/// The modules whose steps are traced.
pub const TARGETS: &[&str] = &["confidump::sgx", "confidump::vm"];

/// The most kept of one process's trace, and of all of them together.
const TRACE_LIMIT: u64 = 4 << 20;

/// Where this process's lines go while a capture is on.
static SINK: Mutex<Option<File>> = Mutex::new(None);

/// The capture layer: see the module docs.
pub fn layer<S>() -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if let Some(dir) = std::env::var_os(TRACE_ENV) {
        // A process started during a capture: its lines join the capture's directory. One
        // that may not write there (a victim run as another user) simply keeps none.
        if let Ok(f) = open_own(Path::new(&dir)) {
            set_sink(Some(f));
        }
    }
    StepLayer.with_filter(StepFilter)
}

fn set_sink(f: Option<File>) {
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = f;
}

/// `DIR/trace-PID.log`: created new, 0600, never through a link.
fn open_own(dir: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(format!("trace-{}.log", std::process::id())))
}

/// Only the traced modules, debug and above.
struct StepFilter;

impl<S> Filter<S> for StepFilter {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        *meta.level() <= Level::DEBUG && TARGETS.iter().any(|t| meta.target().starts_with(t))
    }
}

/// Writes each event it is given to the sink, when there is one.
pub struct StepLayer;

impl<S: Subscriber> Layer<S> for StepLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
        let Some(file) = sink.as_mut() else {
            return;
        };
        let meta = event.metadata();
        let mut line = Line::default();
        event.record(&mut line);
        let elapsed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let text = format!(
            "{elapsed:.3} pid {} {} {}: {}{}\n",
            std::process::id(),
            meta.level(),
            meta.target(),
            line.message,
            line.fields
        );
        // A trace that cannot be written is no reason to fail the step it describes.
        let _ = file.write_all(text.as_bytes());
    }
}

#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

/// Why a capture could not start.
#[derive(Debug, thiserror::Error)]
#[error("starting the trace capture: {0}")]
pub struct CaptureError(#[from] std::io::Error);

/// A capture under way: on from [`Capture::start`] until [`Capture::finish`] (or drop, which
/// removes its directory).
pub struct Capture {
    dir: Option<crate::files::workdir::DirGuard>,
}

impl Capture {
    /// Starts capturing: this process's lines and those of every process it starts from now.
    /// Call it before anything else runs (it sets [`TRACE_ENV`] in this process's environment,
    /// which the processes it starts inherit).
    pub fn start() -> Result<Self, CaptureError> {
        let dir = crate::files::workdir::DirGuard::create("confidump-trace")?;
        set_sink(Some(open_own(dir.path())?));
        std::env::set_var(TRACE_ENV, dir.path());
        Ok(Self { dir: Some(dir) })
    }

    /// Stops capturing and returns every process's lines, this process's first, each file
    /// under a heading; the directory is removed.
    pub fn finish(mut self) -> String {
        self.stop();
        let Some(dir) = self.dir.take() else {
            return String::new();
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        let own = format!("trace-{}.log", std::process::id());
        files.sort_by_key(|p| (p.file_name() != Some(own.as_ref()), p.clone()));
        let mut out = String::new();
        let mut budget = TRACE_LIMIT;
        for p in files {
            let mut text = String::new();
            let read = File::open(&p)
                .and_then(|f| f.take(budget.min(TRACE_LIMIT)).read_to_string(&mut text));
            if read.is_err() || text.is_empty() {
                continue;
            }
            budget = budget.saturating_sub(text.len() as u64);
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let _ = writeln!(out, "== {} ==", name.unwrap_or_default());
            out.push_str(&text);
        }
        out
    }

    fn stop(&mut self) {
        set_sink(None);
        std::env::remove_var(TRACE_ENV);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}
