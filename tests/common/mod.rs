//! Shared helpers for the integration tests: start real victims, run the real binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::ops::{Deref, DerefMut};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub mod lab;

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_confidump")
}

/// What a victim announced on its ready line.
#[derive(Debug, Clone)]
pub struct Ready {
    pub pid: i32,
    pub mode: String,
    pub sha256: String,
    pub len: usize,
    pub start: u64,
    pub end: u64,
    pub raw: serde_json::Value,
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so no test leaves one
/// behind, even when it fails half-way. Derefs to the [`Child`].
pub struct KillOnDrop(pub Child);

impl From<Child> for KillOnDrop {
    fn from(c: Child) -> Self {
        KillOnDrop(c)
    }
}

impl Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The SHA-256 of `bytes`, as lowercase hex (what `--sha256` and ready lines carry).
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

/// A running victim, killed (and reaped) on drop so no test leaves one behind.
pub struct Victim {
    pub child: KillOnDrop,
    pub ready: Ready,
    pub stdin: Option<ChildStdin>,
    /// Its uses of the secret, counted from its log.
    pub uses: Uses,
}

/// A `"0x..."` address of a JSON report or ready line.
pub fn hex(v: &serde_json::Value) -> u64 {
    let s = v.as_str().expect("address string");
    confidump::model::parse_hex_addr(s).expect("hex address")
}

/// Starts `confidump victim ARGS`, writes `stdin_secret` (if any) followed by a newline, and
/// waits for the ready line (blocking read: the victim prints it when it is ready).
pub fn start_victim(args: &[&str], stdin_secret: Option<&[u8]>) -> Victim {
    spawn_victim(Command::new(bin()), args, stdin_secret)
}

/// [`start_victim`] as another user (`uid` = gid, working directory `/`): a victim an
/// unprivileged attacker may own, or root may be refused by a rule other than the uid's.
pub fn start_victim_as(uid: u32, args: &[&str], stdin_secret: Option<&[u8]>) -> Victim {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(bin());
    cmd.uid(uid).gid(uid).current_dir("/");
    spawn_victim(cmd, args, stdin_secret)
}

fn spawn_victim(mut cmd: Command, args: &[&str], stdin_secret: Option<&[u8]>) -> Victim {
    Uses::log_them(&mut cmd);
    let mut child = cmd
        .arg("victim")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start victim");
    let uses = Uses::watch(&mut child);
    let mut stdin = child.stdin.take();
    if let (Some(secret), Some(pipe)) = (stdin_secret, stdin.as_mut()) {
        pipe.write_all(secret).unwrap();
        pipe.write_all(b"\n").unwrap();
        pipe.flush().unwrap();
    }
    let line = first_line(&mut child);
    let raw: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("ready line {line:?} is not JSON: {e}"));
    assert_eq!(raw["event"], "ready", "{line}");
    let ready = Ready {
        pid: raw["pid"].as_i64().expect("pid") as i32,
        mode: raw["mode"].as_str().unwrap_or_default().to_string(),
        sha256: raw["secret_sha256"].as_str().expect("sha").to_string(),
        len: raw["secret_len"].as_u64().expect("len") as usize,
        start: hex(&raw["region"]["start"]),
        end: hex(&raw["region"]["end"]),
        raw,
    };
    Victim {
        child: child.into(),
        ready,
        stdin,
        uses,
    }
}

/// A victim's uses of its secret (one HMAC a second), counted from its own log: with
/// `confidump::victim=debug` its worker logs "used the secret tick=N" after the Nth use. A test
/// about what *using* the secret leaves waits for uses, not for time.
pub struct Uses {
    seen: std::sync::Arc<(std::sync::Mutex<UsesSeen>, std::sync::Condvar)>,
}

#[derive(Default)]
struct UsesSeen {
    last: u64,
    ended: bool,
}

