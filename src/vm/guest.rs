//! The guest side: confidump as `/init` (PID 1) of a minimal Linux guest.
//!
//! The kernel starts `/init guest-init --mode M` (the words after `--` on its command line), or
//! `/init guest-init --await`, which waits for the host to name the victim ([`super::start`]).
//! PID 1 mounts `/proc`, `/sys` and `/dev`, forks the ordinary victim ([`crate::victim::run`])
//! so that it runs as a normal process (PID 1 ignores default-action signals, which would make
//! it unstoppable), and waits for the host's `stop` line on the console or the victim's end.
//! Then it powers the machine off.
//!
//! What crosses the console to the host is only what the host may know: the victim's ready line
//! (SHA-256 and length of the secret, its guest-virtual region) plus, read from the victim's own
//! `/proc/self/pagemap` as root, the guest-physical page of each page of that region. The
//! secret itself is generated inside the guest and never leaves it.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use crate::memory::PAGE_SIZE;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use serde::{Deserialize, Serialize};

use crate::model::hex_addr;
/// A channel the guest's victim also sends its secret out on ([`crate::model::Wire`]).
pub use crate::model::{Wire, WireError};
use crate::victim::{self, Generator, Mode, ReadyLine, SecretSource, VictimConfig};

/// Marks confidump's own lines on the console, so that kernel messages around them (or a
/// partial line) are never mistaken for them.
pub const MARKER: &str = "@confidump-guest@";

/// What a guest's console line says instead of a ready line ([`parse_console_line`]). The
/// line is the guest's: untrusted text, kept as the guest wrote it.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The guest reported an error (`MARKER error …`): its words.
    #[error("{0}")]
    Reported(String),
    /// A ready line that is not the JSON of a [`GuestReady`].
    #[error("unreadable guest ready line: {0}")]
    Unreadable(#[source] serde_json::Error),
    /// A ready line whose event is not `ready`.
    #[error("unexpected guest event {0:?}")]
    Event(String),
}

/// Why no canary could be made: the filler's reason, shown as the filler names it.
pub struct CanaryFailure(crate::victim::fill::FillError);

impl std::fmt::Debug for CanaryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Why the guest's victim could not run; said on the console as `MARKER error …`.
#[derive(Debug, thiserror::Error)]
pub enum VictimError {
    /// No canary could be made.
    #[error("making the canary: {0:?}")]
    Canary(CanaryFailure),
    /// The canary could not be sent out on the console.
    #[error("writing to the console: {0}")]
    Console(#[source] std::io::Error),
    /// The victim failed. (Not a `source`: the guest's line says the victim's error once,
    /// without its causes, as the host expects it.)
    #[error("victim: {0}")]
    Victim(victim::VictimError),
}

/// The console line that carries a secret sent out on [`Wire::Console`]: `MARKER wire SECRET`.
pub const WIRE_WORD: &str = "wire";

/// Is this console line one the guest sent a secret out on? The host keeps such lines out of
/// every log and error message and hands them to the `wire` attack only.
pub fn is_wire_line(line: &str) -> bool {
    line.find(MARKER).is_some_and(|pos| {
        line.get(pos + MARKER.len()..)
            .is_some_and(|rest| rest.trim_start().starts_with(WIRE_WORD))
    })
}

/// At most this many pages of the secret's region get a guest-physical address in the line.
pub const MAX_PHYS_PAGES: usize = 256;

/// The line the guest prints when its victim is ready: the victim's ready line (guest PID,
/// guest-virtual region) plus guest facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestReady {
    /// The victim's own ready line, as printed inside the guest.
    #[serde(flatten)]
    pub ready: ReadyLine,
    /// For each page of the region, in order: its guest-physical address (`0x…`), or `None`
    /// when the page is not present or the PFN is hidden.
    #[serde(default)]
    pub guest_phys: Vec<Option<String>>,
    /// The guest kernel's release (`uname -r`).
    #[serde(default)]
    pub guest_kernel: Option<String>,
}

