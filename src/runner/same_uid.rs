//! The same-uid attacker: `confidump scan --pid PID` run as the victim's own unprivileged user
//! (not root), its answer read back as data: the [`ScanReport`] it is, or the errno of the
//! kernel's refusal to open the process ([`ChildScan`]).

use std::process::{Command, Stdio};

use super::classify::{overlaps, Observation};
use crate::context::env::RunEnv;
use crate::context::Ready;
use crate::model::{ChildScan, Outcome, ScanReport, Texts};

/// Runs the attacker as the victim's user against its first target: `confidump scan-child`,
/// the same open and scan as `confidump scan --pid`, which answers with a [`ChildScan`].
pub fn attack(ready: &Ready, env: &RunEnv) -> Observation {
    use std::os::unix::process::CommandExt;
    let (Some(u), Some(t)) = (&ready.user, ready.targets.first()) else {
        return Observation::error("no unprivileged user to run the same-uid attacker as");
    };
    let mut cmd = Command::new(&env.exe);
    cmd.args(["scan-child", "--pid", &t.pid.to_string()])
        .args(["--sha256", &hex::encode(ready.secret_sha256)])
        .args(["--shape", "canary"])
        .uid(u.uid)
        .gid(u.gid)
        .stdin(Stdio::null());
    // It must not outlive a demo that is killed (SIGKILL included): it dies with this thread.
    // SAFETY: the closure runs in the forked child before exec and only calls prctl and
    // getppid, async-signal-safe system calls; it allocates nothing.
    unsafe {
        cmd.pre_exec(crate::files::cleanup::die_with_parent());
    }
    let out = cmd.output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Observation::error(format!("running the attacker: {e}")),
    };
    match serde_json::from_slice::<ChildScan>(&out.stdout) {
        Ok(ChildScan::Report(r)) => {
            let mut o = of_report(&r, t.region);
            // The report's reasons are English; the kernel's errno is the same in Japanese.
            match o.outcome {
                Outcome::Unreadable => o.reason = super::classify::refused(env.lang, &o.reason),
                Outcome::NotFound => {
                    o.reason = Texts::new(
                        std::mem::take(&mut o.reason),
                        "同じ uid の攻撃者はプロセスを読めたが、秘密はなかった。",
                    )
                    .into_lang(env.lang)
                }
                _ => {}
            }
            o
        }
        // The kernel refused to open the process at all: that is the refusal this path shows.
        Ok(ChildScan::Refused { reason, errno }) => Observation::simple(
            Outcome::Unreadable,
            Texts::new(
                format!("refused to uid {}: {reason}", u.uid),
                format!(
                    "uid {} の攻撃者はカーネルに拒否された（{:?}）。",
                    u.uid,
                    nix::errno::Errno::from_raw(errno)
                ),
            )
            .into_lang(env.lang),
        ),
        Ok(ChildScan::Failed { reason }) => {
            Observation::error(format!("the same-uid attacker failed: {reason}"))
        }
        Err(e) => Observation::error(format!(
            "the same-uid attacker failed ({}): {e}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The attacker read the process: where it found the secret, or whether the secret's region
/// refused it.
pub(super) fn of_report(r: &ScanReport, region: Option<crate::model::Span>) -> Observation {
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

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_back_with_its_errno() {
        let sent = ChildScan::Refused {
            errno: 13,
            reason: "cannot read pid 5: reading /proc/5/maps: Permission denied".into(),
        };
        let json = serde_json::to_string(&sent).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(
                serde_json::from_str::<ChildScan>(&json),
                Ok(ChildScan::Refused { errno: 13, .. })
            ),
            "{json}"
        );
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
