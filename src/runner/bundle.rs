//! A bug-report bundle (`doctor --bundle FILE`, `demo --bundle FILE`): one `.tar.gz` with
//! everything needed to see why a run on confidential hardware went wrong, and no secret.
//!
//! What it holds (`confidump-bundle/…`): the reports the caller adds (doctor's JSON, the
//! demo's JSON and JUnit), then what this module gathers from the host: kernel and firmware
//! versions, the kernel configuration lines that matter, the SGX/SEV/TDX lines of the kernel
//! log, the CPU's flags, QEMU's and OVMF's versions, and the debug trace of the SGX loader's
//! and the CVM launch's steps ([`super::trace`]). `MANIFEST.txt` says what each file is.
//!
//! # Rules
//! * **No secret.** Callers add reports already through [`crate::redact`] with their memory
//!   views dropped; every entry, gathered or added, then goes through [`scrub`], which replaces
//!   each canary-shaped string (the victims' secrets) by a marker.
//! * **One file, whole or nothing**: written through [`crate::files::output::OutputFile`]
//!   (0600, no link followed, unnamed until complete, removed on error or signal).
//! * **Bounded**: every host file read is capped ([`FACT_LIMIT`]); a missing one is said, not
//!   an error: the bundle is most useful exactly where the host is odd.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::files::output::{OutputError, OutputFile};
use crate::scan::needles::{is_canary, CANARY_HEX_LEN, CANARY_PREFIX};

/// The directory every entry sits in inside the archive.
pub const ROOT: &str = "confidump-bundle";

/// The most read of one host file or command's output.
pub const FACT_LIMIT: u64 = 1 << 20;

/// What a scrubbed canary becomes: as long as the canary, so offsets in a log stay put.
const SCRUBBED: &[u8] = b"CONFIDUMP-(redacted-secret-bundle)";

/// Kernel configuration options a confidential-computing run depends on.
pub const CONFIG_KEYS: &[&str] = &[
    "CONFIG_X86_SGX",
    "CONFIG_X86_SGX_KVM",
    "CONFIG_AMD_MEM_ENCRYPT",
    "CONFIG_KVM_AMD_SEV",
    "CONFIG_SEV_GUEST",
    "CONFIG_CRYPTO_DEV_CCP_DD",
    "CONFIG_CRYPTO_DEV_SP_PSP",
    "CONFIG_INTEL_TDX_GUEST",
    "CONFIG_INTEL_TDX_HOST",
    "CONFIG_TDX_GUEST_DRIVER",
    "CONFIG_TSM_REPORTS",
    "CONFIG_VIRT_DRIVERS",
    "CONFIG_KVM",
    "CONFIG_KVM_INTEL",
    "CONFIG_KVM_AMD",
    "CONFIG_SECRETMEM",
    "CONFIG_SECURITY_YAMA",
    "CONFIG_EFI_SECRET",
];

/// Words that pick a kernel log line for the bundle (lowercase).
const LOG_WORDS: &[&str] = &[
    "sgx",
    "sev",
    "snp",
    "tdx",
    "psp",
    "ccp",
    "tsm",
    "mem_encrypt",
    "memory encryption",
];

/// CPU flags that say what this processor offers for confidential computing.
const CPU_FLAGS: &[&str] = &[
    "sgx",
    "sgx_lc",
    "sgx2",
    "sev",
    "sev_es",
    "sev_snp",
    "sme",
    "tdx_guest",
    "tdx_host_platform",
    "vmx",
    "svm",
    "hypervisor",
];

