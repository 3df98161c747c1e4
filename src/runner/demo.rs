//! `confidump demo`, first cut: the same kind of secret in ordinary memory and in
//! `memfd_secret` memory, one root attacker, the two results side by side.
//!
//! Victims are real child processes (this same executable, `victim` subcommand); the attacker
//! is the real dumper and scanner. Victims are stopped (SIGTERM, then SIGKILL) when their guard
//! drops, whatever happens in between.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::attack::{self, outcome_word, protection_label, refused_regions, Attack, AttackPath};
use super::present;
use crate::scan::{Needles, Shape};
use crate::victim::ReadyLine;

/// How long a victim may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Errors of the demo runner.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The victim could not be started.
    #[error("starting the {mode} victim: {source}")]
    Spawn {
        /// Which mode.
        mode: String,
        /// Why.
        source: std::io::Error,
    },
    /// The victim exited or stalled before it was ready.
    #[error("the {mode} victim did not become ready: {detail}")]
    NotReady {
        /// Which mode.
        mode: String,
        /// What happened (its error message when it printed one).
        detail: String,
    },
    /// An attack failed.
    #[error(transparent)]
    Attack(#[from] attack::AttackError),
}

/// A running victim; stopped and reaped on drop.
pub struct VictimProcess {
    child: Child,
    /// What it announced.
    pub ready: ReadyLine,
}

impl VictimProcess {
    /// Starts `exe victim --mode MODE` and waits for its ready line.
    pub fn spawn(exe: &Path, mode: &str) -> Result<Self, DemoError> {
        let mut child = Command::new(exe)
            .args(["victim", "--mode", mode])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DemoError::Spawn {
                mode: mode.to_string(),
                source,
            })?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        // A thread reads the line so the wait can time out; it ends when the pipe closes.
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
        match ReadyLine::parse(&line) {
            Ok(ready) => Ok(Self { child, ready }),
            Err(_) => {
                let _ = child.kill();
                let detail = match child.wait_with_output() {
                    Ok(o) if !o.stderr.is_empty() => {
                        String::from_utf8_lossy(&o.stderr).trim().to_string()
                    }
                    _ if line.is_empty() => format!("no ready line within {READY_TIMEOUT:?}"),
                    _ => "its ready line did not parse".to_string(),
                };
                Err(DemoError::NotReady {
                    mode: mode.to_string(),
                    detail,
                })
            }
        }
    }

    /// The victim's PID.
    pub fn pid(&self) -> i32 {
        self.ready.pid
    }

    /// The hash-only needle an attacker gets: the SHA-256 from the ready line, canary shape.
    pub fn needles(&self) -> Needles {
        let mut n = Needles::new();
        let mut digest = [0u8; 32];
        if hex::decode_to_slice(&self.ready.secret_sha256, &mut digest).is_ok() {
            n.add_hash(Shape::Any, digest);
        }
        n
    }
}