impl Uses {
    /// Makes the victim `cmd` will start log each use on its stderr (piped, for [`Uses::watch`]).
    pub fn log_them(cmd: &mut Command) {
        let filter = match std::env::var("RUST_LOG") {
            Ok(user) if !user.is_empty() => format!("{user},confidump::victim=debug"),
            _ => "warn,confidump::victim=debug".to_string(),
        };
        cmd.env("RUST_LOG", filter).stderr(Stdio::piped());
    }

    /// Reads `child`'s stderr on a thread: counts the uses, passes every other line on to this
    /// test's stderr.
    pub fn watch(child: &mut Child) -> Uses {
        let stderr = child
            .stderr
            .take()
            .expect("stderr is piped (Uses::log_them)");
        let seen = std::sync::Arc::new((
            std::sync::Mutex::new(UsesSeen::default()),
            std::sync::Condvar::new(),
        ));
        let shared = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let tick = line
                    .contains("used the secret")
                    .then(|| line.split_once("tick=")?.1.trim().parse::<u64>().ok())
                    .flatten();
                match tick {
                    Some(n) => {
                        let (lock, cv) = &*shared;
                        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
                        s.last = s.last.max(n);
                        cv.notify_all();
                    }
                    None => eprintln!("{line}"),
                }
            }
            let (lock, cv) = &*shared;
            lock.lock().unwrap_or_else(|p| p.into_inner()).ended = true;
            cv.notify_all();
        });
        Uses { seen }
    }

    /// How many times the victim has used its secret so far.
    pub fn seen(&self) -> u64 {
        let (lock, _) = &*self.seen;
        lock.lock().unwrap_or_else(|p| p.into_inner()).last
    }

    /// Blocks until the victim has used its secret `n` times. Fails the test if the victim
    /// ends first, or after a deadline far above `n` seconds.
    pub fn wait_for(&self, n: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30 + 2 * n);
        let (lock, cv) = &*self.seen;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        while s.last < n {
            assert!(
                !s.ended,
                "the victim ended after {} uses of its secret, not {n}",
                s.last
            );
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                !left.is_zero(),
                "the victim used its secret {} times, not {n}, by the deadline",
                s.last
            );
            s = cv
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Runs the binary with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run confidump")
}

