//! The guest's `/init` and the OCI bundle's program: a statically linked copy of confidump.
//!
//! The guest's initramfs and the container's root file system hold no libc, so they need a
//! static binary. `.cargo/config.toml` makes every build of confidump static, so normally the
//! running binary is that copy and nothing is built. A binary built without that file (linked
//! dynamically) can still run VM and container rows from its source tree: [`prepare`] then
//! builds the static copy once, with `RUSTFLAGS='-C target-feature=+crt-static' cargo build
//! --release --target x86_64-unknown-linux-gnu --target-dir target/static` (or
//! `$CONFIDUMP_STATIC_TARGET_DIR`), *before any victim starts*, so no victim's ready window
//! ever includes a build, and hands the result to every victim through `$CONFIDUMP_GUEST_INIT`.
//!
//! [`static_init`] (what a victim calls) never builds. Its order: `$CONFIDUMP_GUEST_INIT` (set
//! by [`prepare`], or a static binary you built), the running binary when it is static, and a
//! copy built earlier in the static target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::i18n::Lang;

/// The target triple of the static build (the only one installed; no rustup download needed).
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Names a static confidump for victims: set by [`prepare`] for the victims a run starts.
pub const GUEST_INIT_ENV: &str = "CONFIDUMP_GUEST_INIT";

/// Where a dynamically linked confidump builds its static copy (default: `target/static` in
/// its source tree).
pub const STATIC_TARGET_DIR_ENV: &str = "CONFIDUMP_STATIC_TARGET_DIR";

/// Errors of finding or building the static init.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A binary that was named or found cannot be read.
    #[error("{} cannot be the guest's /init: {source}", .path.display())]
    Unreadable {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A binary that was named or found is linked dynamically.
    #[error("{} cannot be the guest's /init: not a statically linked x86-64 ELF executable (it has a PT_INTERP)", .path.display())]
    NotStatic {
        /// The binary.
        path: PathBuf,
    },
    /// Building the static copy failed.
    #[error("building a static confidump for the guest's /init failed ({status}); run it by hand to see why: RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target {STATIC_TARGET} --target-dir target/static")]
    Build {
        /// Cargo's exit status.
        status: std::process::ExitStatus,
    },
    /// Cargo could not be started to build the static copy.
    #[error("building a static confidump for the guest's /init failed ({source}); run it by hand to see why: RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target {STATIC_TARGET} --target-dir target/static")]
    Cargo {
        /// Why.
        source: std::io::Error,
    },
    /// Nothing found and nothing to build with.
    #[error("no static confidump for the guest's /init: this confidump is linked dynamically (built without the source tree's .cargo/config.toml); build it from the source tree with `cargo build --release`, or set CONFIDUMP_GUEST_INIT to a static confidump")]
    Missing,
}

/// Finds the static confidump for the victims this run will start, building it first when
/// this binary is dynamic and its source tree and cargo are at hand; sets
/// `$CONFIDUMP_GUEST_INIT` so that every victim started afterwards uses it. Call it before any
/// victim starts and before other threads read the environment. `progress` is told once, before
/// a build (minutes), and never when nothing is built.
pub fn prepare(progress: impl FnOnce()) -> Result<PathBuf, InitError> {
    let path = match find() {
        Some(found) => found?,
        None => {
            let (cargo, manifest) = build_tools().ok_or(InitError::Missing)?;
            let target_dir = static_target_dir(manifest);
            progress();
            build(&cargo, manifest, &target_dir)?;
            load(&built_path(&target_dir))?.0
        }
    };
    // Before the victims exist, and before this run starts worker threads that read the
    // environment: the demo, the lab and `victim --context` call this first.
    std::env::set_var(GUEST_INIT_ENV, &path);
    Ok(path)
}

/// [`prepare`] for a command about to start victims, its words in `lang`: `say` gets the one
/// line of progress before a build, and the failure, said once (the rows that need the binary
/// then report it as their error).
pub fn prepare_saying(lang: Lang, mut say: impl FnMut(&str)) {
    let result = prepare(|| say(crate::i18n::t(lang, "static.building")));
    if let Err(e) = result {
        say(&e.to_string());
    }
}

/// Finds the static confidump; never builds (see [`prepare`]). Returns its path and bytes.
pub fn static_init() -> Result<(PathBuf, Vec<u8>), InitError> {
    match find() {
        Some(found) => found.and_then(|p| load(&p)),
        None => Err(InitError::Missing),
    }
}

/// The first static confidump in the lookup order; `None` when there is none to try.
fn find() -> Option<Result<PathBuf, InitError>> {
    if let Some(p) = std::env::var_os(GUEST_INIT_ENV) {
        return Some(load(Path::new(&p)).map(|(p, _)| p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if is_static_file(&exe) {
            return Some(Ok(exe));
        }
    }
    let mut built = Vec::new();
    if let Some(d) = std::env::var_os(STATIC_TARGET_DIR_ENV) {
        built.push(PathBuf::from(d));
    } else {
        built.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/static"));
        // A copy built earlier next to the running binary (<target>/release/confidump).
        if let Ok(exe) = std::env::current_exe() {
            if let Some(target) = exe.parent().and_then(Path::parent) {
                built.push(target.join("static"));
            }
        }
    }
    built
        .iter()
        .map(|d| built_path(d))
        .find(|p| is_static_file(p))
        .map(Ok)
}

/// True when `path` is a static x86-64 executable (reads only its headers).
fn is_static_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .is_ok()
        && is_static_elf(&head)
}

fn static_target_dir(manifest: &Path) -> PathBuf {
    std::env::var_os(STATIC_TARGET_DIR_ENV)
        .map_or_else(|| manifest.join("target/static"), PathBuf::from)
}

/// Cargo and the source tree, when this binary was built from one that is still there.
fn build_tools() -> Option<(PathBuf, &'static Path)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !manifest.join("Cargo.toml").is_file() {
        return None;
    }
    Some((find_cargo()?, manifest))
}

fn built_path(target_dir: &Path) -> PathBuf {
    target_dir
        .join(STATIC_TARGET)
        .join("release")
        .join("confidump")
}

fn load(path: &Path) -> Result<(PathBuf, Vec<u8>), InitError> {
    let bytes = std::fs::read(path).map_err(|source| InitError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    if !is_static_elf(&bytes) {
        return Err(InitError::NotStatic {
            path: path.to_path_buf(),
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
    tracing::info!(target_dir = %target_dir.display(), "building the static confidump");
    let mut cmd = Command::new(cargo);
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
        .map_err(|source| InitError::Cargo { source })?;
    if !status.success() {
        return Err(InitError::Build { status });
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
    fn static_and_dynamic_binaries_are_told_apart() {
        // The test binary is static, like every build of confidump (.cargo/config.toml).
        let me = std::env::current_exe().unwrap();
        assert!(is_static_file(&me));
        // A dynamically linked program of the system's.
        let sh = std::fs::read("/bin/sh").unwrap();
        assert!(!is_static_elf(&sh));
        assert!(!is_static_elf(b"\x7fELF"));
        assert!(!is_static_elf(b"#!/bin/sh\n"));
    }
}
