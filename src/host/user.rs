//! The unprivileged user a victim can run as (for the same-uid attacker): found in
//! `/etc/passwd` and tried for real (`EXE --version` as that user).

use std::path::Path;

use crate::model::Texts;
use std::process::{Command, Stdio};

/// An unprivileged user that can run this executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// The (uid, gid) of `name` in `passwd` text (the format of `/etc/passwd`).
pub fn passwd_lookup(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// The user `name`, if it exists, is not root and can run `exe` (tried: `exe --version` as
/// that user); else why not, in both languages, as every reader shows it.
pub fn probe_user(exe: &Path, name: &str) -> Result<User, Texts> {
    use std::os::unix::process::CommandExt;
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| {
        Texts::new(
            format!("no unprivileged user: reading /etc/passwd: {e}"),
            format!("非特権ユーザーがいない。/etc/passwd を読めない（{e}）。"),
        )
    })?;
    let (uid, gid) = passwd_lookup(&passwd, name).ok_or_else(|| {
        Texts::new(
            format!("no unprivileged user: {name:?} is not in /etc/passwd"),
            format!("非特権ユーザーがいない。/etc/passwd に {name} がない。"),
        )
    })?;
    if uid == 0 {
        return Err(Texts::new(
            format!("no unprivileged user: {name:?} has uid 0"),
            format!("非特権ユーザーがいない。{name} の uid が 0 になっている。"),
        ));
    }
    let out = Command::new(exe)
        .arg("--version")
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .output();
    let exe = exe.display();
    match out {
        Ok(o) if o.status.success() => Ok(User {
            name: name.to_string(),
            uid,
            gid,
        }),
        Ok(o) => {
            let said = String::from_utf8_lossy(&o.stderr).trim().to_string();
            Err(Texts::new(
                format!("user {name} cannot run {exe}: {said}"),
                format!("ユーザー {name} は {exe} を実行できない（{said}）。"),
            ))
        }
        // The usual cause: the binary sits under a directory only root may enter (/root,
        // a 0700 temporary directory).
        Err(e) => Err(Texts::new(
            format!("user {name} cannot run {exe} ({e}): put confidump where {name} can execute it"),
            format!(
                "ユーザー {name} は {exe} を実行できない（{}）。{name} が実行できる場所に confidump を置く。",
                // The errno's name (EACCES), a technical word in either language.
                e.raw_os_error().map_or_else(
                    || e.to_string(),
                    |n| format!("{:?}", nix::errno::Errno::from_raw(n))
                )
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookup_finds_uid_and_gid() {
        let p = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(passwd_lookup(p, "nobody"), Some((65534, 65534)));
        assert_eq!(passwd_lookup(p, "nob"), None);
    }
}
