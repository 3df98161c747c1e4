//! The same-uid attacker: `confidump scan --pid PID` run as the victim's own unprivileged user
//! (not root), its JSON report read back as the [`ScanReport`] it is.

use std::process::{Command, Stdio};

use super::classify::{overlaps, Observation};
use super::context::Ready;
use super::env::RunEnv;
use crate::model::{Outcome, ScanReport};

/// Runs the attacker as the victim's user against its first target.
pub fn attack(ready: &Ready, env: &RunEnv) -> Observation {
    use std::os::unix::process::CommandExt;
    let (Some(u), Some(t)) = (&ready.user, ready.targets.first()) else {
        return Observation::error("no unprivileged user to run the same-uid attacker as");
    };
    let out = Command::new(&env.exe)
        .args(["scan", "--pid", &t.pid.to_string()])
        .args(["--sha256", &hex::encode(ready.secret_sha256)])
        .args(["--shape", "canary", "--format", "json"])
        .uid(u.uid)
        .gid(u.gid)
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Observation::error(format!("running the attacker: {e}")),
    };
    match serde_json::from_slice::<ScanReport>(&out.stdout) {
        Ok(r) => of_report(&r, t.region),
        Err(_) => of_failure(&String::from_utf8_lossy(&out.stderr), u.uid, out.status),
    }
}

/// The attacker read the process: where it found the secret, or whether the secret's region
/// refused it.
fn of_report(r: &ScanReport, region: Option<crate::model::Span>) -> Observation {
    if !r.hits.is_empty() {
        let mut places: Vec<&str> = Vec::new();
        for h in &r.hits {
            if !places.contains(&h.mapping.as_str()) {
                places.push(&h.mapping);
            }
        }
        return Observation {
            where_: places.join(", "),
            hits: r.hits.len(),
            fragments_only: r.hits.iter().all(|h| h.needle != 0),
            ..Observation::simple(Outcome::Leak, "")
        };
    }
    let refused = region.and_then(|region| {
        r.unreadable
            .iter()
            .find(|u| overlaps(region, u.start, u.end))
    });
    match refused {
        Some(u) => Observation {
            where_: u.mapping.clone(),
            ..Observation::simple(Outcome::Unreadable, u.reason.clone())
        },
        None => Observation::simple(
            Outcome::NotFound,
            "the same-uid attacker read the process and the secret was not in it",
        ),
    }
}

/// The attacker wrote no report: it could not open the process. The kernel refusing it that
/// (EACCES/EPERM on `/proc/PID/maps` or `mem`) is the refusal this path shows; anything else is
/// an error.
fn of_failure(stderr: &str, uid: u32, status: std::process::ExitStatus) -> Observation {
    let err_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_start_matches("confidump: error: ");
    // The CLI prints an error's chain; an io::Error often repeats its cause: say it once.
    let mut parts: Vec<&str> = Vec::new();
    for p in err_line.split(": ") {
        if parts.last() != Some(&p) {
            parts.push(p);
        }
    }
    let err_line = parts.join(": ");
    if is_permission_error(&err_line) {
        Observation::simple(
            Outcome::Unreadable,
            format!("refused to uid {uid}: {err_line}"),
        )
    } else {
        Observation::error(format!(
            "the same-uid attacker failed ({status}): {err_line}"
        ))
    }
}

fn is_permission_error(msg: &str) -> bool {
    [
        "EACCES",
        "EPERM",
        "Permission denied",
        "Operation not permitted",
    ]
    .iter()
    .any(|k| msg.contains(k))
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_are_recognised() {
        assert!(is_permission_error(
            "cannot read pid 5: opening /proc/5/maps: Permission denied (os error 13)"
        ));
        assert!(!is_permission_error("no such process"));
    }

    #[test]
    fn the_report_is_read_as_a_scan_report() {
        let json = r#"{"source":"pid 7 (live)","bytes_scanned":4096,"regions":3,
            "verdict":"no-leak","hits":[],"absent":[],
            "unreadable":[{"start":"0x1000","end":"0x2000","reason":"EIO: refused",
            "mapping":"/secretmem (deleted)"}]}"#;
        let r: ScanReport = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let o = of_report(&r, Some(crate::model::Span::new(0x1800, 0x1822)));
        assert_eq!(o.outcome, Outcome::Unreadable);
        assert_eq!(o.where_, "/secretmem (deleted)");
        assert_eq!(of_report(&r, None).outcome, Outcome::NotFound);
    }
}