/// Exit code, stdout, stderr as text.
pub fn code_out_err(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Whether a program is on PATH. Tests ask [`require`], which says why it skips.
fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `s` XOR-ed with `key` as a C array initialiser: test programs decode their secrets at run
/// time, so the secrets never sit in the program file on disk (where a scan would find them).
pub fn c_xor_bytes(s: &str, key: u8) -> String {
    let v: Vec<String> = s.bytes().map(|b| format!("{:#04x}", b ^ key)).collect();
    format!("{{{}}}", v.join(","))
}

/// Compiles C `source` into `dir/prog`; `None` (skipped through [`require`]) without a C
/// compiler. A program that does not build where gcc is present is the test's bug: it panics.
pub fn compile_c(dir: &std::path::Path, source: &str) -> Option<std::path::PathBuf> {
    if !require(Need::CCompiler) {
        return None;
    }
    let src = dir.join("prog.c");
    std::fs::write(&src, source).unwrap();
    let exe = dir.join("prog");
    let out = Command::new("gcc")
        .args(["-O0", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("run gcc");
    assert!(
        out.status.success(),
        "gcc could not build the test program ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(exe)
}

/// The first line `child` prints on its piped stdout, newline included: a blocking read, so
/// a program that prints "ready" once it is ready is waited for without sleeps.
pub fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .expect("read the first line");
    line
}

/// Builds `source` ([`compile_c`]) and runs it (stdin empty) until it prints its first line:
/// the running program, killed when dropped, and that line. `None` without a C compiler.
pub fn run_c_until_line(dir: &std::path::Path, source: &str) -> Option<(KillOnDrop, String)> {
    let exe = compile_c(dir, source)?;
    let mut child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    Some((child.into(), line))
}

// ---- Prerequisites: one way for a test to say what it needs, skip out loud, or fail in CI ----
//
// A test that needs something asks `require(Need::…)` (installed by scripts/setup.sh, or a
// property of the kernel) or, for what no setup script can provide, `host_has(Host::…)` /
// `host_lacks(Host::…)`. Outside CI a missing prerequisite skips the test with one line on the
// real stderr (libtest's capture would hide an `eprintln!` of a passing test):
//
//     SKIP e2e::gdb_loads_our_core: needs gdb and its gcore: gdb is not on PATH
//
// With CONFIDUMP_TEST_STRICT=1 (.ci/run) a missing `Need` fails the test instead, naming how
// setup.sh installs it; a `Host` skip stays a skip (CI machines have no SGX either). Every skip
// is also appended as one line to the file named by CONFIDUMP_TEST_SKIP_LOG, if set.

/// Something a test needs that scripts/setup.sh installs, or that the kernel of any machine
/// the tests are meant for has. Missing in strict mode, it fails the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// gcc: tests build small C victims.
    CCompiler,
    /// gdb and its `gcore`: the side-by-side attacker, and a reader of our cores.
    Gdb,
    /// elfutils' `eu-stack`/`eu-readelf`: a second reader of our cores.
    EuStack,
    /// `qemu-system-x86_64`: the VM context.
    Qemu,
    /// A QEMU that links GnuTLS (Debian's does), whose self-test keys the detectors must know.
    QemuGnutls,
    /// QEMU >= 9.1, which knows `-object sev-snp-guest` (Debian 12: bookworm-backports).
    QemuCvm,
    /// The guest kernel the VM context boots (scripts/fetch-guest-kernel.sh).
    GuestKernel,
    /// PostgreSQL's initdb, pg_ctl and postgres: the service context.
    Postgres,
    /// A container runtime that runs containers here (`namespaces` needs only root).
    Runtime(confidump::container::Runtime),
    /// Chromium (or `$CHROMIUM`), which renders the HTML report.
    Chromium,
    /// `kubernetes-validate` (PyPI), on PATH or in setup.sh's venv.
    KubernetesValidate,
    /// python3: parses the JUnit file as XML.
    Python3,
    /// tmux: a terminal of a given size whose screen the tests read back.
    Tmux,
    /// util-linux's `setpriv`: drops CAP_SYS_PTRACE from root.
    Setpriv,
    /// memfd_secret(2) that works for this process.
    MemfdSecret,
    /// userfaultfd(2) that works for this process.
    Userfaultfd,
    /// The kernel writes a plain `core` file into the working directory of a crashed process
    /// (core_pattern without `|` or `/`, RLIMIT_CORE raisable to unlimited).
    KernelCores,
    /// The tests run as root (the attacker the demo models).
    Root,
    /// dpkg, dpkg-deb and man (man-db): the package test builds, installs and reads a .deb.
    Dpkg,
    /// No confidump package installed by someone: the package test installs and purges its
    /// own, and never replaces theirs.
    NoInstalledPackage,
    /// The user nobody (uid 65534) may execute the binary under test: the same-uid attacker
    /// and the refusal tests run confidump as nobody, and so do their victims.
    RunsAsNobody,
}

impl Need {
    /// What is needed, as the SKIP line says it.
    pub fn what(&self) -> String {
        match self {
            Need::CCompiler => "a C compiler (gcc)".into(),
            Need::Gdb => "gdb and its gcore".into(),
            Need::EuStack => "elfutils (eu-stack)".into(),
            Need::Qemu => "QEMU (qemu-system-x86_64)".into(),
            Need::QemuGnutls => "a QEMU linked with GnuTLS".into(),
            Need::QemuCvm => "QEMU >= 9.1 (sev-snp-guest)".into(),
            Need::GuestKernel => "a guest kernel for the VM context".into(),
            Need::Postgres => "PostgreSQL (initdb, pg_ctl, postgres)".into(),
            Need::Runtime(r) => format!("the {} container runtime", r.as_str()),
            Need::Chromium => "Chromium".into(),
            Need::KubernetesValidate => "kubernetes-validate".into(),
            Need::Python3 => "python3".into(),
            Need::Tmux => "tmux".into(),
            Need::Setpriv => "setpriv (util-linux)".into(),
            Need::MemfdSecret => "memfd_secret".into(),
            Need::Userfaultfd => "userfaultfd".into(),
            Need::KernelCores => "kernel core dumps into the working directory".into(),
            Need::Root => "root".into(),
            Need::Dpkg => "dpkg, dpkg-deb and man".into(),
            Need::NoInstalledPackage => "no confidump package installed already".into(),
            Need::RunsAsNobody => "a confidump binary the user nobody may execute".into(),
        }
    }

    /// How a machine gets it: what the strict failure tells CI.
    pub fn remedy(&self) -> &'static str {
        match self {
            Need::CCompiler => "scripts/setup.sh installs gcc and libc6-dev",
            Need::Gdb => "scripts/setup.sh installs gdb",
            Need::EuStack => "scripts/setup.sh installs elfutils",
            Need::Qemu => "scripts/setup.sh installs qemu-system-x86",
            Need::QemuGnutls => "scripts/setup.sh installs Debian's qemu-system-x86, which links libgnutls",
            Need::QemuCvm => "scripts/setup.sh --cvm installs it (Debian 12: from bookworm-backports); .ci/run passes --cvm",
            Need::GuestKernel => "scripts/setup.sh runs scripts/fetch-guest-kernel.sh",
            Need::Postgres => "scripts/setup.sh installs postgresql",
            Need::Runtime(confidump::container::Runtime::Namespaces) => "run the tests as root (.ci/run does)",
            Need::Runtime(_) => "scripts/setup.sh installs runc and crun; they need root",
            Need::Chromium => "scripts/setup.sh installs chromium (or set CHROMIUM=/path/to/chrome)",
            Need::KubernetesValidate => "scripts/setup.sh installs it into ~/.cache/confidump/venv",
            Need::Python3 => "scripts/setup.sh installs python3",
            Need::Tmux => "scripts/setup.sh installs tmux",
            Need::Setpriv => "scripts/setup.sh installs util-linux",
            Need::MemfdSecret => "a Linux >= 5.14 kernel with CONFIG_SECRETMEM (before 6.5: boot with secretmem.enable=1); no package provides it",
            Need::Userfaultfd => "a kernel with CONFIG_USERFAULTFD, run as root (or vm.unprivileged_userfaultfd=1)",
            Need::KernelCores => "sysctl kernel.core_pattern=core and an unlimited hard RLIMIT_CORE (FACTS.md: this kind of machine has both)",
            Need::Root => "run the tests as root (.ci/run does)",
            Need::Dpkg => "a Debian or Ubuntu host; scripts/setup.sh installs man-db",
            Need::NoInstalledPackage => "dpkg --purge confidump (a test left it, or install yours after the tests)",
            Need::RunsAsNobody => "clone the repository where the user nobody may enter (not under a 0700 directory such as /root or one made by mktemp -d)",
        }
    }

    /// `Ok` when the prerequisite is here, else why not.
    fn probe(&self) -> Result<(), String> {
        fn on_path(program: &str) -> Result<(), String> {
            if have(program) {
                Ok(())
            } else {
                Err(format!("{program} is not on PATH"))
            }
        }
        match self {
            Need::CCompiler => on_path("gcc"),
            Need::Gdb => on_path("gdb").and_then(|()| on_path("gcore")),
            Need::EuStack => on_path("eu-stack").and_then(|()| on_path("eu-readelf")),
            Need::Qemu => on_path("qemu-system-x86_64"),
            Need::QemuGnutls => {
                let qemu =
                    confidump::vm::qemu::find_qemu().ok_or("qemu-system-x86_64 is not on PATH")?;
                let ldd = Command::new("ldd")
                    .arg(&qemu)
                    .output()
                    .map_err(|e| format!("ldd {}: {e}", qemu.display()))?;
                if String::from_utf8_lossy(&ldd.stdout).contains("libgnutls") {
                    Ok(())
                } else {
                    Err(format!("{} does not link libgnutls", qemu.display()))
                }
            }
            Need::QemuCvm => {
                let qemu =
                    confidump::vm::qemu::find_qemu().ok_or("qemu-system-x86_64 is not on PATH")?;
                let v = confidump::vm::qemu::qemu_version(&qemu)
                    .ok_or_else(|| format!("{} --version says no version", qemu.display()))?;
                let min = confidump::vm::qemu::QemuVersion {
                    major: 9,
                    minor: 1,
                    micro: 0,
                };
                if v >= min {
                    Ok(())
                } else {
                    Err(format!("{} is QEMU {v}", qemu.display()))
                }
            }
            Need::GuestKernel => confidump::vm::qemu::default_kernel()
                .map(drop)
                .ok_or_else(|| {
                    "no guest kernel in the cache (scripts/fetch-guest-kernel.sh)".into()
                }),
            Need::Postgres => confidump::service::instance::PgBinaries::find(None)
                .map(drop)
                .map_err(|e| e.to_string()),
            Need::Runtime(r) => probe_runtime(*r),
            Need::Chromium => chromium().map(drop).ok_or_else(|| {
                "no chromium, chromium-browser or google-chrome on PATH, no $CHROMIUM".into()
            }),
            Need::KubernetesValidate => kubernetes_validate()
                .map(drop)
                .ok_or_else(|| "not on PATH nor in ~/.cache/confidump/venv".into()),
            Need::Python3 => on_path("python3"),
            Need::Tmux => on_path("tmux"),
            Need::Setpriv => on_path("setpriv"),
            Need::MemfdSecret => {
                confidump::protect::SecretStore::new(confidump::protect::Protection::SecretMem)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Need::Userfaultfd => {
                // SAFETY: userfaultfd(2) takes flags only; the new descriptor is closed at once.
                let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(format!("userfaultfd: {}", std::io::Error::last_os_error()));
                }
                let fd = i32::try_from(fd).expect("a file descriptor is an int");
                // SAFETY: `fd` is the descriptor just returned, owned by nobody else.
                unsafe { libc::close(fd) };
                Ok(())
            }
            Need::KernelCores => {
                let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern")
                    .map_err(|e| format!("/proc/sys/kernel/core_pattern: {e}"))?;
                let pattern = pattern.trim();
                if pattern.is_empty() || pattern.starts_with('|') || pattern.contains('/') {
                    return Err(format!(
                        "core_pattern {pattern:?} does not write a plain file in the working directory"
                    ));
                }
                let (_, hard) =
                    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE)
                        .map_err(|e| format!("getrlimit(RLIMIT_CORE): {e}"))?;
                if hard != nix::sys::resource::RLIM_INFINITY {
                    return Err(format!("the hard RLIMIT_CORE is {hard}, not unlimited"));
                }
                Ok(())
            }
            Need::Dpkg => on_path("dpkg")
                .and_then(|()| on_path("dpkg-deb"))
                .and_then(|()| on_path("man")),
            Need::RunsAsNobody => {
                use std::os::unix::process::CommandExt;
                let o = Command::new(bin())
                    .arg("--version")
                    .uid(65534)
                    .gid(65534)
                    .current_dir("/")
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("the user nobody cannot execute {}: {e}", bin()))?;
                if o.status.success() {
                    Ok(())
                } else {
                    Err(format!("{} --version as nobody: {}", bin(), o.status))
                }
            }
            Need::NoInstalledPackage => {
                let status = Command::new("dpkg-query")
                    .args(["-W", "-f", "${Status}", "confidump"])
                    .output()
                    .map_err(|e| format!("dpkg-query: {e}"))?;
                if String::from_utf8_lossy(&status.stdout).ends_with(" installed") {
                    Err("a confidump package is installed here".into())
                } else {
                    Ok(())
                }
            }
            Need::Root => {
                if nix::unistd::geteuid().is_root() {
                    Ok(())
                } else {
                    Err(format!("running as uid {}", nix::unistd::geteuid()))
                }
            }
        }
    }
}

