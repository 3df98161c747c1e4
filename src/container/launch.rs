//! What every runtime shares: the pipes, the victim's arguments, waiting for its ready line,
//! the stdin relay, and stopping.
//!
//! Rules: from the moment a child exists, a [`ContainerVictim`] owns it, so that every error
//! path after that point goes through the one cleanup in its `Drop` (close the lifeline, wait,
//! kill, delete the container, remove the directory).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use zeroize::Zeroizing;

use super::{
    cleanup, oci, ContainerError, ContainerInfo, ContainerOptions, ContainerReady, ContainerVictim,
    Runtime, SecretDelivery, StopOutcome, Waiter,
};
use crate::isolate::{namespaces, ChildStdio};
use crate::victim::{Generator, ReadyLine};

/// Longest ready line accepted.
const MAX_READY_LINE: usize = 64 * 1024;

/// The last lines the runtime and the victim wrote on stderr, filled by a reader thread.
#[derive(Debug, Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// The kept lines, newline-separated.
    pub fn text(&self) -> String {
        crate::victim::lines::tail_text(&self.0)
    }

    fn spawn_reader(&self, fd: OwnedFd) -> Option<std::thread::JoinHandle<()>> {
        let keep = Arc::clone(&self.0);
        std::thread::Builder::new()
            .name("container-stderr".into())
            .spawn(move || crate::victim::lines::read_lines(File::from(fd), &keep, |_| true))
            .ok()
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), ContainerError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|errno| ContainerError::Sys {
        what: "pipe2",
        errno,
    })
}

/// `victim --mode … --until-eof` plus the secret's source, as the victim inside sees it.
pub(crate) fn victim_args(
    opts: &ContainerOptions,
    secret_file_inside: Option<&str>,
) -> Result<Vec<String>, ContainerError> {
    let mut args = vec![
        "victim".to_string(),
        "--mode".to_string(),
        opts.mode.as_str().to_string(),
        // The lifeline: the victim stops when our end of its stdin closes.
        "--until-eof".to_string(),
    ];
    match &opts.secret {
        SecretDelivery::Generate(g) => {
            args.push("--generate".into());
            args.push(
                match g {
                    Generator::Canary => "canary",
                    Generator::Pan => "pan",
                }
                .into(),
            );
        }
        SecretDelivery::Bytes(_) | SecretDelivery::Stdin => args.push("--secret-stdin".into()),
        SecretDelivery::File(_) => {
            let inside = secret_file_inside.ok_or(ContainerError::Mode("file"))?;
            args.push("--secret-file".into());
            args.push(inside.to_string());
        }
        SecretDelivery::Arg(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| ContainerError::Io {
                what: "--secret-arg must be UTF-8 text:",
                path: PathBuf::from("argv"),
                source: std::io::Error::from(std::io::ErrorKind::InvalidData),
            })?;
            args.push("--secret-arg".into());
            args.push(text.to_string());
        }
    }
    Ok(args)
}

