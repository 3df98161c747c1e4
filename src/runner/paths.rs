//! The attack paths of the matrix, one function each, over whatever a context started: root's
//! dump, gcore and live read of each target process, the kernel's core dump, the hypervisor's
//! dump of its guest (QMP), a same-uid attacker ([`super::same_uid`]), a process of the
//! victim's pod ([`super::pod`]), a database server's
//! data directory (`disk`) and its client process (`client`).
//!
//! To add an attack path: a variant of [`AttackKind`] (in `model/kinds.rs`, with its column name),
//! its function here (or in a file of its own beside `same_uid.rs`) and one arm in [`run`];
//! each context's `plan` says whether it applies to its victims.

use super::attack::{self, AttackError, AttackPath};
use super::classify::{chain, classify, Observation};
use super::{pod, same_uid};
use crate::context::env::RunEnv;
use crate::context::{Ready, RunningVictim, Target};
use crate::coredump::reader::CoreFile;
use crate::i18n::{self, tf, Lang};
use crate::model::{AttackKind, Outcome, Texts};
use crate::scan::{self, Needles};
use crate::vm::qmp::QmpError;

/// Paths that end the victim run after all the others.
pub fn ends_victim(attack: AttackKind) -> bool {
    attack == AttackKind::Kernel
}

/// The command an attacker would type for `attack` on this victim (empty when there is none
/// to show).
pub fn command(attack: AttackKind, ready: &Ready) -> String {
    let Some(pid) = ready.targets.first().map(|t| t.pid) else {
        return String::new();
    };
    // Several processes (a server's): the same command for each, as a loop one can type (no
    // words of a language in a command: it is shown as it is in every language).
    let each = |path: AttackPath| match ready.targets.as_slice() {
        [] | [_] => path.command(pid),
        all => format!(
            "for pid in {}; do {}; done",
            all.iter()
                .map(|t| t.pid.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            path.command_on("$pid", "victim.$pid.core")
        ),
    };
    match attack {
        AttackKind::Dump => each(AttackPath::Dump),
        AttackKind::Gcore => each(AttackPath::Gcore),
        AttackKind::Live => each(AttackPath::Live),
        AttackKind::Kernel => {
            // The core size limit that counts is the victim's own: an attacker's `ulimit -c`
            // changes only the attacker's shell. (The demo's victims raise theirs themselves.)
            format!("prlimit --pid {pid} --core=unlimited; kill -QUIT {pid}; confidump scan core")
        }
        // QEMU's QMP dump-guest-memory, as `virsh dump --memory-only` asks it of a libvirt guest.
        AttackKind::Qmp => ready.qmp.as_ref().map_or_else(String::new, |q| {
            format!(
                "confidump attack {pid} --via qmp --qmp {} --sha256 {}   # virsh dump --memory-only",
                q.display(),
                hex::encode(ready.secret_sha256)
            )
        }),
        // What QEMU delivers from the guest's serial port (its -serial chardev), kept and scanned.
        AttackKind::Wire => {
            "virsh console DOMAIN > wire/console.log; confidump scan --dir wire   # QEMU -serial"
                .to_string()
        }
        AttackKind::SameUid => ready.user.as_ref().map_or_else(String::new, |u| {
            format!(
                "sudo -u {} confidump scan --pid {pid} --sha256 {}",
                u.name,
                hex::encode(ready.secret_sha256)
            )
        }),
        AttackKind::Checkpoint => format!(
            "runc checkpoint --image-path ckpt --leave-running ID && confidump scan --dir ckpt   # ID of host pid {pid}"
        ),
        AttackKind::Disk => ready.service.as_ref().map_or_else(String::new, |d| {
            format!(
                "psql -h {} -c CHECKPOINT && confidump scan --dir {}",
                d.socket_dir.display(),
                d.data_dir.display()
            )
        }),
        AttackKind::Pod => ready.pod.map_or_else(String::new, |p| {
            pod::command(p, pid, &hex::encode(ready.secret_sha256))
        }),
        AttackKind::Client => ready.client.as_ref().map_or_else(String::new, |c| {
            format!(
                "{} ; {}",
                AttackPath::Live.command(c.pid),
                AttackPath::Dump.command(c.pid)
            )
        }),
    }
}

/// Runs `attack` against `victim`, which its plan said it applies to.
pub fn run(
    attack: AttackKind,
    victim: &mut dyn RunningVictim,
    needles: &Needles,
    env: &RunEnv,
    show: Option<&str>,
) -> Observation {
    match attack {
        AttackKind::Dump => root(victim.ready(), AttackPath::Dump, needles, show, env.lang),
        AttackKind::Gcore => root(victim.ready(), AttackPath::Gcore, needles, show, env.lang),
        AttackKind::Live => root(victim.ready(), AttackPath::Live, needles, show, env.lang),
        AttackKind::Kernel => kernel(victim, needles, show, env.lang),
        AttackKind::Qmp => qmp(victim.ready(), needles, show, env.lang),
        AttackKind::SameUid => same_uid::attack(victim.ready(), env),
        AttackKind::Pod => pod::attack(victim.ready(), env),
        AttackKind::Wire => wire(victim.ready(), needles, env.lang),
        AttackKind::Disk => disk(victim.ready(), needles, env.lang),
        AttackKind::Client => client(victim.ready(), needles, env.lang),
        // No context runs a checkpoint yet (its plan says why): never reported as a result.
        AttackKind::Checkpoint => Observation::error("no checkpoint path is built in"),
    }
}

/// A scan of what the guest sent out on its serial console, as the host received it.
fn wire(ready: &Ready, needles: &Needles, lang: Lang) -> Observation {
    let Some(tap) = &ready.wire else {
        return Observation::error("the victim sends nothing out on a channel the host reads");
    };
    let what = i18n::t(lang, "what.serial");
    let source = crate::memory::bytes::BytesSource::new(what, "[serial console]", tap.bytes());
    match scan::scan_source(&source, needles) {
        // Bytes on a wire have no address in any process: no region, no maps.
        Ok(r) => classify(&r, &source, None, &[], what, None, lang),
        Err(e) => Observation::error(chain(&e)),
    }
}

/// What a path on a target is called in views: `confidump's dump`, `gdb's gcore of QEMU`.
fn what(path: AttackPath, target: &Target, lang: Lang) -> String {
    let (alone, of_key) = match path {
        AttackPath::Dump => ("what.dump", "what.dump-of"),
        AttackPath::Gcore => ("what.gcore", "what.gcore-of"),
        _ => ("what.live", "what.live-of"),
    };
    match target.of.as_deref() {
        None => i18n::t(lang, alone).to_string(),
        Some(of) => tf(lang, of_key, &[&of]),
    }
}

/// `reason` with `more` after it: a clause after `; ` in English, the next sentence in
/// Japanese.
fn add_reason(lang: Lang, reason: &str, more: &str) -> String {
    if reason.is_empty() {
        more.to_string()
    } else {
        Texts::new(format!("{reason}; {more}"), format!("{reason}{more}")).into_lang(lang)
    }
}

/// Root's attack along `path` on every target; the telling result wins (see [`worst`]).
/// Several targets (a server's processes) are attacked at once, and each leak is named by its
/// process in `where`.
fn root(
    ready: &Ready,
    path: AttackPath,
    needles: &Needles,
    show: Option<&str>,
    lang: Lang,
) -> Observation {
    let one = |t: &Target| {
        let what = what(path, t, lang);
        match attack::attack(t.pid, path, needles, None) {
            Ok(a) => {
                let mut o = classify(
                    &a.report,
                    a.source.as_ref(),
                    t.region,
                    &t.maps,
                    &what,
                    show,
                    lang,
                );
                if path == AttackPath::Live {
                    if let Some(secret) = &ready.secret {
                        argv_note(t.pid, secret, &mut o, lang);
                    }
                }
                o
            }
            Err(e) => Observation::error(format!(
                "{}{}",
                t.of.as_deref()
                    .map(|of| format!("{of}: "))
                    .unwrap_or_default(),
                chain(&e)
            )),
        }
    };
    match ready.targets.as_slice() {
        [t] => one(t),
        targets => {
            let each: Vec<(Option<String>, Observation)> = std::thread::scope(|sc| {
                let handles: Vec<_> = targets
                    .iter()
                    .map(|t| (t.of.clone(), sc.spawn(move || one(t))))
                    .collect();
                handles
                    .into_iter()
                    .map(|(of, h)| {
                        let o = h
                            .join()
                            .unwrap_or_else(|_| Observation::error("the attack's thread failed"));
                        (of, o)
                    })
                    .collect()
            });
            merge(each, lang)
        }
    }
}

/// One observation for several named processes: the telling one ([`worst`]), with `where`
/// naming every process the secret leaked from (`backend 123: [heap]; postmaster 120: …`).
fn merge(each: Vec<(Option<String>, Observation)>, lang: Lang) -> Observation {
    let leaks: Vec<String> = each
        .iter()
        .filter(|(_, o)| o.outcome == Outcome::Leak)
        .map(|(of, o)| match of {
            Some(of) => format!("{of}: {}", o.where_),
            None => o.where_.clone(),
        })
        .collect();
    let n = each.len();
    let mut o = worst(each.into_iter().map(|(_, o)| o));
    if o.outcome == Outcome::Leak {
        o.where_ = leaks.join("; ");
    } else if o.outcome == Outcome::NotFound {
        // `…なかった（5 個のプロセスのどれにもない）。`: the aside inside the sentence.
        let reason = o.reason.trim_end_matches('。');
        o.reason = tf(lang, "reason.each-process", &[&reason, &n]);
    }
    o
}

/// The database server's data directory after a `CHECKPOINT`: what a stolen disk or a backup
/// holds.
fn disk(ready: &Ready, needles: &Needles, lang: Lang) -> Observation {
    use crate::service::disk::{checkpoint, DirSource};
    let Some(dirs) = &ready.service else {
        return Observation::error("the victim named no data directory");
    };
    let checkpointed = checkpoint(&dirs.socket_dir);
    let scanned = DirSource::open(&dirs.data_dir)
        .map_err(|e| chain(&e))
        .and_then(|src| {
            scan::scan_source(&src, needles)
                .map(|r| (src, r))
                .map_err(|e| chain(&e))
        });
    let mut o = match scanned {
        Ok((src, r)) => classify(
            &r,
            &src,
            None,
            &[],
            i18n::t(lang, "what.data-dir"),
            None,
            lang,
        ),
        Err(e) => return Observation::error(e),
    };
    if !checkpointed {
        o.reason = add_reason(lang, &o.reason, i18n::t(lang, "reason.checkpoint-failed"));
    }
    o
}

/// Root's live read and dump of a service's client process.
fn client(ready: &Ready, needles: &Needles, lang: Lang) -> Observation {
    let Some(t) = &ready.client else {
        return Observation::error("the victim named no client process");
    };
    let each = [AttackPath::Live, AttackPath::Dump].map(|path| {
        match attack::attack(t.pid, path, needles, None) {
            Ok(a) => classify(
                &a.report,
                a.source.as_ref(),
                t.region,
                &t.maps,
                &what(path, t, lang),
                None,
                lang,
            ),
            Err(e) => Observation::error(chain(&e)),
        }
    });
    worst(each.into_iter())
}

/// The argv pitfall's other face: ps shows the secret to every user.
fn argv_note(pid: i32, secret: &crate::secret::Secret, o: &mut Observation, lang: Lang) {
    if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
        if memchr::memmem::find(&cmdline, secret.expose()).is_some() {
            let note = tf(lang, "reason.argv-cmdline", &[&pid]);
            o.reason = add_reason(lang, &o.reason, &note);
        }
    }
}

