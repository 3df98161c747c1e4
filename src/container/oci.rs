//! The OCI runtimes (`runc`, `crun`): a minimal bundle, and the runtime's own commands.
//!
//! The bundle is what `docker`/`containerd` hand to the runtime, cut to the bone: `rootfs/`
//! holding one file, a static confidump ([`crate::isolate::init::static_init`], the binary the VM
//! guest runs as `/init`), and a `config.json` ([`config_json`]) that runs it as
//! `/confidump victim …` in new pid, ipc, uts, mount and network namespaces, with `/proc`,
//! a `/dev` tmpfs and the runtime's default devices. No seccomp profile and no extra
//! capabilities: the point is not hardening the container, it is showing that the host sees
//! through it either way.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use super::{io_err, ContainerError, Runtime};
use crate::isolate::ChildStdio;

/// The root filesystem's directory in the bundle.
pub const ROOTFS: &str = "rootfs";
/// Where the static confidump sits inside the container.
pub const BINARY: &str = "/confidump";
/// Where a secret file is bind-mounted (read-only) inside the container.
pub const SECRET_MOUNT: &str = "/secret";
/// The runtime writes the container's host PID here (in the bundle).
pub const PID_FILE: &str = "container.pid";

/// What goes into `config.json`.
#[derive(Debug, Clone)]
pub struct BundleSpec<'a> {
    /// The victim's arguments (after the binary).
    pub args: &'a [String],
    /// The container's host name.
    pub hostname: &'a str,
    /// Raise `RLIMIT_CORE` so a kernel core can be written (into the root filesystem).
    pub allow_core: bool,
    /// A host file to bind-mount read-only at [`SECRET_MOUNT`].
    pub secret_file: Option<&'a Path>,
}

/// Directories searched for a runtime besides `$PATH` (root's `sbin`, where Debian puts runc).
const EXTRA_DIRS: [&str; 4] = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"];

/// The environment variable that names a runtime's binary instead of the search
/// (`CONFIDUMP_RUNC`, `CONFIDUMP_CRUN`), as `CONFIDUMP_QEMU` does for QEMU.
pub fn program_env(runtime: Runtime) -> Option<&'static str> {
    match runtime {
        Runtime::Namespaces => None,
        Runtime::Runc => Some("CONFIDUMP_RUNC"),
        Runtime::Crun => Some("CONFIDUMP_CRUN"),
    }
}

