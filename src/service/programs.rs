//! The PostgreSQL programs a private instance runs ([`PgBinaries`]: `initdb` and `postgres`,
//! found on `PATH` or in Debian's versioned directories) and the user they run as ([`RunAs`]).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Uid};

use super::instance::InstanceError;

/// Where the server programs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// `initdb`.
    pub initdb: PathBuf,
    /// `postgres` (the server).
    pub postgres: PathBuf,
}

impl PgBinaries {
    /// Finds `initdb` and `postgres`: in `bindir` if given; else the first directory of `PATH`
    /// holding both, else the newest `/usr/lib/postgresql/*/bin` (where Debian puts them, off
    /// `PATH`).
    pub fn find(bindir: Option<&Path>) -> Result<Self, InstanceError> {
        match bindir {
            Some(dir) => Self::find_in(&[dir.to_path_buf()], &[]),
            None => {
                let path: Vec<PathBuf> = std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect())
                    .unwrap_or_default();
                Self::find_in(&path, &[PathBuf::from("/usr/lib/postgresql")])
            }
        }
    }

    /// [`PgBinaries::find`] over explicit lists: each of `dirs` in order, then `ROOT/*/bin` for
    /// each of `version_roots`, highest version first.
    pub fn find_in(dirs: &[PathBuf], version_roots: &[PathBuf]) -> Result<Self, InstanceError> {
        let mut candidates: Vec<PathBuf> = dirs.to_vec();
        for root in version_roots {
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((v, e.path().join("bin")))
                })
                .collect();
            versions.sort_by_key(|v| std::cmp::Reverse(v.0));
            candidates.extend(versions.into_iter().map(|(_, p)| p));
        }
        for dir in &candidates {
            let initdb = dir.join("initdb");
            let postgres = dir.join("postgres");
            if is_executable(&initdb) && is_executable(&postgres) {
                return Ok(Self { initdb, postgres });
            }
        }
        let mut searched: Vec<String> = Vec::new();
        if !dirs.is_empty() {
            searched.push(if dirs.len() == 1 {
                dirs.iter().map(|d| d.display().to_string()).collect()
            } else {
                "PATH".to_string()
            });
        }
        searched.extend(
            version_roots
                .iter()
                .map(|r| format!("{}/*/bin", r.display())),
        );
        Err(InstanceError::NotInstalled {
            searched: searched.join(" or "),
        })
    }

    /// `postgres --version`'s text, e.g. `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
    pub fn version(&self) -> Option<String> {
        let out = Command::new(&self.postgres)
            .arg("--version")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// The user the server runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: Uid,
    /// Its primary gid.
    pub gid: Gid,
    /// Whether children must switch to it (confidump is root); false: it is confidump's user.
    pub switch: bool,
}

impl RunAs {
    /// `name` (default `nobody`) when confidump is root; confidump's own user otherwise (an
    /// unprivileged process cannot switch, and needs not).
    pub fn resolve(name: Option<&str>) -> Result<Self, InstanceError> {
        let euid = Uid::effective();
        if !euid.is_root() {
            let name = nix::unistd::User::from_uid(euid)
                .ok()
                .flatten()
                .map_or_else(|| euid.to_string(), |u| u.name);
            return Ok(Self {
                name,
                uid: euid,
                gid: Gid::effective(),
                switch: false,
            });
        }
        let name = name.unwrap_or("nobody");
        let user = nix::unistd::User::from_name(name)
            .map_err(|e| InstanceError::User {
                name: name.to_string(),
                reason: e.desc().to_string(),
            })?
            .ok_or_else(|| InstanceError::User {
                name: name.to_string(),
                reason: "no such user".to_string(),
            })?;
        if user.uid.is_root() {
            return Err(InstanceError::User {
                name: name.to_string(),
                reason: "it is root, and PostgreSQL refuses to run as root".to_string(),
            });
        }
        Ok(Self {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            switch: true,
        })
    }

    /// A command that runs as this user, dies with the calling thread (`PR_SET_PDEATHSIG`),
    /// in its own process group (a terminal's Ctrl-C reaches confidump, which then shuts the
    /// server down in order), with `dir` as working directory.
    pub(super) fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir).process_group(0).stdin(Stdio::null());
        if self.switch {
            // std drops the supplementary groups too when root switches uid.
            cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
        }
        // SAFETY: the closure runs in the forked child before exec and only makes two
        // async-signal-safe system calls (prctl, getppid); it allocates nothing and takes no
        // lock. std runs it after switching uid, which would otherwise clear the setting.
        unsafe {
            cmd.pre_exec(crate::files::cleanup::die_with_parent());
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_binaries_in_dirs_then_newest_version() {
        let t = tempfile::tempdir().unwrap();
        let mk = |dir: &Path| {
            std::fs::create_dir_all(dir).unwrap();
            for n in ["initdb", "postgres"] {
                let p = dir.join(n);
                std::fs::write(&p, b"#!/bin/sh\n").unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        };
        let root = t.path().join("lib");
        mk(&root.join("13/bin"));
        mk(&root.join("15/bin"));
        let empty = t.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let b =
            PgBinaries::find_in(std::slice::from_ref(&empty), std::slice::from_ref(&root)).unwrap();
        assert_eq!(b.initdb, root.join("15/bin/initdb"));
        let own = t.path().join("own");
        mk(&own);
        let b = PgBinaries::find_in(&[empty.clone(), own.clone()], &[root]).unwrap();
        assert_eq!(b.postgres, own.join("postgres"));
    }

    #[test]
    fn missing_postgres_names_the_package() {
        let t = tempfile::tempdir().unwrap();
        let e = PgBinaries::find_in(&[t.path().to_path_buf()], &[t.path().join("nope")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("install the `postgresql` package"), "{e}");
        assert!(e.contains(&t.path().display().to_string()), "{e}");
    }
}
