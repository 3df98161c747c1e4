//! New pid, mount, uts, ipc and net namespaces around a victim, made by `clone(2)` (through
//! `nix`) with no container runtime at all: the container context's `namespaces` runtime, and
//! a pod VM's container inside the guest (`guest-init --container`). This is what every
//! container runtime does underneath; seeing it alone shows that a container is a set of
//! kernel namespaces around an ordinary process, whose memory the host's root reads as usual.
//!
//! The child is PID 1 of its pid namespace. Before it executes the victim it makes its mount
//! tree private (nothing it mounts reaches the host), mounts a fresh `/proc` for its pid
//! namespace, sets its host name, and arranges to be killed if the thread that started it ends
//! (`PR_SET_PDEATHSIG`). It shares the host's file tree otherwise (no `pivot_root`: the OCI
//! runtimes show a separate root filesystem).
//!
//! Rules for the child side: between `clone` and `execve` the child of a multi-threaded parent
//! may only make async-signal-safe system calls, so every string and pointer array is built
//! before `clone`, and failures are reported as (step, errno) on a close-on-exec pipe.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::ChildStdio;

/// Errors of starting a victim in new namespaces.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// Making namespaces needs privileges we lack.
    #[error("creating namespaces needs root (CAP_SYS_ADMIN): {0}")]
    NotPermitted(Errno),
    /// A system call failed (in the child: the step it was at).
    #[error("{what}: {errno}")]
    Sys {
        /// The step.
        what: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
}

/// The namespaces the victim gets.
pub const FLAGS: [(CloneFlags, &str); 5] = [
    (CloneFlags::CLONE_NEWPID, "pid"),
    (CloneFlags::CLONE_NEWNS, "mnt"),
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWNET, "net"),
];

/// Stack for the cloned child until it executes the victim.
const CHILD_STACK: usize = 256 * 1024;

/// What [`spawn`] needs.
pub(crate) struct Spawn<'a> {
    pub exe: &'a Path,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub hostname: &'a str,
    pub allow_core: bool,
    pub stdio: ChildStdio,
}

/// The steps the child reports a failure of.
const STEPS: [&str; 8] = [
    "making the mount tree private",
    "mounting /proc",
    "setting the host name",
    "redirecting stdio",
    "changing directory",
    "raising RLIMIT_CORE",
    "executing the victim",
    "PR_SET_PDEATHSIG",
];

fn cstring(bytes: &[u8], what: &'static str) -> Result<CString, NamespaceError> {
    CString::new(bytes).map_err(|_| NamespaceError::Sys {
        what,
        errno: Errno::EINVAL,
    })
}

/// Starts the victim in new namespaces; returns its host PID (our child).
pub(crate) fn spawn(s: &Spawn<'_>) -> Result<Pid, NamespaceError> {
    let exe = cstring(
        s.exe.as_os_str().as_bytes(),
        "the victim's path has a NUL byte",
    )?;
    let mut argv_c = vec![exe.clone()];
    for a in s.args {
        argv_c.push(cstring(a.as_bytes(), "an argument has a NUL byte")?);
    }
    let envp_c: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = envp_c.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    let cwd = cstring(s.cwd.as_os_str().as_bytes(), "the directory has a NUL byte")?;
    let hostname = s.hostname.as_bytes().to_vec();
    let root = cstring(b"/", "root")?;
    let proc_ = cstring(b"/proc", "proc")?;
    let proc_type = cstring(b"proc", "proc")?;
    let fds = [
        s.stdio.stdin.as_raw_fd(),
        s.stdio.stdout.as_raw_fd(),
        s.stdio.stderr.as_raw_fd(),
    ];
    let allow_core = s.allow_core;

    let (err_r, err_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|errno| NamespaceError::Sys {
            what: "pipe2",
            errno,
        })?;
    let err_w_raw = err_w.as_raw_fd();

    let child = move || -> isize {
        // SAFETY: this runs in the freshly cloned child (a copy of our address space, one
        // thread). It only makes async-signal-safe system calls on pointers into strings and
        // arrays built before the clone, which stay valid in the copy; it never returns into
        // Rust code of the parent's other threads: it executes the victim or exits.
        unsafe {
            let fail = |step: u8| -> ! {
                let errno = *libc::__errno_location();
                let mut msg = [0u8; 5];
                msg[0] = step;
                msg[1..].copy_from_slice(&errno.to_ne_bytes());
                libc::write(err_w_raw, msg.as_ptr().cast(), msg.len());
                libc::_exit(127)
            };
            if crate::files::cleanup::kill_me_with_parent().is_err() {
                fail(7);
            }
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                fail(0);
            }
            if libc::mount(
                proc_type.as_ptr(),
                proc_.as_ptr(),
                proc_type.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) != 0
            {
                fail(1);
            }
            if libc::sethostname(hostname.as_ptr().cast(), hostname.len()) != 0 {
                fail(2);
            }
            for (&target, &fd) in [0, 1, 2].iter().zip(fds.iter()) {
                if fd == target {
                    // Already in place: only clear close-on-exec.
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        fail(3);
                    }
                } else if libc::dup2(fd, target) < 0 {
                    fail(3);
                }
            }
            if libc::chdir(cwd.as_ptr()) != 0 {
                fail(4);
            }
            if allow_core {
                let unlimited = libc::rlimit {
                    rlim_cur: libc::RLIM_INFINITY,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) != 0 {
                    fail(5);
                }
            }
            // The caller may block signals (it reads them from a signalfd); the victim starts
            // with a clean mask and sets its own.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
            fail(6)
        }
    };
    let mut stack = vec![0u8; CHILD_STACK];
    let flags = FLAGS
        .iter()
        .fold(CloneFlags::empty(), |acc, (f, _)| acc | *f);
    // SAFETY: the callback only makes async-signal-safe calls (see above) and its stack is a
    // buffer that outlives the call; without CLONE_VM the child works on a copy of it.
    let pid = unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|errno| match errno {
            Errno::EPERM => NamespaceError::NotPermitted(errno),
            _ => NamespaceError::Sys {
                what: "clone with new pid, mount, uts, ipc and net namespaces",
                errno,
            },
        })?;
    // Our copy of the error pipe's writer: closed, so that the pipe reads EOF once the child
    // has executed the victim (or died). The caller closes our copies of the child's stdio.
    drop(err_w);
    let mut msg = [0u8; 5];
    let n = read_full(&err_r, &mut msg);
    if n == msg.len() {
        let _ = nix::sys::wait::waitpid(pid, None);
        let step = STEPS
            .get(usize::from(msg[0]))
            .copied()
            .unwrap_or("starting the victim");
        let errno = Errno::from_raw(i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]));
        return Err(NamespaceError::Sys { what: step, errno });
    }
    Ok(pid)
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        let Some(rest) = buf.get_mut(got..) else {
            break;
        };
        match nix::unistd::read(fd.as_raw_fd(), rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    got
}

/// The namespace links (`/proc/PID/ns/NAME`) of a process, for the namespaces the victim
/// gets: what to look for afterwards to show that none is left.
pub fn namespace_ids(pid: i32) -> Vec<(String, String)> {
    FLAGS
        .iter()
        .filter_map(|(_, name)| {
            let link = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok()?;
            Some((name.to_string(), OsStr::new(&link).to_string_lossy().into()))
        })
        .collect()
}