/// Errors of the guest-side init.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// Not PID 1: guest-init only makes sense as a guest's `/init`.
    #[error("guest-init runs only as PID 1 inside a confidump guest (this is PID {0})")]
    NotInit(i32),
    /// The host's start line was not one.
    #[error("guest-init: {0}")]
    Start(#[source] super::start::StartError),
    /// The victim's container could not be made.
    #[error("guest-init: container: {0}")]
    Container(#[source] crate::isolate::namespaces::NamespaceError),
    /// The victim in the container failed.
    #[error("guest-init: container: {0}")]
    ContainedVictim(#[source] VictimError),
    /// A system call failed.
    #[error("guest-init: {what}: {errno}")]
    Sys {
        /// The step that failed.
        what: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
}

fn sys(what: &'static str) -> impl FnOnce(Errno) -> GuestError {
    move |errno| GuestError::Sys { what, errno }
}

/// Runs PID 1 of the guest: see the module docs. Returns only if powering off failed (the
/// kernel then panics when PID 1 exits, and `-no-reboot` + `panic=-1` ends QEMU anyway).
pub fn run_init(mode: Mode, container: bool, wire: Option<Wire>) -> Result<(), GuestError> {
    become_init()?;
    serve(mode, container, wire)
}

/// `guest-init --await`: PID 1 says it is waiting, reads the host's
/// [`super::start::StartLine`] from the console, seeds the kernel's CRNG with the host's
/// entropy and then runs the victim it names (see [`super::start`]). A guest snapshot is taken
/// while it waits here.
pub fn run_init_awaiting() -> Result<(), GuestError> {
    use super::start::{read_console_line, seed_kernel_rng, StartLine, WAITING_WORD};
    become_init()?;
    println!("{MARKER} {WAITING_WORD}");
    let _ = std::io::stdout().flush();
    let line = read_console_line(512).map_err(sys("reading the start line"))?;
    let start = StartLine::parse(&line).map_err(GuestError::Start)?;
    seed_kernel_rng(&start.seed).map_err(sys("seeding the CRNG (RNDADDENTROPY)"))?;
    if let Some(scope) = start.yama {
        super::probe::run(scope);
    }
    serve(start.mode, start.container, start.wire)
}

fn become_init() -> Result<(), GuestError> {
    let pid = std::process::id();
    if pid != 1 {
        return Err(GuestError::NotInit(i32::try_from(pid).unwrap_or(-1)));
    }
    mount_basics();
    quiet_console();
    Ok(())
}

/// Forks the victim and waits for `stop` or its end, then powers off.
fn serve(mode: Mode, container: bool, wire: Option<Wire>) -> Result<(), GuestError> {
    // SIGCHLD tells PID 1 that the victim ended; blocked and read from a signalfd before the
    // fork so that no exit can be missed.
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.thread_block().map_err(sys("blocking SIGCHLD"))?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(sys("signalfd"))?;

    let child = if container {
        spawn_contained(mode, wire)?
    } else {
        fork_victim(mode, wire)?
    };

    let status = wait_for_stop_or_exit(child, &sfd);
    println!("{MARKER} exit {status}");
    let _ = std::io::stdout().flush();
    nix::unistd::sync();
    nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF)
        .map_err(sys("reboot(RB_POWER_OFF)"))?;
    Ok(())
}

/// The victim as an ordinary child process of PID 1.
fn fork_victim(mode: Mode, wire: Option<Wire>) -> Result<Pid, GuestError> {
    // SAFETY: PID 1 has not started any thread, so the child is a complete copy of a
    // single-threaded process and may do anything, not only async-signal-safe calls.
    let child = match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            let code = match run_victim(mode, wire) {
                Ok(()) => 0,
                Err(msg) => {
                    println!("{MARKER} error {msg}");
                    1
                }
            };
            std::process::exit(code);
        }
        ForkResult::Parent { child } => child,
    };
    Ok(child)
}

/// The victim in a container inside the guest, as a Kata pod VM runs one: `/init guest-init
/// --in-container` in new pid, mount, uts, ipc and net namespaces
/// ([`crate::isolate::namespaces`], as the host's `namespaces` runtime), where it is PID 1
/// with its own `/proc`. It blocks its stop signals and reads them from a signalfd, so the
/// SIGTERM PID 1 sends it is delivered although a namespace's init ignores unhandled ones.
fn spawn_contained(mode: Mode, wire: Option<Wire>) -> Result<Pid, GuestError> {
    use crate::isolate::namespaces::{spawn, Spawn};
    use crate::isolate::ChildStdio;
    let dup = |fd: std::os::fd::BorrowedFd<'_>, what: &'static str| {
        fd.try_clone_to_owned().map_err(|e| GuestError::Sys {
            what,
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })
    };
    let stdio = ChildStdio {
        stdin: dup(std::io::stdin().as_fd(), "dup stdin")?,
        stdout: dup(std::io::stdout().as_fd(), "dup stdout")?,
        stderr: dup(std::io::stderr().as_fd(), "dup stderr")?,
    };
    let mut args = vec![
        "guest-init".to_string(),
        "--mode".to_string(),
        mode.as_str().to_string(),
        "--in-container".to_string(),
    ];
    if let Some(w) = wire {
        args.extend(["--wire".to_string(), w.as_str().to_string()]);
    }
    spawn(&Spawn {
        exe: std::path::Path::new("/init"),
        args: &args,
        cwd: std::path::Path::new("/"),
        hostname: "pod",
        allow_core: false,
        stdio,
    })
    .map_err(GuestError::Container)
}

