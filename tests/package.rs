//! The Debian package (scripts/package.sh) installs a confidump that works with no source tree
//! and no Rust: built from the binary under test, installed into this system with `dpkg -i`,
//! run from `/` with a PATH that has no cargo, then purged (also when a check fails).
//!
//! Needs root, dpkg, man and what `scripts/setup.sh` installs for the demo's VM and container
//! rows (QEMU, a guest kernel, runc), through `common::require`: a SKIP line outside CI, a
//! failure in strict mode, since it could not tell that those rows ran.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{require, Need};

/// The PATH a stakeholder's machine has: no ~/.cargo/bin.
const PLAIN_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Purges the package on drop, whatever happened after `dpkg -i` began.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        match Command::new("dpkg").args(["--purge", "confidump"]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "package test: dpkg --purge confidump failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("package test: dpkg --purge confidump: {e}"),
        }
    }
}

/// `program args` from `/`, with only PATH and HOME set: as a user without Rust runs it.
fn plain(program: &str, args: &[&str]) -> Output {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", PLAIN_PATH)
        .env("HOME", home)
        .current_dir("/")
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn check(o: &Output, what: &str) -> String {
    let (out, err) = text(o);
    assert!(
        o.status.success(),
        "{what}: {:?}\nstdout:\n{out}\nstderr:\n{err}",
        o.status
    );
    out
}

#[test]
fn the_package_installs_a_confidump_that_needs_no_rust() {
    // Root and dpkg to install it; what the VM and container rows need, so that "they ran"
    // can be checked; and no confidump of someone else's to replace.
    for need in [
        Need::Root,
        Need::Dpkg,
        Need::NoInstalledPackage,
        Need::Qemu,
        Need::GuestKernel,
        Need::Runtime(confidump::container::Runtime::Runc),
    ] {
        if !require(need) {
            return;
        }
    }

    let out_dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package.sh");
    let built = Command::new(&script)
        .args(["--binary", env!("CARGO_BIN_EXE_confidump"), "--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    let deb = PathBuf::from(check(&built, "scripts/package.sh").trim());
    assert!(deb.is_file(), "package.sh printed {}", deb.display());

    // The package holds what it should, before it is installed.
    let listing = check(
        &Command::new("dpkg-deb")
            .arg("-c")
            .arg(&deb)
            .output()
            .unwrap(),
        "dpkg-deb -c",
    );
    for path in [
        "./usr/bin/confidump",
        "./usr/share/man/man1/confidump.1.gz",
        "./usr/share/man/man1/confidump-dump.1.gz",
        "./usr/share/man/man1/confidump-demo.1.gz",
        "./usr/share/man/man1/confidump-lab-start.1.gz",
        "./usr/share/bash-completion/completions/confidump",
        "./usr/share/zsh/vendor-completions/_confidump",
        "./usr/share/fish/vendor_completions.d/confidump.fish",
        "./usr/share/confidump/fetch-guest-kernel.sh",
        "./usr/share/doc/confidump/README.md",
        "./usr/share/doc/confidump/labs.md",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} not in the package:\n{listing}"
        );
    }
    assert!(
        !listing.contains("confidump-guest-init") && !listing.contains("confidump-generate"),
        "hidden commands got man pages:\n{listing}"
    );

    let installed = Installed;
    check(
        &Command::new("dpkg").arg("-i").arg(&deb).output().unwrap(),
        "dpkg -i",
    );

    let help = check(&plain("confidump", &["--help"]), "confidump --help");
    assert!(help.contains("Usage: confidump"), "{help}");

    let page = Path::new("/usr/share/man/man1/confidump-dump.1.gz");
    let roff = check(
        &Command::new("gzip").arg("-dc").arg(page).output().unwrap(),
        "gzip -dc confidump-dump.1.gz",
    );
    assert!(roff.contains(".TH confidump-dump 1"), "{roff}");
    let found = check(&plain("man", &["-w", "confidump-dump"]), "man -w");
    assert_eq!(found.trim(), page.display().to_string());

    let completion = check(
        &plain(
            "bash",
            &[
                "-c",
                "source /usr/share/bash-completion/completions/confidump && complete -p confidump",
            ],
        ),
        "loading the bash completion",
    );
    assert!(completion.contains("confidump"), "{completion}");

    let demo = plain("confidump", &["demo", "--format", "json"]);
    let (json, err) = text(&demo);
    assert_eq!(
        demo.status.code(),
        Some(0),
        "installed demo: {:?}\nstderr:\n{err}\nstdout:\n{json}",
        demo.status
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["mismatches"], 0, "{json}");
    let cells = report["cells"].as_array().unwrap();
    for row in [
        "vm-plain",
        "vm-secretmem",
        "container",
        "container-secretmem",
        "container-oci",
    ] {
        let of_row: Vec<_> = cells.iter().filter(|c| c["scenario"] == row).collect();
        assert!(
            of_row.iter().any(|c| c["observed"] != "n/a"),
            "{row} did not run: {of_row:?}"
        );
        assert!(
            of_row.iter().all(|c| c["observed"] != "error"),
            "{row} failed: {of_row:?}"
        );
    }
    drop(installed);
    let after = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "confidump"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&after.stdout).ends_with(" installed"),
        "still installed after the purge"
    );
    assert!(!Path::new("/usr/bin/confidump").exists());
}