/// Writing the bundle failed.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Creating or publishing the file.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing the archive into it.
    #[error("writing the bundle {path}: {source}")]
    Write {
        /// The bundle's path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The files of a bundle, in order, each already scrubbed.
#[derive(Debug, Default)]
pub struct Bundle {
    entries: Vec<(String, Vec<u8>)>,
    manifest: Vec<(String, String)>,
}

impl Bundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` as `name` (under [`ROOT`]), described by `what` in the manifest; scrubbed.
    pub fn add(&mut self, name: &str, what: &str, bytes: impl Into<Vec<u8>>) {
        let mut bytes = bytes.into();
        scrub(&mut bytes);
        self.entries.retain(|(n, _)| n != name);
        self.manifest.retain(|(n, _)| n != name);
        self.entries.push((name.to_string(), bytes));
        self.manifest.push((name.to_string(), what.to_string()));
    }

    /// The entries' names (without [`ROOT`]), in the archive's order: `MANIFEST.txt` first.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once("MANIFEST.txt")
            .chain(self.entries.iter().map(|(n, _)| n.as_str()))
            .collect()
    }

    /// Adds what this host says about itself (see the module docs).
    pub fn add_host_facts(&mut self) {
        self.add(
            "host/kernel.txt",
            "kernel version, command line and the confidential-computing module parameters",
            kernel_text(),
        );
        self.add(
            "host/firmware.txt",
            "BIOS/UEFI, microcode, SEV and TDX firmware as the kernel reports them",
            firmware_text(),
        );
        self.add(
            "host/kernel-config.txt",
            "the kernel configuration lines that matter (/proc/config.gz or /boot/config-*)",
            kernel_config_text(),
        );
        self.add(
            "host/kernel-log.txt",
            "the SGX, SEV and TDX lines of the kernel log",
            kernel_log_text(),
        );
        self.add(
            "host/cpu.txt",
            "the processor, its microcode and flags",
            cpu_text(),
        );
        self.add("host/qemu.txt", "QEMU's and OVMF's versions", qemu_text());
    }

    /// Writes the archive to `path` (see the module's rules). The manifest comes first.
    pub fn write(&self, path: &Path, force: bool) -> Result<(), BundleError> {
        let err = |source| BundleError::Write {
            path: path.display().to_string(),
            source,
        };
        let out = OutputFile::create(path, force)?;
        let gz = flate2::write::GzEncoder::new(out.file(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut manifest = format!(
            "confidump {} bug-report bundle\n\
             No secret is in it: reports are redacted, memory views dropped, and every file is\n\
             scrubbed of canary-shaped strings.\n\n",
            env!("CARGO_PKG_VERSION")
        );
        for (name, what) in &self.manifest {
            manifest.push_str(&format!("{name}\n    {what}\n"));
        }
        let manifest = ("MANIFEST.txt".to_string(), manifest.into_bytes());
        for (name, bytes) in std::iter::once(&manifest).chain(&self.entries) {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            tar.append_data(&mut header, format!("{ROOT}/{name}"), bytes.as_slice())
                .map_err(err)?;
        }
        let gz = tar.into_inner().map_err(err)?;
        let file = gz.finish().map_err(err)?;
        file.sync_data().map_err(err)?;
        out.commit()?;
        Ok(())
    }
}

/// Replaces every canary-shaped string in `bytes` (the victims' secrets: `CONFIDUMP-` and 24
/// lowercase hex digits) by a marker of the same length.
pub fn scrub(bytes: &mut [u8]) {
    let len = CANARY_PREFIX.len() + CANARY_HEX_LEN;
    let mut i = 0;
    while let Some(at) = bytes
        .get(i..)
        .and_then(|rest| memchr::memmem::find(rest, CANARY_PREFIX))
    {
        let start = i + at;
        match bytes.get_mut(start..start + len) {
            Some(window) if is_canary(window) => {
                window.copy_from_slice(&SCRUBBED[..len]);
                i = start + len;
            }
            _ => i = start + 1,
        }
    }
}

/// A file's text, bounded; `None` when it cannot be read.
fn read_capped(path: &str) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(FACT_LIMIT).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// `path: value` (trimmed), or `path: (not present)`.
fn fact_line(out: &mut String, path: &str) {
    let value = read_capped(path).map_or_else(
        || "(not present)".to_string(),
        |v| v.trim().replace('\n', " | "),
    );
    out.push_str(&format!("{path}: {value}\n"));
}

/// A command's stdout (and stderr, when it fails), bounded; what went wrong otherwise.
fn command_text(program: &str, args: &[&str]) -> String {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let output = match child.and_then(|c| c.wait_with_output()) {
        Ok(o) => o,
        Err(e) => return format!("{program}: {e}\n"),
    };
    let cap = |b: &[u8]| {
        let end = b
            .len()
            .min(usize::try_from(FACT_LIMIT).unwrap_or(usize::MAX));
        String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
    };
    let mut text = cap(&output.stdout);
    if !output.status.success() {
        text.push_str(&format!("({program} {}: ", output.status));
        text.push_str(cap(&output.stderr).trim());
        text.push_str(")\n");
    }
    text
}

fn kernel_text() -> String {
    let mut t = String::new();
    for p in [
        "/proc/version",
        "/proc/sys/kernel/osrelease",
        "/proc/cmdline",
        "/proc/sys/kernel/yama/ptrace_scope",
        "/sys/module/kvm_amd/parameters/sev",
        "/sys/module/kvm_amd/parameters/sev_es",
        "/sys/module/kvm_amd/parameters/sev_snp",
        "/sys/module/kvm_intel/parameters/tdx",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ] {
        fact_line(&mut t, p);
    }
    for p in [
        "/dev/sgx_enclave",
        "/dev/sgx_provision",
        "/dev/sgx_vepc",
        "/dev/sev",
        "/dev/sev-guest",
        "/dev/tdx_guest",
        "/dev/kvm",
        "/sys/kernel/config/tsm/report",
    ] {
        let state = if Path::new(p).exists() {
            "present"
        } else {
            "absent"
        };
        t.push_str(&format!("{p}: {state}\n"));
    }
    t
}

fn firmware_text() -> String {
    let mut t = String::new();
    for name in [
        "bios_vendor",
        "bios_version",
        "bios_date",
        "sys_vendor",
        "product_name",
    ] {
        fact_line(&mut t, &format!("/sys/class/dmi/id/{name}"));
    }
    t.push_str(&format!(
        "microcode: {}\n",
        cpuinfo_field("microcode").unwrap_or_else(|| "(not reported)".into())
    ));
    fact_line(&mut t, "/sys/firmware/sev/version");
    let fw: Vec<String> = kernel_log_lines()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("firmware") || l.contains("api:") || l.contains("module")
        })
        .collect();
    t.push_str("\nkernel log lines naming a SEV/TDX firmware or module version:\n");
    if fw.is_empty() {
        t.push_str("(none)\n");
    }
    for l in fw {
        t.push_str(&l);
        t.push('\n');
    }
    t
}

/// One summary line of the firmware, for a result's host facts: BIOS version and date, and
/// the microcode revision. Empty when the host tells neither.
pub fn firmware_summary() -> String {
    let bios = ["bios_vendor", "bios_version", "bios_date"]
        .iter()
        .filter_map(|n| read_capped(&format!("/sys/class/dmi/id/{n}")))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let micro = cpuinfo_field("microcode").map(|m| format!("microcode {m}"));
    [Some(bios).filter(|b| !b.is_empty()), micro]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
}

/// The first processor's `field` in `/proc/cpuinfo`.
fn cpuinfo_field(field: &str) -> Option<String> {
    let text = read_capped("/proc/cpuinfo")?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == field).then(|| v.trim().to_string())
    })
}

fn cpu_text() -> String {
    let mut t = String::new();
    for f in [
        "vendor_id",
        "model name",
        "cpu family",
        "model",
        "stepping",
        "microcode",
    ] {
        let v = cpuinfo_field(f).unwrap_or_else(|| "(not reported)".into());
        t.push_str(&format!("{f}: {v}\n"));
    }
    let flags = cpuinfo_field("flags").unwrap_or_default();
    let have: Vec<&str> = flags.split_whitespace().collect();
    t.push_str("confidential-computing flags:");
    for f in CPU_FLAGS {
        let mark = if have.contains(f) { "+" } else { "-" };
        t.push_str(&format!(" {mark}{f}"));
    }
    t.push_str(&format!("\nflags: {flags}\n"));
    t
}

/// The kernel configuration text: `/proc/config.gz`, else `/boot/config-RELEASE`; with where
/// it came from.
fn kernel_config() -> Option<(String, String)> {
    if let Ok(f) = std::fs::File::open("/proc/config.gz") {
        let mut text = String::new();
        let gz = flate2::read::GzDecoder::new(f);
        if gz.take(16 * FACT_LIMIT).read_to_string(&mut text).is_ok() {
            return Some(("/proc/config.gz".into(), text));
        }
    }
    let release = read_capped("/proc/sys/kernel/osrelease")?;
    let path = format!("/boot/config-{}", release.trim());
    let file = std::fs::File::open(&path).ok()?;
    let mut text = String::new();
    file.take(16 * FACT_LIMIT).read_to_string(&mut text).ok()?;
    Some((path, text))
}

fn kernel_config_text() -> String {
    let Some((from, text)) = kernel_config() else {
        return "no kernel configuration here: neither /proc/config.gz nor /boot/config-$(uname -r)\n"
            .into();
    };
    let mut t = format!("from {from}:\n");
    for key in CONFIG_KEYS {
        let set = format!("{key}=");
        let unset = format!("# {key} is not set");
        let line = text
            .lines()
            .find(|l| l.starts_with(&set) || l.starts_with(&unset))
            .map_or_else(|| format!("{key}: (not in this config)"), str::to_string);
        t.push_str(&line);
        t.push('\n');
    }
    t
}

/// The kernel log's lines naming SGX, SEV or TDX (see [`LOG_WORDS`]), at most a few thousand;
/// `Err` says why the log could not be read.
fn kernel_log_lines() -> Result<Vec<String>, String> {
    let output = Command::new("dmesg")
        .args(["--kernel", "--nopager"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("dmesg: {e}"))?;
    if !output.status.success() {
        let why = String::from_utf8_lossy(&output.stderr);
        return Err(format!("dmesg {}: {}", output.status, why.trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            LOG_WORDS.iter().any(|w| l.contains(w))
        })
        .take(4000)
        .map(str::to_string)
        .collect())
}

fn kernel_log_text() -> String {
    match kernel_log_lines() {
        Err(why) => format!("(the kernel log could not be read: {why})\n"),
        Ok(lines) if lines.is_empty() => {
            "(no kernel log line names SGX, SEV, SNP, TDX, the PSP or TSM)\n".into()
        }
        Ok(lines) => {
            let mut t = lines.join("\n");
            t.push('\n');
            t
        }
    }
}

fn qemu_text() -> String {
    let mut t = String::new();
    match crate::host::qemu::locate_qemu() {
        Ok(q) => {
            t.push_str(&format!("{}:\n", q.display()));
            t.push_str(&command_text(&q.to_string_lossy(), &["--version"]));
        }
        Err(e) => t.push_str(&format!("QEMU: {e}\n")),
    }
    t.push_str("\npackages:\n");
    t.push_str(&command_text(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${Package} ${Version}\n",
            "qemu-system-x86",
            "ovmf",
        ],
    ));
    t.push_str("\nOVMF files:\n");
    for dir in ["/usr/share/OVMF", "/usr/share/ovmf", "/usr/share/edk2/ovmf"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let size = std::fs::metadata(&p).map_or(0, |m| m.len());
            t.push_str(&format!("{} {size} bytes\n", p.display()));
        }
    }
    t
}

/// One summary line of QEMU's version, for a result's host facts (empty without QEMU).
pub fn qemu_summary(host: &crate::host::HostFacts) -> String {
    host.qemu_version()
        .map_or_else(String::new, |v| v.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canaries_are_scrubbed_and_nothing_else() {
        let mut b = b"x CONFIDUMP-0123456789abcdef01234567 y CONFIDUMP-short CONFIDUMP-".to_vec();
        scrub(&mut b);
        let s = String::from_utf8(b).unwrap();
        assert_eq!(
            s,
            "x CONFIDUMP-(redacted-secret-bundle) y CONFIDUMP-short CONFIDUMP-"
        );
        assert_eq!(SCRUBBED.len(), CANARY_PREFIX.len() + CANARY_HEX_LEN);
    }

    #[test]
    fn a_bundle_is_one_0600_archive_that_lists_its_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tgz");
        let mut b = Bundle::new();
        b.add("a.txt", "a file", "CONFIDUMP-0123456789abcdef01234567\n");
        b.add_host_facts();
        b.write(&path, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
        let mut names = Vec::new();
        let mut a = String::new();
        for e in tar::Archive::new(gz).entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            if name.ends_with("/a.txt") {
                e.read_to_string(&mut a).unwrap();
            }
            names.push(name);
        }
        assert!(names.contains(&"confidump-bundle/MANIFEST.txt".to_string()));
        assert!(names.contains(&"confidump-bundle/host/kernel-config.txt".to_string()));
        assert!(!a.contains("0123456789abcdef"), "{a}");
        assert!(
            b.write(&path, false).is_err(),
            "not overwritten without force"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