/// `guest-init --in-container`: the victim itself, PID 1 of the container's namespaces
/// inside the guest (the mounts are the guest's, `/proc` its own).
pub fn run_contained(mode: Mode, wire: Option<Wire>) -> Result<(), GuestError> {
    run_victim(mode, wire).map_err(|e| {
        // The host reads only marked lines: say it there, as the forked victim does.
        println!("{MARKER} error {e}");
        GuestError::ContainedVictim(e)
    })
}

/// Mounts what the victim and the pagemap lookup need. Failures are reported on the console
/// and otherwise ignored: the victim may still work (an already populated `/dev`, say).
fn mount_basics() {
    use nix::mount::{mount, MsFlags};
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    for (src, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
    ] {
        if let Err(e) = mount(Some(src), target, Some(fstype), flags, None::<&str>) {
            println!("{MARKER} note mounting {target}: {e}");
        }
    }
}

/// Turns off the console's echo so that the host's `stop` line does not come back.
fn quiet_console() {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if let Ok(mut t) = tcgetattr(stdin.as_fd()) {
        t.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &t);
    }
}

/// The forked victim: runs until SIGTERM, with its ready line rewritten by [`GuestReadyOut`].
/// With a `wire`, the canary is made here, sent out once on that channel, and handed to the
/// victim's store.
fn run_victim(mode: Mode, wire: Option<Wire>) -> Result<(), VictimError> {
    let source = match wire {
        None => SecretSource::Generate(Generator::Canary),
        Some(Wire::Console) => {
            let mut secret = zeroize::Zeroizing::new(vec![0u8; 64]);
            let n = crate::victim::fill::generate_canary(&mut secret)
                .map_err(|e| VictimError::Canary(CanaryFailure(e)))?;
            secret.truncate(n);
            send_on_console(&secret).map_err(VictimError::Console)?;
            SecretSource::Given(secret)
        }
    };
    let config = VictimConfig {
        mode,
        source,
        ready_file: None,
        until_eof: false,
    };
    let mut out = GuestReadyOut::default();
    victim::run(&config, &mut out).map_err(VictimError::Victim)?;
    Ok(())
}

