//! The guest's `/init`: a statically linked copy of confidump.
//!
//! The normal build links glibc dynamically, and the guest's initramfs has no libc. A static
//! glibc build works for our code (no NSS, no `dlopen`), so the first VM run builds one with
//! `RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target
//! x86_64-unknown-linux-gnu --target-dir <source>/target/static` (debug info off, stripped, to
//! keep the initramfs small). Cargo caches it: later runs cost a no-op `cargo build`, and a
//! changed source tree is rebuilt, so the guest never runs stale code.
//!
//! Lookup order: `$CONFIDUMP_GUEST_INIT` (a static binary you built), the running binary when it
//! is itself static, the cargo build above when the source tree and cargo are present, and
//! last a previously built `target/static` binary next to the running one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target triple of the static build (the only one installed; no rustup download needed).
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Errors of finding or building the static init.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A binary that was named or found is not usable as `/init`.
    #[error("{path} cannot be the guest's /init: {why}")]
    Unusable {
        /// The binary.
        path: PathBuf,
        /// Why not.
        why: String,
    },
    /// Building the static copy failed.
    #[error("building a static confidump for the guest's /init failed ({status}); run it by hand to see why: RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target {STATIC_TARGET} --target-dir target/static")]
    Build {
        /// Cargo's exit status.
        status: String,
    },
    /// Nothing found and nothing to build with.
    #[error("no static confidump for the guest's /init: set CONFIDUMP_GUEST_INIT to one, or run from the source tree with cargo on PATH so confidump can build it")]
    Missing,
}

/// Finds (or builds) the static confidump; returns its path and its bytes.
pub fn static_init() -> Result<(PathBuf, Vec<u8>), InitError> {
    if let Some(p) = std::env::var_os("CONFIDUMP_GUEST_INIT") {
        return load(Path::new(&p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Ok(bytes) = std::fs::read(&exe) {
            if is_static_elf(&bytes) {
                return Ok((exe, bytes));
            }
        }
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("Cargo.toml").is_file() {
        if let Some(cargo) = find_cargo() {
            let target_dir = manifest.join("target/static");
            // One build (or up-to-date check) per process: concurrent VM rows of the demo
            // would otherwise queue on cargo's lock, each printing that it waits.
            static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
            let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
            if !*built {
                build(&cargo, manifest, &target_dir)?;
                *built = true;
            }
            return load(&built_path(&target_dir));
        }
    }
    // A copy built earlier next to the running binary (<target>/release/confidump).
    if let Ok(exe) = std::env::current_exe() {
        if let Some(target) = exe.parent().and_then(Path::parent) {
            let p = built_path(&target.join("static"));
            if p.is_file() {
                return load(&p);
            }
        }
    }
    Err(InitError::Missing)
}

fn built_path(target_dir: &Path) -> PathBuf {
    target_dir
        .join(STATIC_TARGET)
        .join("release")
        .join("confidump")
}

fn load(path: &Path) -> Result<(PathBuf, Vec<u8>), InitError> {
    let bytes = std::fs::read(path).map_err(|e| InitError::Unusable {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    if !is_static_elf(&bytes) {
        return Err(InitError::Unusable {
            path: path.to_path_buf(),
            why: "not a statically linked x86-64 ELF executable (it has a PT_INTERP)".into(),
        });
    }
    Ok((path.to_path_buf(), bytes))
}

fn find_cargo() -> Option<PathBuf> {
    use crate::host::{is_executable, which, which_in};
    // Under `cargo test`/`cargo run`, $CARGO names the cargo that built us.
    if let Some(c) = std::env::var_os("CARGO") {
        let c = PathBuf::from(c);
        if is_executable(&c) {
            return Some(c);
        }
    }
    which("cargo").or_else(|| {
        let home = PathBuf::from(std::env::var_os("HOME")?);
        which_in("cargo", &[home.join(".cargo/bin")])
    })
}

fn build(cargo: &Path, manifest: &Path, target_dir: &Path) -> Result<(), InitError> {
    tracing::info!(target_dir = %target_dir.display(), "building the static guest init");
    // The first build takes a minute or two: let cargo show its progress then. Later calls
    // are up-to-date checks: keep them quiet.
    let first = !built_path(target_dir).is_file();
    let mut cmd = Command::new(cargo);
    if !first {
        cmd.arg("--quiet");
    }
    let status = cmd
        .current_dir(manifest)
        .args([
            "build",
            "--release",
            "--bin",
            "confidump",
            "--target",
            STATIC_TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir)
        // CARGO_ENCODED_RUSTFLAGS would win over RUSTFLAGS: drop any inherited flags.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        // Debug info and symbols would triple the initramfs the guest must unpack.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        // Cargo's progress goes to our stderr: the first build takes a minute or two.
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| InitError::Build {
            status: e.to_string(),
        })?;
    if !status.success() {
        return Err(InitError::Build {
            status: status.to_string(),
        });
    }
    Ok(())
}

/// True for a 64-bit little-endian x86-64 ELF executable without a `PT_INTERP` segment (no
/// dynamic loader: it runs in an empty initramfs). Every read is bounds-checked.
pub fn is_static_elf(b: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |o: usize| b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map(u64::from_le_bytes)
    };
    if b.get(..4) != Some(b"\x7fELF") || b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return false;
    }
    // e_machine EM_X86_64 = 62; e_type ET_EXEC (2) or ET_DYN (3, static-pie).
    if u16_at(18) != Some(62) || !matches!(u16_at(16), Some(2 | 3)) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(32), u16_at(54), u16_at(56)) else {
        return false;
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return false;
    };
    for i in 0..usize::from(phnum) {
        let Some(off) = usize::from(phentsize)
            .checked_mul(i)
            .and_then(|x| x.checked_add(phoff))
        else {
            return false;
        };
        match u32_at(off) {
            Some(PT_INTERP) => return false,
            Some(_) => {}
            None => return false,
        }
    }
    phnum > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_binaries_are_not_static() {
        // The test binary itself is linked dynamically (the normal build).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(!is_static_elf(&me));
        assert!(!is_static_elf(b"\x7fELF"));
        assert!(!is_static_elf(b"#!/bin/sh\n"));
    }
}
