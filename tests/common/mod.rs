//! Shared helpers for the integration tests: start real victims, run the real binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::ops::{Deref, DerefMut};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use sha2::{Digest, Sha256};

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
    let mut child = cmd
        .arg("victim")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start victim");
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

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
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

/// Compiles C `source` into `dir/prog`; `None` (with the reason printed) without gcc.
pub fn compile_c(dir: &std::path::Path, source: &str) -> Option<std::path::PathBuf> {
    let src = dir.join("prog.c");
    std::fs::write(&src, source).unwrap();
    let exe = dir.join("prog");
    match Command::new("gcc")
        .args(["-O0", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
    {
        Ok(s) if s.success() => Some(exe),
        other => {
            eprintln!("skipping: gcc could not build the test program ({other:?})");
            None
        }
    }
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
/// the running program, killed when dropped, and that line. `None` where gcc cannot build it.
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