/// What no setup script can give a machine: its hardware and what its kernel was built with.
/// This is the one list of prerequisites a strict (CI) run may lack; each is a SKIP there too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Intel SGX: /dev/sgx_enclave and what `confidump::sgx::facts::prerequisites` checks.
    Sgx,
    /// AMD SEV-SNP: /dev/sev and kvm_amd's `sev_snp`.
    SevSnp,
    /// Intel TDX: kvm_intel's `tdx`.
    Tdx,
    /// A Yama LSM that refuses something (`kernel.yama.ptrace_scope` >= 1). This host's kernel
    /// has no Yama; the tests never change the sysctl (3 cannot be undone without a reboot).
    Yama,
    /// A cgroup layout Debian 12's crun (1.8) accepts: not v1 beside a v2 that holds controllers.
    /// This host mounts v1 and v2 side by side ("hybrid"), which that crun refuses; runc runs
    /// here. How a machine
    /// mounts its cgroups is its init system's choice, not a package's.
    CrunCgroups,
    /// A running Docker daemon that can build images (deploy/Dockerfile pulls a Rust image and
    /// builds confidump in it). setup.sh does not install one: a daemon plus a ~1 GB image is
    /// more than the tests should impose; this host has the docker client only.
    DockerDaemon,
}

impl Host {
    fn what(&self) -> &'static str {
        match self {
            Host::Sgx => "Intel SGX",
            Host::SevSnp => "AMD SEV-SNP",
            Host::Tdx => "Intel TDX",
            Host::Yama => "a Yama LSM that refuses (kernel.yama.ptrace_scope >= 1)",
            Host::CrunCgroups => "a cgroup layout crun 1.8 accepts (not hybrid v1 + v2)",
            Host::DockerDaemon => "a Docker daemon that builds images",
        }
    }

    /// `Ok` when this machine has it, else why not.
    fn probe(&self) -> Result<(), String> {
        let param =
            |path: &str| std::fs::read_to_string(path).is_ok_and(|s| matches!(s.trim(), "Y" | "1"));
        match self {
            Host::Sgx => match confidump::sgx::facts::unavailable_reason(
                &confidump::sgx::facts::prerequisites(),
            ) {
                None => Ok(()),
                Some(why) => Err(why),
            },
            Host::SevSnp => {
                if std::path::Path::new("/dev/sev").exists()
                    && param("/sys/module/kvm_amd/parameters/sev_snp")
                {
                    Ok(())
                } else {
                    Err("no /dev/sev with kvm_amd sev_snp=Y".into())
                }
            }
            Host::Tdx => {
                if param("/sys/module/kvm_intel/parameters/tdx") {
                    Ok(())
                } else {
                    Err("kvm_intel has no tdx=Y".into())
                }
            }
            Host::Yama => match std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
                Err(_) => Err(
                    "this kernel has no Yama LSM (no /proc/sys/kernel/yama/ptrace_scope)".into(),
                ),
                Ok(s) if s.trim() == "0" => {
                    Err("kernel.yama.ptrace_scope = 0 refuses nothing".into())
                }
                Ok(_) => Ok(()),
            },
            // The probe doctor and the runner read (`container::facts::crun_refused`).
            Host::CrunCgroups => match confidump::host::hybrid_cgroups() {
                None => Ok(()),
                Some(controllers) => Err(format!(
                    "this host mounts cgroup v1 beside a cgroup v2 holding controllers \
                     ({controllers}): hybrid"
                )),
            },
            Host::DockerDaemon => {
                let o = Command::new("docker")
                    .arg("info")
                    .output()
                    .map_err(|e| format!("no docker here ({e})"))?;
                if o.status.success() {
                    return Ok(());
                }
                let err = String::from_utf8_lossy(&o.stderr);
                let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                Err(format!("`docker info` fails: {}", first.trim()))
            }
        }
    }
}