/// One observation for several targets (a server's processes): a leak anywhere is a leak;
/// then an error (something was not checked), a refusal, a left-out region, nothing found.
fn worst(each: impl Iterator<Item = Observation>) -> Observation {
    let rank = |o: &Observation| match o.outcome {
        Outcome::Leak => 0,
        Outcome::Error => 1,
        Outcome::Unreadable => 2,
        Outcome::Absent => 3,
        Outcome::NotFound => 4,
        Outcome::NotApplicable => 5,
    };
    each.min_by_key(rank)
        .unwrap_or_else(|| Observation::error("the victim named no process to attack"))
}

/// SIGQUIT the victim, then scan the core the kernel left.
fn kernel(
    victim: &mut dyn RunningVictim,
    needles: &Needles,
    show: Option<&str>,
    lang: Lang,
) -> Observation {
    let core = match victim.quit_with_core() {
        Ok(c) => c,
        Err(e) => return Observation::error(chain(&e)),
    };
    let Some(path) = core.core else {
        // The Japanese leaves out the exit status: the sentence is about the setting.
        let why = Texts::new(
            format!(
                "the kernel wrote no core ({}): a non-dumpable process (PR_SET_DUMPABLE=0) gets none while fs.suid_dumpable is 0",
                core.status
            ),
            "カーネルはコアを書かなかった。fs.suid_dumpable が 0 の間、ダンプ不可のプロセス（PR_SET_DUMPABLE=0）のコアは作られない。",
        );
        return Observation::simple(Outcome::Absent, why.into_lang(lang));
    };
    let Some(t) = victim.ready().targets.first() else {
        return Observation::error("the victim named no process to attack");
    };
    let opened = CoreFile::open(&path).map_err(|e| chain(&e)).and_then(|c| {
        scan::scan_source(&c, needles)
            .map(|r| (c, r))
            .map_err(|e| chain(&e))
    });
    match opened {
        Ok((c, r)) => classify(
            &r,
            &c,
            t.region,
            &t.maps,
            i18n::t(lang, "what.kernel-core"),
            show,
            lang,
        ),
        Err(e) => Observation::error(e),
    }
}