impl Drop for VictimProcess {
    fn drop(&mut self) {
        // SIGTERM lets it zeroize and exit 0; SIGKILL if it does not within a second.
        let pid = nix::unistd::Pid::from_raw(self.ready.pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One column of the demo: a protection and what the attack got.
pub struct Column {
    /// `plain` or `secretmem`.
    pub mode: &'static str,
    /// What holds the secret, in words.
    pub holds: &'static str,
    /// What we expect the attacker to see.
    pub expected: &'static str,
    /// The attack, or why it could not run (`not available on this host: ...`).
    pub result: Result<Attack, String>,
}

impl Column {
    /// True when the observed outcome is the expected one (n/a counts as met: it says why).
    pub fn met(&self) -> bool {
        match &self.result {
            Ok(a) => outcome_word(&a.report) == self.expected,
            Err(_) => true,
        }
    }
}

/// Starts the victims, attacks each with confidump's dump, and returns the columns.
pub fn run_demo(exe: &Path) -> Result<Vec<Column>, DemoError> {
    let plans: [(&'static str, &'static str, &'static str); 2] = [
        ("plain", "ordinary heap memory", "LEAK"),
        ("secretmem", "memfd_secret (enclave stand-in)", "PROTECTED"),
    ];
    let mut cols = Vec::new();
    for (mode, holds, expected) in plans {
        let result = match VictimProcess::spawn(exe, mode) {
            Ok(v) => Ok(attack::attack(
                v.pid(),
                AttackPath::Dump,
                &v.needles(),
                None,
            )?),
            Err(DemoError::NotReady { detail, .. }) if mode == "secretmem" => Err(format!(
                "not available on this host: needs memfd_secret (Linux >= 5.14; \
                 secretmem.enable=1 before 6.5): {detail}"
            )),
            Err(e) => return Err(e),
        };
        cols.push(Column {
            mode,
            holds,
            expected,
            result,
        });
    }
    Ok(cols)
}

fn cell(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n > width {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// What root sees, squeezed into a table cell: the found text, or `????`.
fn glimpse(a: &Attack) -> String {
    if let Some(h) = a.report.hits.first() {
        let len = usize::try_from(h.len.min(40)).unwrap_or(40);
        let mut buf = vec![0u8; len];
        if a.source.read_exact_at(h.vaddr, &mut buf).is_ok() {
            return buf
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
        }
    }
    if !refused_regions(&a.report).is_empty() {
        return "?".repeat(34);
    }
    "(nothing)".to_string()
}

/// The side-by-side table, then each column's view.
pub fn render(cols: &[Column], color: bool) -> String {
    const LABEL: usize = 20;
    const COL: usize = 46;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "confidump demo: the same kind of secret, two protections, one root attacker\n\
         (confidump dump: ptrace-stop, copy every mapping, then scan the core for the secret by its hash)\n"
    );
    let row = |out: &mut String, label: &str, vals: Vec<String>| {
        let mut line = cell(label, LABEL);
        for v in vals {
            line.push_str(&cell(&v, COL));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    };
    row(
        &mut out,
        "",
        cols.iter().map(|c| c.mode.to_string()).collect(),
    );
    row(
        &mut out,
        "secret held in",
        cols.iter().map(|c| c.holds.to_string()).collect(),
    );
    row(
        &mut out,
        "attacker ran",
        cols.iter()
            .map(|c| match &c.result {
                Ok(a) => AttackPath::Dump
                    .command(a.pid)
                    .split(" && ")
                    .next()
                    .unwrap_or("")
                    .to_string(),
                Err(_) => "-".to_string(),
            })
            .collect(),
    );
    row(
        &mut out,
        "verdict",
        cols.iter()
            .map(|c| match &c.result {
                Ok(a) => {
                    let w = outcome_word(&a.report);
                    let shown = if w == "PROTECTED" {
                        "???? (PROTECTED)".to_string()
                    } else {
                        w.to_string()
                    };
                    if c.met() {
                        shown
                    } else {
                        format!("{shown} (expected {})", c.expected)
                    }
                }
                Err(_) => "n/a".to_string(),
            })
            .collect(),
    );
    row(
        &mut out,
        "where",
        cols.iter()
            .map(|c| match &c.result {
                Ok(a) => match a.report.hits.first() {
                    Some(h) => format!("{} {:#x}", h.mapping, h.vaddr),
                    None => refused_regions(&a.report)
                        .first()
                        .map(|u| format!("{} refused the read", u.mapping))
                        .unwrap_or_else(|| "-".to_string()),
                },
                Err(reason) => reason.clone(),
            })
            .collect(),
    );
    row(
        &mut out,
        "root sees",
        cols.iter()
            .map(|c| match &c.result {
                Ok(a) => glimpse(a),
                Err(_) => "-".to_string(),
            })
            .collect(),
    );
    for c in cols {
        let _ = writeln!(out, "\n── {} ({}) ──", c.mode, c.holds);
        match &c.result {
            Ok(a) => {
                out.push_str(&present::render(a, color));
                if let Some(u) = refused_regions(&a.report).first() {
                    if let Some(label) = protection_label(&u.mapping) {
                        let _ = writeln!(out, "note: {label}");
                    }
                }
            }
            Err(reason) => {
                let _ = writeln!(out, "n/a: {reason}");
            }
        }
    }
    let bad: Vec<&Column> = cols.iter().filter(|c| !c.met()).collect();
    if bad.is_empty() {
        let _ = writeln!(out, "\nresult: every outcome was the expected one");
    } else {
        for c in bad {
            let _ = writeln!(out, "\nMISMATCH: {} expected {}", c.mode, c.expected);
        }
    }
    out
}