/// Writes `MARKER wire SECRET` on the console with one `write(2)` of a zeroized buffer (not
/// through `println!`, whose buffer would keep a copy).
fn send_on_console(secret: &[u8]) -> std::io::Result<()> {
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(secret.len() + 32));
    line.extend_from_slice(MARKER.as_bytes());
    line.push(b' ');
    line.extend_from_slice(WIRE_WORD.as_bytes());
    line.push(b' ');
    line.extend_from_slice(secret);
    line.push(b'\n');
    std::io::stdout().flush()?;
    let mut done = 0;
    while done < line.len() {
        match nix::unistd::write(std::io::stdout(), line.get(done..).unwrap_or(&[])) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Waits for a `stop` line on the console (then SIGTERMs the victim and waits for it) or for
/// the victim's own end. Returns a short description of how the victim ended.
fn wait_for_stop_or_exit(child: Pid, sfd: &SignalFd) -> String {
    let stdin = std::io::stdin();
    let mut line = Vec::new();
    let mut stop_sent = false;
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if !stop_sent {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return format!("poll failed: {e}"),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        if ready(0) {
            let _ = sfd.read_signal();
            // Reap everything; only the victim's status matters.
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == child => {
                        return format!("victim exited with status {code}")
                    }
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                        return format!("victim killed by {sig}")
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        if !stop_sent && ready(1) {
            let mut buf = [0u8; 256];
            match stdin.lock().read(&mut buf) {
                Ok(0) | Err(_) => {
                    // A console that ends or breaks can never deliver `stop`: stop now.
                    let _ = nix::sys::signal::kill(child, Signal::SIGTERM);
                    stop_sent = true;
                }
                Ok(n) => {
                    line.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                    // Keep only the last partial line, bounded.
                    if line.len() > 4096 {
                        line.clear();
                    }
                    if line
                        .split(|&b| b == b'\n' || b == b'\r')
                        .any(|l| l == b"stop")
                    {
                        let _ = nix::sys::signal::kill(child, Signal::SIGTERM);
                        stop_sent = true;
                    }
                    if let Some(pos) = line.iter().rposition(|&b| b == b'\n' || b == b'\r') {
                        line.drain(..=pos);
                    }
                }
            }
        }
    }
}

/// Receives the victim's output; rewrites the ready line into a [`GuestReady`] line.
#[derive(Default)]
struct GuestReadyOut {
    buf: Vec<u8>,
}

impl Write for GuestReadyOut {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line);
            let mut stdout = std::io::stdout();
            match ReadyLine::parse(&text) {
                Ok(ready) => {
                    let g = guest_ready(ready);
                    let json = serde_json::to_string(&g).unwrap_or_else(|_| "{}".to_string());
                    writeln!(stdout, "{MARKER} ready {json}")?;
                }
                Err(_) => stdout.write_all(&line)?,
            }
            stdout.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

fn guest_ready(ready: ReadyLine) -> GuestReady {
    let guest_phys = ready
        .region_span()
        .ok()
        .map(|span| phys_pages(span.start, span.end))
        .unwrap_or_default();
    let guest_kernel = nix::sys::utsname::uname()
        .ok()
        .map(|u| u.release().to_string_lossy().into_owned());
    GuestReady {
        ready,
        guest_phys,
        guest_kernel,
    }
}

/// The guest-physical address of each page of `[start, end)` in this process, from
/// `/proc/self/pagemap` (PFNs are shown to root only: PID 1's child is root).
fn phys_pages(start: u64, end: u64) -> Vec<Option<String>> {
    use std::os::unix::fs::FileExt;
    let Ok(f) = std::fs::File::open("/proc/self/pagemap") else {
        return Vec::new();
    };
    let first = start / PAGE_SIZE;
    let last = end.saturating_sub(1) / PAGE_SIZE;
    let mut out = Vec::new();
    let mut page = first;
    while page <= last && out.len() < MAX_PHYS_PAGES {
        let mut entry = [0u8; 8];
        let phys = page
            .checked_mul(8)
            .and_then(|off| f.read_exact_at(&mut entry, off).ok())
            .and_then(|()| pagemap_phys(u64::from_le_bytes(entry)));
        out.push(phys.map(hex_addr));
        page += 1;
    }
    out
}

/// The physical address of a pagemap entry: present, with a non-zero PFN.
pub fn pagemap_phys(entry: u64) -> Option<u64> {
    crate::procfs::pagemap::present_pfn(entry).map(|pfn| pfn.saturating_mul(PAGE_SIZE))
}

/// Parses one console line: `Some(Ok(ready))` for a guest ready line, `Some(Err(message))` for
/// a guest-side error, `None` for anything else. The line is untrusted guest output: it is
/// parsed as JSON with serde and nothing else is interpreted.
pub fn parse_console_line(line: &str) -> Option<Result<GuestReady, ConsoleError>> {
    let pos = line.find(MARKER)?;
    let rest = line.get(pos + MARKER.len()..)?.trim();
    if let Some(json) = rest.strip_prefix("ready ") {
        return Some(
            serde_json::from_str::<GuestReady>(json.trim())
                .map_err(ConsoleError::Unreadable)
                .and_then(|g| {
                    if g.ready.event == "ready" {
                        Ok(g)
                    } else {
                        Err(ConsoleError::Event(g.ready.event))
                    }
                }),
        );
    }
    rest.strip_prefix("error ")
        .map(|m| Err(ConsoleError::Reported(m.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;

    #[test]
    fn console_lines() {
        let r = ReadyLine::new(7, "secretmem", &[1; 32], 34, Span::new(0x1000, 0x3000));
        let g = GuestReady {
            ready: r.clone(),
            guest_phys: vec![Some("0x1234000".into()), None],
            guest_kernel: Some("6.1".into()),
        };
        let line = format!(
            "\r[  1.0] junk {MARKER} ready {}\r",
            serde_json::to_string(&g).unwrap()
        );
        assert_eq!(parse_console_line(&line).unwrap().unwrap(), g);
        assert!(parse_console_line("[ 0.1] Linux version").is_none());
        assert!(matches!(
            parse_console_line(&format!("{MARKER} ready {{")),
            Some(Err(_))
        ));
        assert_eq!(
            parse_console_line(&format!("{MARKER} error victim: boom"))
                .unwrap()
                .unwrap_err()
                .to_string(),
            "victim: boom"
        );
        assert!(parse_console_line(&format!("{MARKER} exit 0")).is_none());
    }

    #[test]
    fn pagemap_entries() {
        assert_eq!(pagemap_phys((1 << 63) | 0x1234), Some(0x1234000));
        assert_eq!(pagemap_phys(0x1234), None);
        assert_eq!(pagemap_phys(1 << 63), None);
    }

    #[test]
    fn not_pid_1() {
        assert!(matches!(
            run_init(Mode::Plain, false, None),
            Err(GuestError::NotInit(_))
        ));
    }

    #[test]
    fn wire_lines_are_told_apart() {
        assert!(is_wire_line(&format!("[ 1.2] {MARKER} wire CONFIDUMP-00")));
        assert!(!is_wire_line(&format!("{MARKER} ready {{}}")));
        assert!(!is_wire_line("wire CONFIDUMP-00"));
        assert_eq!(Wire::parse("console"), Ok(Wire::Console));
        assert!(Wire::parse("virtio-serial")
            .unwrap_err()
            .to_string()
            .contains("not built"));
    }
}