/// QMP `dump-guest-memory` into a private directory, then a scan of the guest-physical core.
fn qmp(ready: &Ready, needles: &Needles, show: Option<&str>, lang: Lang) -> Observation {
    let (Some(socket), Some(t)) = (&ready.qmp, ready.targets.first()) else {
        return Observation::error("no QMP socket: the victim is not inside a VM");
    };
    match attack::attack_with(t.pid, AttackPath::Qmp, needles, None, Some(socket)) {
        // Guest-physical addresses: the host's maps name nothing there.
        Ok(a) => classify(
            &a.report,
            a.source.as_ref(),
            None,
            &[],
            i18n::t(lang, "what.qmp"),
            show,
            lang,
        ),
        Err(e) => qmp_failure(&e),
    }
}

/// QEMU answering `dump-guest-memory` with an error is the hypervisor refusing to hand over
/// the guest's memory (it does so for a guest whose memory is encrypted): a refusal by a real
/// mechanism. Any other failure (the socket, the file, the protocol) is an error, not a verdict.
fn qmp_failure(e: &AttackError) -> Observation {
    match e {
        AttackError::Qmp(QmpError::Command {
            command,
            class,
            desc,
        }) if command == "dump-guest-memory" => Observation::simple(
            Outcome::Unreadable,
            format!("QEMU refused dump-guest-memory ({class}): {desc}"),
        ),
        _ => Observation::error(chain(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_qemus_refusal_of_the_dump_is_a_refusal() {
        let refused = AttackError::Qmp(QmpError::Command {
            command: "dump-guest-memory".into(),
            class: "GenericError".into(),
            desc: "Dumping guest memory is not supported for confidential guests".into(),
        });
        let o = qmp_failure(&refused);
        assert_eq!(o.outcome, Outcome::Unreadable);
        assert!(o.reason.contains("not supported"), "{}", o.reason);
        let other = AttackError::Qmp(QmpError::Command {
            command: "getfd".into(),
            class: "GenericError".into(),
            desc: "not supported".into(),
        });
        assert_eq!(qmp_failure(&other).outcome, Outcome::Error);
        assert_eq!(
            qmp_failure(&AttackError::Qmp(QmpError::Closed)).outcome,
            Outcome::Error
        );
    }
}