pub(crate) fn start(opts: &ContainerOptions) -> Result<ContainerVictim, ContainerError> {
    let runtime = opts.runtime;
    let program = match runtime.program() {
        Some(_) => Some(oci::find_program(runtime)?),
        None => None,
    };
    let (dir, id) = cleanup::private_dir(runtime)?;
    let dir_guard = cleanup::DirGuard(Some(dir.clone()));

    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let stdio = ChildStdio {
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
    };
    let waiter = match (&program, runtime) {
        (Some(program), Runtime::Runc | Runtime::Crun) => {
            let secret_file = match &opts.secret {
                SecretDelivery::File(p) => {
                    Some(std::fs::canonicalize(p).map_err(io_err_owned("opening secret file", p))?)
                }
                _ => None,
            };
            let args = victim_args(opts, secret_file.as_ref().map(|_| oci::SECRET_MOUNT))?;
            let (_, init) = crate::isolate::init::static_init()?;
            oci::write_bundle(
                &dir,
                &init,
                &oci::BundleSpec {
                    args: &args,
                    hostname: &id,
                    allow_core: opts.allow_core,
                    secret_file: secret_file.as_deref(),
                },
            )?;
            Waiter::Runtime(oci::spawn(program, &dir, &id, stdio)?)
        }
        _ => {
            let inside = match &opts.secret {
                // The namespaces victim shares the host's file tree (a private copy of it).
                SecretDelivery::File(p) => Some(
                    std::fs::canonicalize(p)
                        .map_err(io_err_owned("opening secret file", p))?
                        .to_string_lossy()
                        .into_owned(),
                ),
                _ => None,
            };
            let args = victim_args(opts, inside.as_deref())?;
            let exe = match &opts.exe {
                Some(e) => e.clone(),
                None => std::env::current_exe().map_err(io_err_owned(
                    "finding the running binary",
                    &PathBuf::from("/proc/self/exe"),
                ))?,
            };
            let pid = namespaces::spawn(&namespaces::Spawn {
                exe: &exe,
                args: &args,
                cwd: &dir,
                hostname: &id,
                allow_core: opts.allow_core,
                stdio,
            })?;
            Waiter::Direct(pid)
        }
    };
    // From here on the victim owns the directory: its Drop removes it.
    let mut dir_guard = dir_guard;
    dir_guard.0 = None;
    let exit_fd = crate::memory::alive::pidfd_open(match &waiter {
        Waiter::Direct(p) => p.as_raw(),
        Waiter::Runtime(c) => i32::try_from(c.id()).unwrap_or(-1),
    });
    let direct_pid = match &waiter {
        Waiter::Direct(p) => p.as_raw(),
        Waiter::Runtime(_) => 0,
    };
    let stderr = StderrTail::default();
    let stderr_reader = stderr.spawn_reader(err_r);
    let mut victim = ContainerVictim {
        ready: ContainerReady {
            ready: ReadyLine::new(
                direct_pid,
                opts.mode.as_str(),
                &[0; 32],
                0,
                crate::model::Span::new(0, 0),
            ),
            context: "container".into(),
            container: ContainerInfo {
                runtime: runtime.as_str().into(),
                id: id.clone(),
                pid_in_container: 0,
            },
        },
        runtime,
        lifeline: Arc::new(Mutex::new(Some(File::from(in_w)))),
        waiter: Some(waiter),
        exit_fd,
        dir,
        stderr,
        program,
    };

    if let SecretDelivery::Bytes(secret) = &opts.secret {
        let mut line = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
        line.extend_from_slice(secret);
        line.push(b'\n');
        if let Ok(mut guard) = victim.lifeline.lock() {
            if let Some(f) = guard.as_mut() {
                // A failure means the victim is gone: reported below as its early exit.
                let _ = f.write_all(&line);
            }
        }
    }
    // The relay may see the end of our stdin at once (a secret piped in with --until-eof):
    // it closes the victim's stdin only once start() is done, so that the victim cannot be
    // gone before its host PID is known.
    let gate = Gate::default();
    if matches!(opts.secret, SecretDelivery::Stdin) || opts.until_eof {
        spawn_relay(
            victim.lifeline(),
            matches!(opts.secret, SecretDelivery::Stdin),
            opts.until_eof,
            gate.clone(),
        );
    }

    let line = match read_ready_line(&out_r, opts.ready_timeout) {
        Ok(line) => line,
        Err(e) => {
            let e = match e {
                ReadFail::Eof => {
                    // The child is gone or going: collect its status and its last words.
                    let status = victim.waiter.as_mut().map(wait_status).unwrap_or_default();
                    if let Some(h) = stderr_reader {
                        let _ = h.join();
                    }
                    let stderr = victim.stderr_tail();
                    match oci::unusable_reason(runtime, &stderr) {
                        Some(reason) => ContainerError::RuntimeUnusable(reason),
                        None => ContainerError::Exited {
                            runtime: runtime.as_str(),
                            status,
                            stderr,
                        },
                    }
                }
                ReadFail::Timeout => ContainerError::ReadyTimeout {
                    runtime: runtime.as_str(),
                    secs: opts.ready_timeout.as_secs(),
                    stderr: victim.stderr_tail(),
                },
                ReadFail::Sys(errno) => ContainerError::Sys {
                    what: "reading the victim's ready line",
                    errno,
                },
            };
            return Err(e);
        }
    };
    let inner = ReadyLine::parse(&line).map_err(|source| ContainerError::Ready {
        line: line.clone(),
        source,
    })?;
    let host_pid = match runtime {
        Runtime::Namespaces => direct_pid,
        Runtime::Runc | Runtime::Crun => match &victim.program {
            Some(program) => {
                oci::host_pid(program, &victim.dir, &victim.ready.container.id, runtime)?
            }
            None => 0,
        },
    };
    check_nspid(host_pid, inner.pid, runtime)?;
    victim.ready.container.pid_in_container = inner.pid;
    let mut host_line = inner;
    host_line.pid = host_pid;
    victim.ready.ready = host_line;
    gate.open();
    Ok(victim)
}