/// The runtime's binary (`$CONFIDUMP_RUNC`/`$CONFIDUMP_CRUN`, else `$PATH` and the `sbin`
/// directories), or [`ContainerError::RuntimeMissing`] naming the package.
pub fn find_program(runtime: Runtime) -> Result<PathBuf, ContainerError> {
    let (Some(program), Some(package)) = (runtime.program(), runtime.package()) else {
        return Err(ContainerError::Mode("namespaces has no runtime program"));
    };
    if let Some(p) = program_env(runtime).and_then(std::env::var_os) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(ContainerError::RuntimeMissing { program, package })
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(EXTRA_DIRS.iter().map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
        .ok_or(ContainerError::RuntimeMissing { program, package })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The bundle's `config.json` (OCI runtime spec 1.0).
pub fn config_json(spec: &BundleSpec<'_>) -> Value {
    let mut args = vec![BINARY.to_string()];
    args.extend(spec.args.iter().cloned());
    let mut env = vec!["PATH=/".to_string()];
    if let Ok(v) = std::env::var("RUST_LOG") {
        env.push(format!("RUST_LOG={v}"));
    }
    let mut rlimits = vec![json!({"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024})];
    if spec.allow_core {
        // u64::MAX is RLIM_INFINITY in the runtime spec's JSON.
        rlimits.push(json!({"type": "RLIMIT_CORE", "hard": u64::MAX, "soft": u64::MAX}));
    }
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
    ];
    if let Some(file) = spec.secret_file {
        mounts.push(json!({"destination": SECRET_MOUNT, "type": "bind",
                           "source": file.to_string_lossy(), "options": ["bind", "ro"]}));
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": env,
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": rlimits,
            "noNewPrivileges": true
        },
        "root": {"path": ROOTFS, "readonly": false},
        "hostname": spec.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                {"type": "mount"}, {"type": "network"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

fn create_file(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), ContainerError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err("creating", path))?;
    f.write_all(bytes).map_err(io_err("writing", path))
}

/// Writes the bundle into `dir` (an empty private directory): `rootfs/confidump` (the static
/// binary `init`), the mount points, and `config.json`.
pub fn write_bundle(dir: &Path, init: &[u8], spec: &BundleSpec<'_>) -> Result<(), ContainerError> {
    let rootfs = dir.join(ROOTFS);
    let mut db = std::fs::DirBuilder::new();
    db.mode(0o755);
    for d in ["", "proc", "dev", "sys"] {
        let p = rootfs.join(d);
        db.create(&p).map_err(io_err("creating", &p))?;
    }
    let bin = rootfs.join(BINARY.trim_start_matches('/'));
    create_file(&bin, 0o755, init)?;
    if spec.secret_file.is_some() {
        // The mount point: an empty file, the secret itself is bind-mounted over it.
        let p = rootfs.join(SECRET_MOUNT.trim_start_matches('/'));
        create_file(&p, 0o400, b"")?;
    }
    let config = dir.join("config.json");
    let text = serde_json::to_vec_pretty(&config_json(spec)).map_err(|e| ContainerError::Io {
        what: "serialising",
        path: config.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    create_file(&config, 0o600, &text)
}

/// `RUNTIME run --bundle DIR --pid-file DIR/container.pid ID`, with the victim's stdio.
pub(crate) fn spawn(
    program: &Path,
    dir: &Path,
    id: &str,
    stdio: ChildStdio,
) -> Result<Child, ContainerError> {
    let mut cmd = Command::new(program);
    cmd.arg("run")
        .arg("--bundle")
        .arg(dir)
        .arg("--pid-file")
        .arg(dir.join(PID_FILE))
        .arg(id)
        .stdin(Stdio::from(stdio.stdin))
        .stdout(Stdio::from(stdio.stdout))
        .stderr(Stdio::from(stdio.stderr))
        // Its own process group: a terminal's Ctrl-C reaches us, and we stop the container.
        .process_group(0);
    use std::os::unix::process::CommandExt;
    cmd.spawn().map_err(|source| ContainerError::Spawn {
        program: program.display().to_string(),
        source,
    })
}

/// The container's host PID: from the runtime's pid file, else from `RUNTIME state ID` (`runc
/// run` writes its pid file only after the process has started, so the victim may be ready
/// before the file exists).
pub(crate) fn host_pid(
    program: &Path,
    dir: &Path,
    id: &str,
    runtime: Runtime,
) -> Result<i32, ContainerError> {
    if let Ok(text) = std::fs::read_to_string(dir.join(PID_FILE)) {
        if let Ok(pid) = text.trim().parse() {
            return Ok(pid);
        }
    }
    let fail = |why: String| ContainerError::HostPid {
        runtime: runtime.as_str(),
        why,
    };
    let out = Command::new(program)
        .args(["state", id])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("{} state: {e}", program.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    state_pid(&text).ok_or_else(|| {
        fail(format!(
            "{} state {id} gave no pid: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })
}

/// `"pid"` of a runtime's `state` JSON (0 means no process: `None`).
pub fn state_pid(json: &str) -> Option<i32> {
    let v: Value = serde_json::from_str(json).ok()?;
    let pid = i32::try_from(v.get("pid")?.as_i64()?).ok()?;
    (pid > 0).then_some(pid)
}

/// Why a runtime that exited at start cannot run containers on this host, when its message
/// says so (not a failure of ours, not a missing package).
pub fn unusable_reason(runtime: Runtime, stderr: &str) -> Option<String> {
    const KNOWN: [(&str, &str); 1] = [(
        "cgroups in hybrid mode not supported",
        "this host mounts cgroup v1 and v2 side by side (hybrid), which this version refuses",
    )];
    KNOWN
        .iter()
        .find(|(m, _)| stderr.contains(m))
        .map(|(m, why)| {
            format!(
                "not available on this host: {} says \"{m}\": {why}",
                runtime.as_str()
            )
        })
}

/// `RUNTIME delete --force ID`: kills what is left of the container and forgets it. Errors
/// are ignored: the container may already be gone (`runc run` deletes it when it ends).
pub fn delete(program: &Path, id: &str) {
    let _ = Command::new(program)
        .args(["delete", "--force", id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The ids the runtime knows (`RUNTIME list -q`); empty when it cannot tell.
pub fn list_ids(program: &Path) -> Vec<String> {
    Command::new(program)
        .args(["list", "-q"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_runs_the_static_binary_in_five_namespaces() {
        let args = vec!["victim".to_string(), "--mode".into(), "plain".into()];
        let secret = PathBuf::from("/run/s");
        let c = config_json(&BundleSpec {
            args: &args,
            hostname: "confidump-runc-1-ab",
            allow_core: true,
            secret_file: Some(&secret),
        });
        assert_eq!(c["process"]["args"][0], BINARY);
        assert_eq!(c["process"]["args"][3], "plain");
        assert_eq!(c["process"]["terminal"], false);
        assert_eq!(c["root"]["path"], ROOTFS);
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
        let m = c["mounts"].as_array().unwrap().last().unwrap();
        assert_eq!(m["destination"], SECRET_MOUNT);
        assert_eq!(m["options"][1], "ro");
        assert!(c["process"]["rlimits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "RLIMIT_CORE"));
    }

    #[test]
    fn state_and_known_refusals_are_read() {
        assert_eq!(
            state_pid(r#"{"ociVersion":"1.0.2","id":"x","pid":4242,"status":"running"}"#),
            Some(4242)
        );
        assert_eq!(state_pid(r#"{"pid":0}"#), None);
        assert_eq!(state_pid("container does not exist"), None);
        let r = unusable_reason(
            Runtime::Crun,
            "cgroups in hybrid mode not supported, drop all controllers from cgroupv2",
        )
        .unwrap();
        assert!(r.starts_with("not available on this host: crun"), "{r}");
        assert_eq!(unusable_reason(Runtime::Runc, "some other failure"), None);
    }

    #[test]
    fn bundle_files_are_private_where_they_must_be() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let args = vec!["victim".to_string()];
        let spec = BundleSpec {
            args: &args,
            hostname: "h",
            allow_core: false,
            secret_file: None,
        };
        write_bundle(dir.path(), b"\x7fELF", &spec).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("config.json"), 0o600);
        assert_eq!(mode("rootfs/confidump"), 0o755);
        assert!(dir.path().join("rootfs/proc").is_dir());
        // A second write into the same directory refuses to overwrite.
        assert!(write_bundle(dir.path(), b"x", &spec).is_err());
    }
}
