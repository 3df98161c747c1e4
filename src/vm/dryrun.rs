//! `victim --context vm --dry-run`: the QEMU command line [`super::VmVictim::start`] would run,
//! built by the same pure function ([`qemu::qemu_args`]) from the same inputs, without starting
//! anything. It works on any host: what this host lacks to really run it is listed beside it
//! ([`DryRun::missing`]), never a reason to refuse.
//!
//! Stable output: the two files a real run creates in its private per-run directory (a fresh
//! `confidump-vm-pPID-RANDOM`, mode 0700) are shown under the placeholder [`RUNDIR`]: the
//! initramfs ([`INITRD_NAME`]) and QMP's socket ([`QMP_NAME`]). Everything else is a real path
//! of this host: the kernel (`--kernel`, else [`qemu::default_kernel`]; [`KERNEL_PLACEHOLDER`]
//! when there is none) and the firmware (`$CONFIDUMP_OVMF`, else the first of
//! [`cvm::OVMF_PATHS`] present; [`OVMF_PLACEHOLDER`] when there is none). With `--kernel` and
//! `$CONFIDUMP_OVMF` fixed, the output is the same on every host (the golden tests rely on it).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{cvm, qemu, AccelChoice, VmError, VmOptions};
use crate::victim::Mode;

/// Stands for the private per-run directory in a dry run's arguments.
pub const RUNDIR: &str = "<RUNDIR>";
/// The initramfs's name in the per-run directory.
pub const INITRD_NAME: &str = "initramfs.cpio";
/// QMP's unix socket's name in the per-run directory.
pub const QMP_NAME: &str = "qmp.sock";
/// Stands for the guest kernel when this host has none.
pub const KERNEL_PLACEHOLDER: &str = "<KERNEL>";
/// Stands for the OVMF firmware when this host has none.
pub const OVMF_PLACEHOLDER: &str = "<OVMF>";

/// What a dry run prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRun {
    /// The QEMU binary: its path when found, else its name.
    pub program: String,
    /// The arguments, in order, without the program.
    pub args: Vec<String>,
    /// The placeholders that occur in `args`, with what a real run puts there.
    pub placeholders: Vec<Placeholder>,
    /// The confidential-VM profile (`sev-snp`, `tdx`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvm: Option<&'static str>,
    /// What this host lacks to run it for real (empty: nothing known to be missing).
    pub missing: Vec<String>,
}

/// One placeholder of a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// As it appears in the arguments (`<RUNDIR>`).
    pub name: &'static str,
    /// What a real run puts there.
    pub meaning: &'static str,
}

/// The command line `opts` would run (see the module docs). Errors only for a mode that cannot
/// run in a guest at all, as [`super::VmVictim::start`] does.
pub fn dry_run(opts: &VmOptions) -> Result<DryRun, VmError> {
    if matches!(opts.mode, Mode::Residue | Mode::Undumpable) {
        return Err(VmError::Mode(opts.mode.as_str()));
    }
    let host = crate::host::HostFacts::shared();
    let qemu_path = host.qemu.as_ref().ok().cloned();
    let mut missing = Vec::new();
    let mut placeholders = vec![Placeholder {
        name: RUNDIR,
        meaning:
            "the private directory (mode 0700) a run creates: $TMPDIR/confidump-vm-pPID-RANDOM",
    }];
    if qemu_path.is_none() {
        missing.push(format!(
            "QEMU ({} on PATH or $CONFIDUMP_QEMU)",
            qemu::QEMU_BINARY
        ));
    }
    let kernel = match &opts.kernel {
        Some(k) => {
            if std::fs::File::open(k).is_err() {
                missing.push(format!("the guest kernel {}", k.display()));
            }
            k.clone()
        }
        None => qemu::default_kernel().unwrap_or_else(|| {
            missing.push(format!("a guest kernel ({} or --kernel)", host.fetch_kernel));
            placeholders.push(Placeholder {
                name: KERNEL_PLACEHOLDER,
                meaning: "the guest kernel (--kernel, /boot/vmlinuz-$(uname -r), or fetch-guest-kernel.sh's)",
            });
            PathBuf::from(KERNEL_PLACEHOLDER)
        }),
    };
    let (accel, cvm) = match opts.cvm {
        Some(profile) => {
            let facts = host.cvm_facts();
            missing.extend(
                cvm::missing_requirements(profile, &facts)
                    .into_iter()
                    .map(|t| t.en),
            );
            let ovmf = facts.ovmf.unwrap_or_else(|| {
                placeholders.push(Placeholder {
                    name: OVMF_PLACEHOLDER,
                    meaning: "the OVMF firmware ($CONFIDUMP_OVMF, else /usr/share/ovmf/OVMF.fd or another of the usual paths)",
                });
                PathBuf::from(OVMF_PLACEHOLDER)
            });
            // A confidential VM runs only under KVM, whatever --accel says.
            (qemu::Accel::Kvm, Some((profile, ovmf)))
        }
        None => {
            let kvm = Path::new("/dev/kvm");
            let usable = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(kvm)
                .is_ok();
            let accel = match opts.accel {
                AccelChoice::Tcg => qemu::Accel::Tcg,
                AccelChoice::Kvm => {
                    if !usable {
                        missing.push("a usable /dev/kvm (--accel kvm)".into());
                    }
                    qemu::Accel::Kvm
                }
                // --accel auto tries KVM first when it is usable, then TCG.
                AccelChoice::Auto if usable => qemu::Accel::Kvm,
                AccelChoice::Auto => qemu::Accel::Tcg,
            };
            (accel, None)
        }
    };
    let rundir = Path::new(RUNDIR);
    let plan = qemu::LaunchPlan {
        accel,
        memory_mib: opts.memory(),
        kernel,
        initrd: rundir.join(INITRD_NAME),
        cmdline: qemu::guest_cmdline(
            cvm.is_some(),
            opts.mode.as_str(),
            opts.guest_container,
            opts.wire,
        ),
        qmp_socket: rundir.join(QMP_NAME),
        cvm,
        incoming: None,
    };
    Ok(DryRun {
        program: qemu_path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| qemu::QEMU_BINARY.to_string()),
        args: qemu::qemu_args(&plan),
        placeholders,
        cvm: opts.cvm.map(|p| p.as_str()),
        missing,
    })
}

impl DryRun {
    /// The text form: the program, then one argument per line (`xargs -d '\n'` runs it once the
    /// placeholders are replaced).
    pub fn to_lines(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str(&self.program);
        out.push('\n');
        for a in &self.args {
            out.push_str(a);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_modes_are_refused() {
        let opts = VmOptions::new(Mode::Residue);
        assert!(matches!(dry_run(&opts), Err(VmError::Mode("residue"))));
    }

    #[test]
    fn per_run_files_are_placeholders() {
        let mut opts = VmOptions::new(Mode::Plain);
        opts.kernel = Some("/nonexistent/vmlinuz".into());
        opts.accel = AccelChoice::Tcg;
        let d = dry_run(&opts).unwrap();
        let lines = d.to_lines();
        assert!(lines.contains("\n<RUNDIR>/initramfs.cpio\n"), "{lines}");
        assert!(lines.contains("\nunix:<RUNDIR>/qmp.sock,server=on,wait=off\n"));
        assert!(lines.contains("\n/nonexistent/vmlinuz\n"));
        assert!(lines.contains("\ntcg,tb-size=64\n"), "{lines}");
        assert!(d.missing.iter().any(|m| m.contains("/nonexistent/vmlinuz")));
        assert_eq!(d.cvm, None);
    }
}