/// A one-way gate: closed until [`Gate::open`]; [`Gate::wait`] blocks while closed.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    fn open(&self) {
        if let Ok(mut g) = self.0 .0.lock() {
            *g = true;
        }
        self.0 .1.notify_all();
    }

    fn wait(&self) {
        let Ok(mut g) = self.0 .0.lock() else {
            return;
        };
        while !*g {
            g = match self.0 .1.wait(g) {
                Ok(g) => g,
                Err(_) => return,
            };
        }
    }
}

fn io_err_owned(
    what: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> ContainerError {
    super::io_err(what, path)
}

/// Checks that host PID `host` is the process whose PID in its own namespace is `inside`
/// (`NSpid:` in /proc/PID/status): the host PID we hand to the attacker is the victim.
fn check_nspid(host: i32, inside: i32, runtime: Runtime) -> Result<(), ContainerError> {
    let fail = |why: String| ContainerError::HostPid {
        runtime: runtime.as_str(),
        why,
    };
    if host <= 1 {
        return Err(fail(format!("implausible host PID {host}")));
    }
    let status = std::fs::read_to_string(format!("/proc/{host}/status"))
        .map_err(|e| fail(format!("/proc/{host}/status: {e}")))?;
    let nspid = parse_nspid(&status).ok_or_else(|| fail("no NSpid line".into()))?;
    match (nspid.first(), nspid.last()) {
        (Some(&h), Some(&i)) if h == host && i == inside && nspid.len() >= 2 => Ok(()),
        _ => Err(fail(format!(
            "host PID {host} has NSpid {nspid:?}, but the victim says it is {inside} inside"
        ))),
    }
}

/// The PIDs of `NSpid:` (outermost namespace first).
pub(crate) fn parse_nspid(status: &str) -> Option<Vec<i32>> {
    let rest = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace();
    rest.map(|p| p.parse().ok()).collect()
}

enum ReadFail {
    Eof,
    Timeout,
    Sys(Errno),
}

/// Reads one line from `fd` within `timeout` (no more than [`MAX_READY_LINE`] bytes).
fn read_ready_line(fd: &OwnedFd, timeout: Duration) -> Result<String, ReadFail> {
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadFail::Timeout);
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(ReadFail::Sys(e)),
        }
        let mut buf = [0u8; 4096];
        let n = match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => return Err(ReadFail::Eof),
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => return Err(ReadFail::Sys(e)),
        };
        let chunk = buf.get(..n).unwrap_or(&[]);
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(chunk.get(..i).unwrap_or(&[]));
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        line.extend_from_slice(chunk);
        if line.len() > MAX_READY_LINE {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

/// Copies our stdin to the victim's (when `forward`), and closes the victim's stdin at our
/// end of input when `until_eof`, unless a `detach` line came first (see
/// [`crate::victim::wait_for_stop`]): the victim then keeps its stdin, and runs until a signal.
fn spawn_relay(lifeline: Arc<Mutex<Option<File>>>, forward: bool, until_eof: bool, gate: Gate) {
    let _ = std::thread::Builder::new()
        .name("container-stdin".into())
        .spawn(move || {
            let mut buf = Zeroizing::new([0u8; 512]);
            let mut detached = false;
            loop {
                match nix::unistd::read(libc::STDIN_FILENO, &mut buf[..]) {
                    Ok(0) => break,
                    Ok(n) => {
                        let chunk = buf.get(..n).unwrap_or(&[]);
                        // A chunk may carry the secret's line and the hand-over together: it
                        // is still forwarded whole (the victim inside sees `detach` too).
                        detached |= crate::victim::has_detach_line(chunk);
                        if forward {
                            let Ok(mut guard) = lifeline.lock() else {
                                return;
                            };
                            let Some(f) = guard.as_mut() else {
                                return;
                            };
                            if f.write_all(chunk).is_err() {
                                return;
                            }
                        }
                    }
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(_) => break,
                }
            }
            if until_eof && !detached {
                // If start() fails the gate stays closed: this thread then waits until the
                // process exits, and the victim was stopped by the failed start's cleanup.
                gate.wait();
                if let Ok(mut guard) = lifeline.lock() {
                    guard.take();
                }
            }
        });
}

/// `: exit status …` of a child that is exiting (blocks until it has).
fn wait_status(w: &mut Waiter) -> String {
    match w {
        Waiter::Direct(pid) => match waitpid(*pid, None) {
            Ok(s) => format!(": {s:?}"),
            Err(_) => String::new(),
        },
        Waiter::Runtime(child) => match child.wait() {
            Ok(s) => format!(": {s}"),
            Err(_) => String::new(),
        },
    }
}

/// Closes the lifeline, waits up to `timeout` for the waiter to exit, kills after that.
pub(crate) fn stop(
    mut waiter: Waiter,
    lifeline: &Mutex<Option<File>>,
    host_pid: i32,
    exit_fd: Option<OwnedFd>,
    timeout: Duration,
) -> StopOutcome {
    let already = exit_fd
        .as_ref()
        .is_some_and(|fd| exited(fd, Duration::ZERO));
    if let Ok(mut guard) = lifeline.lock() {
        guard.take();
    }
    let stopped = match &exit_fd {
        Some(fd) => exited(fd, timeout),
        None => false,
    };
    if !stopped {
        // Never signal PID 0, 1 or -1: a bogus PID would hit a process group or everything.
        if host_pid > 1 {
            let _ = kill(Pid::from_raw(host_pid), Signal::SIGKILL);
        }
        if let Waiter::Runtime(child) = &mut waiter {
            // The runtime deletes the container once its process is gone; give it a moment,
            // then make sure it is not left waiting.
            if !exit_fd.as_ref().is_some_and(|fd| exited(fd, timeout)) {
                let _ = child.kill();
            }
        }
    }
    match &mut waiter {
        Waiter::Direct(pid) => {
            let _ = waitpid(*pid, None);
        }
        Waiter::Runtime(child) => {
            let _ = child.wait();
        }
    }
    if already {
        StopOutcome::AlreadyExited
    } else if stopped {
        StopOutcome::Stopped
    } else {
        StopOutcome::Killed
    }
}

/// True when the pidfd becomes readable (its process exited) within `timeout`.
fn exited(fd: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) if n > 0 => return true,
            Ok(_) if left.is_zero() => return false,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::victim::Mode;

    #[test]
    fn nspid_is_parsed() {
        let s = "Name:\tconfidump\nPid:\t4242\nNSpid:\t4242\t1\nNSsid:\t1\n";
        assert_eq!(parse_nspid(s), Some(vec![4242, 1]));
        assert_eq!(parse_nspid("Pid:\t1\n"), None);
        assert_eq!(parse_nspid("NSpid:\t12\tx\n"), None);
    }

    #[test]
    fn victim_args_carry_the_lifeline_and_the_source() {
        let mut o = ContainerOptions::new(Runtime::Namespaces, Mode::SecretMem);
        let a = victim_args(&o, None).unwrap();
        assert_eq!(
            a,
            [
                "victim",
                "--mode",
                "secretmem",
                "--until-eof",
                "--generate",
                "canary"
            ]
        );
        o.secret = SecretDelivery::Bytes(Zeroizing::new(b"x".to_vec()));
        assert!(victim_args(&o, None)
            .unwrap()
            .contains(&"--secret-stdin".to_string()));
        o.secret = SecretDelivery::File("/etc/hostname".into());
        assert!(victim_args(&o, None).is_err());
        let a = victim_args(&o, Some("/secret")).unwrap();
        assert_eq!(a[a.len() - 2..], ["--secret-file", "/secret"]);
    }
}
