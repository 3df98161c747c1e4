//! A small QMP (QEMU Machine Protocol) client over a unix socket: the greeting,
//! `qmp_capabilities`, commands and their replies, with events skipped. QEMU's replies are
//! untrusted input: each message is one line of at most [`MAX_MESSAGE`] bytes, parsed as JSON,
//! and only the fields we need are looked at; every read has a timeout.
//!
//! [`dump_guest_memory`] is the cloud operator's attack: QEMU writes all of guest RAM as an ELF
//! core with guest-physical `PT_LOAD`s (`paging=false`) into a file that we create (0600,
//! `create_new`, no symlinks) and pass to QEMU over the socket (`getfd`, `SCM_RIGHTS`), so QEMU
//! never opens a path of ours.

use std::io::{BufRead, BufReader, IoSlice, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::coredump::output::OutputError;

/// Longest QMP message we accept (QEMU's replies here are a few hundred bytes).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Most events skipped while waiting for one reply.
const MAX_SKIPPED: usize = 10_000;

/// Errors of the QMP client.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// Connecting to the socket failed.
    #[error("connecting to QMP socket {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing the socket failed (a timeout included).
    #[error("QMP I/O ({what}): {source}")]
    Io {
        /// The step.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// QEMU closed the connection.
    #[error("QEMU closed the QMP connection")]
    Closed,
    /// A message was not what QMP promises.
    #[error("unexpected QMP message: {0}")]
    Protocol(String),
    /// QEMU answered a command with an error.
    #[error("QMP command {command} failed: {class}: {desc}")]
    Command {
        /// The command.
        command: String,
        /// QEMU's error class.
        class: String,
        /// QEMU's description.
        desc: String,
    },
    /// The dump file could not be created or published.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The dump file could not be read back.
    #[error("dump file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> QmpError {
    move |source| QmpError::Io { what, source }
}

/// A QMP connection in command mode.
pub struct Qmp {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Qmp {
    /// Connects, reads the greeting and enters command mode. `timeout` bounds each read.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Self, QmpError> {
        let stream = UnixStream::connect(socket).map_err(|source| QmpError::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(io("setting a read timeout"))?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(io("setting a write timeout"))?;
        let reader = BufReader::new(stream.try_clone().map_err(io("cloning the socket"))?);
        let mut q = Self { stream, reader };
        let greeting = q.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(format!(
                "no QMP greeting: {}",
                short(&greeting)
            )));
        }
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    /// Changes the timeout of each read (a long dump needs more than the handshake).
    pub fn set_timeout(&self, timeout: Duration) -> Result<(), QmpError> {
        self.stream
            .set_read_timeout(Some(timeout))
            .map_err(io("setting a read timeout"))
    }

    /// Runs a command and returns its `return` value; events that arrive first are skipped.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut line = msg.to_string();
        line.push('\n');
        self.stream
            .write_all(line.as_bytes())
            .map_err(io("sending a command"))?;
        self.reply(command)
    }

    /// Like [`Qmp::execute`], passing `fd` along with the command (`SCM_RIGHTS`): how `getfd`
    /// hands QEMU a file descriptor.
    fn execute_with_fd(
        &mut self,
        command: &str,
        arguments: Value,
        fd: &impl AsRawFd,
    ) -> Result<Value, QmpError> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let line = format!(
            "{}\n",
            json!({ "execute": command, "arguments": arguments })
        );
        let fds = [fd.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let iov = [IoSlice::new(line.as_bytes())];
        let sent = sendmsg::<()>(
            self.stream.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|e| QmpError::Io {
            what: "sending a file descriptor",
            source: e.into(),
        })?;
        if sent != line.len() {
            // Rest of the line (the fd went with the first byte).
            self.stream
                .write_all(line.as_bytes().get(sent..).unwrap_or(&[]))
                .map_err(io("sending a command"))?;
        }
        self.reply(command)
    }

    fn reply(&mut self, command: &str) -> Result<Value, QmpError> {
        for _ in 0..MAX_SKIPPED {
            let msg = self.read_message()?;
            if let Some(r) = msg.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = msg.get("error") {
                let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
                return Err(QmpError::Command {
                    command: command.to_string(),
                    class: text("class"),
                    desc: text("desc"),
                });
            }
            if msg.get("event").is_none() {
                return Err(QmpError::Protocol(short(&msg)));
            }
            tracing::debug!(event = %short(&msg), "QMP event");
        }
        Err(QmpError::Protocol(format!(
            "no reply to {command} after {MAX_SKIPPED} events"
        )))
    }

    /// Reads one message: one line, bounded, a JSON object.
    fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut buf = Vec::new();
        loop {
            let chunk = self.reader.fill_buf().map_err(io("reading a reply"))?;
            if chunk.is_empty() {
                return Err(QmpError::Closed);
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if buf.len().saturating_add(take) > MAX_MESSAGE {
                return Err(QmpError::Protocol(format!(
                    "message longer than {MAX_MESSAGE} bytes"
                )));
            }
            buf.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
            self.reader.consume(take);
            if done {
                break;
            }
        }
        let v: Value = serde_json::from_slice(&buf)
            .map_err(|e| QmpError::Protocol(format!("not JSON ({e})")))?;
        if !v.is_object() {
            return Err(QmpError::Protocol("not a JSON object".into()));
        }
        Ok(v)
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(200).collect()
}

/// What [`dump_guest_memory`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestDump {
    /// The ELF core (mode 0600).
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Asks QEMU (QMP at `socket`) to write guest memory as an ELF core (`dump-guest-memory`,
/// `paging=false`: guest-physical `PT_LOAD`s) to `out`. The file is an [`OutputFile`] (0600,
/// new, not through a symlink, under a temporary name next to `out`, removed on failure),
/// passed to QEMU as a file descriptor, and renamed to `out` when QEMU reports the dump
/// complete; an existing `out` is never replaced. Waits synchronously
/// (QEMU pauses the guest while it writes) for at most `timeout`.
pub fn dump_guest_memory_with_timeout(
    socket: &Path,
    out: &Path,
    timeout: Duration,
) -> Result<GuestDump, QmpError> {
    let file_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| QmpError::File { path, source }
    };
    // The one creation path for output files: unnamed until QEMU is done, 0600, never through
    // a link, never replacing an existing file.
    let output =
        crate::files::output::OutputFile::create(out, false).map_err(|e| QmpError::File {
            path: out.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    let file = output.file();
    let result = (|| {
        let mut q = Qmp::connect(socket, Duration::from_secs(10))?;
        q.execute_with_fd("getfd", json!({ "fdname": "confidump-dump" }), file)?;
        q.set_timeout(timeout)?;
        q.execute(
            "dump-guest-memory",
            Some(json!({
                "paging": false,
                "protocol": "fd:confidump-dump",
                "detach": false,
            })),
        )?;
        Ok::<(), QmpError>(())
    })();
    result?;
    let bytes = file.metadata().map(|m| m.len()).map_err(file_err(out))?;
    output.commit().map_err(|e| QmpError::File {
        path: out.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    Ok(GuestDump {
        path: out.to_path_buf(),
        bytes,
    })
}

/// [`dump_guest_memory_with_timeout`] with a 120 s limit, far above what a guest's dump takes
/// (measurements: docs/performance.md, "Design measurements").
pub fn dump_guest_memory(socket: &Path, out: &Path) -> Result<GuestDump, QmpError> {
    dump_guest_memory_with_timeout(socket, out, Duration::from_secs(120))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A fake QEMU: greeting, then canned replies, one per received line.
    fn fake(replies: Vec<&'static str>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qmp.sock");
        let l = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
                .unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            for reply in replies {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 {
                    return;
                }
                s.write_all(reply.as_bytes()).unwrap();
            }
        });
        (dir, sock)
    }

    #[test]
    fn handshake_events_and_errors() {
        let (_d, sock) = fake(vec![
            "{\"return\": {}}\r\n",
            "{\"event\": \"STOP\"}\r\n{\"return\": {\"status\": \"running\"}}\r\n",
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\r\n",
            "[1,2]\r\n",
        ]);
        let mut q = Qmp::connect(&sock, Duration::from_secs(5)).unwrap();
        let r = q.execute("query-status", None).unwrap();
        assert_eq!(r["status"], "running");
        let e = q.execute("x", None).unwrap_err();
        assert!(e.to_string().contains("GenericError: nope"), "{e}");
        assert!(matches!(q.execute("y", None), Err(QmpError::Protocol(_))));
    }

    #[test]
    fn no_greeting_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("q.sock");
        let l = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"{\"hello\": 1}\n").unwrap();
            std::thread::park();
        });
        assert!(matches!(
            Qmp::connect(&sock, Duration::from_secs(5)),
            Err(QmpError::Protocol(_))
        ));
    }
}
