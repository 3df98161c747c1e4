//! CRIU, the checkpoint tool behind `runc checkpoint` and the kubelet's checkpoint API: it
//! writes every page of a container to disk, a dump path of its own. It only works where
//! `criu check` passes; CRIU 3.17 (Debian 12) fails it on recent kernels. [`check`] runs it and
//! returns CRIU's own reason, so that a `checkpoint` attack column can say `n/a` with that
//! reason instead of skipping silently.

use std::process::{Command, Stdio};

use crate::model::Texts;

/// What `criu check` says about this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriuCheck {
    /// `criu check` passed: checkpoints can be taken.
    Usable {
        /// `criu --version`'s version, when it printed one.
        version: Option<String>,
    },
    /// CRIU is not installed.
    Missing {
        /// What to install.
        package: &'static str,
    },
    /// `criu check` failed.
    Failed {
        /// CRIU's own reason (its error lines, without source positions).
        reason: String,
        /// `criu --version`'s version, when it printed one.
        version: Option<String>,
    },
}

impl CriuCheck {
    /// Why a checkpoint attack is not available here, or `None` when it is (in English).
    pub fn unavailable_reason(&self) -> Option<String> {
        self.unavailable_texts().map(|t| t.en)
    }

    /// [`Self::unavailable_reason`] in both languages. CRIU's own words are English: the
    /// Japanese says that `criu check` fails and leaves them to its output.
    pub fn unavailable_texts(&self) -> Option<Texts> {
        match self {
            CriuCheck::Usable { .. } => None,
            CriuCheck::Missing { package } => Some(Texts::new(
                format!("not available on this host: needs CRIU (apt-get install {package})"),
                format!("このホストでは利用できない。CRIU が必要（apt-get install {package}）。"),
            )),
            CriuCheck::Failed { reason, version } => Some(Texts::new(
                format!(
                    "not available on this host: `criu check` fails{}: {reason}",
                    version
                        .as_deref()
                        .map(|v| format!(" (CRIU {v})"))
                        .unwrap_or_default()
                ),
                format!(
                    "このホストでは利用できない。{}criu check が失敗する（理由は criu check の出力にある）。",
                    version
                        .as_deref()
                        .map(|v| format!("CRIU {v} の "))
                        .unwrap_or_default()
                ),
            )),
        }
    }
}

/// Runs `criu check` (needs root) and reports what it says.
pub fn check() -> CriuCheck {
    let version = Command::new("criu")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)));
    let out = match Command::new("criu")
        .arg("check")
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return CriuCheck::Missing { package: "criu" };
        }
        Err(e) => {
            return CriuCheck::Failed {
                reason: format!("cannot run criu: {e}"),
                version,
            };
        }
    };
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        return CriuCheck::Usable { version };
    }
    CriuCheck::Failed {
        reason: failure_reason(&text).unwrap_or_else(|| format!("criu check: {}", out.status)),
        version,
    }
}

/// `Version: 3.17.1` → `3.17.1`.
pub fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// CRIU's reason from `criu check`'s output: its `Error (file:line): message` lines, without
/// the positions and without the generic `exited, status=N` of its helper processes; the
/// first specific message first. `None` when there is no error line.
pub fn failure_reason(output: &str) -> Option<String> {
    let mut msgs: Vec<&str> = Vec::new();
    // An error line may follow other text on the same line (criu does not always end its
    // lines), so look for every "Error (" anywhere.
    for piece in output.split("Error (").skip(1) {
        let msg = piece
            .split_once("): ")
            .map(|(_, m)| m)
            .unwrap_or(piece)
            .lines()
            .next()
            .unwrap_or("")
            .trim();
        if msg.is_empty() || msg.starts_with("exited, status=") || msgs.contains(&msg) {
            continue;
        }
        msgs.push(msg);
    }
    let first = msgs.first()?;
    let rest: Vec<&str> = msgs.iter().skip(1).copied().collect();
    Some(if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first} ({})", rest.join("; "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `criu check` on Linux 6.18 with CRIU 3.17.1 (Debian 12), as printed here.
    const DEBIAN12: &str = "Version: 3.17.1Error (criu/util.c:642): exited, status=1\n\
        Error (criu/util.c:642): exited, status=1\n\
        Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n\
        Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n\
        Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n\
        Error (criu/crtools.c:260): Could not initialize kernel features detection.\n";

    #[test]
    fn the_vdso_reason_is_found() {
        let r = failure_reason(DEBIAN12).unwrap();
        assert!(
            r.starts_with("vdso: Unexpected rt vDSO area bounds ("),
            "{r}"
        );
        assert!(r.contains("Could not initialize kernel features detection."));
        assert!(!r.contains("status=1"));
        assert!(!r.contains("vdso.c"));
        assert_eq!(failure_reason("Looks good.\n"), None);
        assert_eq!(
            parse_version("Version: 3.17.1\n").as_deref(),
            Some("3.17.1")
        );
    }

    #[test]
    fn unavailable_reasons_name_the_fix() {
        let m = CriuCheck::Missing { package: "criu" };
        assert!(m
            .unavailable_reason()
            .unwrap()
            .contains("apt-get install criu"));
        let f = CriuCheck::Failed {
            reason: "vdso: Unexpected rt vDSO area bounds".into(),
            version: Some("3.17.1".into()),
        };
        let r = f.unavailable_reason().unwrap();
        assert!(r.contains("criu check") && r.contains("3.17.1") && r.contains("vDSO"));
        let ja = f.unavailable_texts().unwrap().ja;
        assert_eq!(
            ja,
            "このホストでは利用できない。CRIU 3.17.1 の criu check が失敗する（理由は criu check の出力にある）。"
        );
        assert_eq!(
            CriuCheck::Usable { version: None }.unavailable_reason(),
            None
        );
    }
}