/// Whether `need` is here. If not: outside strict mode, prints and logs one SKIP line and
/// returns false (the caller returns, or leaves out the part that needs it); in strict mode
/// (CONFIDUMP_TEST_STRICT=1) panics, naming what is missing and how setup.sh provides it.
pub fn require(need: Need) -> bool {
    let why = match need.probe() {
        Ok(()) => return true,
        Err(why) => why,
    };
    let test = test_name();
    let what = need.what();
    if strict() {
        panic!(
            "{test} needs {what}: {why}. CONFIDUMP_TEST_STRICT is set, so this fails instead of \
             skipping: {}",
            need.remedy()
        );
    }
    skip(&format!("SKIP {test}: needs {what}: {why}"));
    false
}

/// Whether this machine has `hw` (a test that needs it). If not, a SKIP line, in strict
/// mode too: see [`Host`].
pub fn host_has(hw: Host) -> bool {
    match hw.probe() {
        Ok(()) => true,
        Err(why) => {
            skip(&format!(
                "SKIP (host) {}: needs {}: {why}",
                test_name(),
                hw.what()
            ));
            false
        }
    }
}

/// Whether this machine lacks `hw` (a test of what happens without it). If it has it, a SKIP
/// line, in strict mode too: see [`Host`].
pub fn host_lacks(hw: Host) -> bool {
    match hw.probe() {
        Err(_) => true,
        Ok(()) => {
            skip(&format!(
                "SKIP (host) {}: needs a host without {}: this one has it",
                test_name(),
                hw.what()
            ));
            false
        }
    }
}

/// CONFIDUMP_TEST_STRICT=1 (anything but empty or `0`): a missing [`Need`] fails the test.
fn strict() -> bool {
    std::env::var_os("CONFIDUMP_TEST_STRICT").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `BINARY::TEST`: libtest names each test's thread after the test.
fn test_name() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(|n| match n.rsplit_once('-') {
            // cargo names test binaries NAME-HASH.
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => n,
        })
        .unwrap_or_else(|| "?".into());
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("?");
    format!("{binary}::{test}")
}

/// Prints `line` on the real stderr (not libtest's capture: a skip must be seen) and appends
/// it to $CONFIDUMP_TEST_SKIP_LOG: O_APPEND and one write(2), so parallel tests' lines never
/// interleave.
fn skip(line: &str) {
    let line = format!("{line}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os("CONFIDUMP_TEST_SKIP_LOG").filter(|p| !p.is_empty()) {
        let written = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| f.write(line.as_bytes()));
        match written {
            Ok(n) if n == line.len() => {}
            other => panic!(
                "could not append the SKIP line to CONFIDUMP_TEST_SKIP_LOG={}: {other:?}",
                std::path::Path::new(&path).display()
            ),
        }
    }
}

/// The Chromium to render with: `$CHROMIUM`, else the first of chromium, chromium-browser,
/// google-chrome on PATH.
pub fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(std::path::PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// `kubernetes-validate` on PATH, else in the venv scripts/setup.sh makes.
pub fn kubernetes_validate() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    if have("kubernetes-validate") {
        return Some(PathBuf::from("kubernetes-validate"));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let p = cache.join("confidump/venv/bin/kubernetes-validate");
    p.is_file().then_some(p)
}

/// Whether `runtime` runs containers here: a victim started with stdin at its end stops right
/// after its ready line. A runtime that is missing or refuses this host says "not available
/// on this host" (the reason returned); any other failure fails the test.
fn probe_runtime(runtime: confidump::container::Runtime) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("containers need root (CAP_SYS_ADMIN)".into());
    }
    let out = Command::new(bin())
        .args(["victim", "--context", "container", "--runtime"])
        .arg(runtime.as_str())
        .args(["--mode", "plain", "--until-eof"])
        .stdin(Stdio::null())
        .output()
        .expect("run confidump victim");
    let (code, stdout, stderr) = code_out_err(&out);
    if code == 0 {
        assert!(stdout.contains("\"pid_in_container\":1"), "{stdout}");
        return Ok(());
    }
    assert!(
        stderr.contains("not available on this host"),
        "{}: {stderr}",
        runtime.as_str()
    );
    Err(stderr.trim().to_string())
}
