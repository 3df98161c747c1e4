//! The `pod` attacker: `confidump scan-child` (the same open and scan as `scan --pid`) run as
//! a process of a sibling container in the victim's pod, or of a `hostPID` node-debug pod
//! ([`crate::isolate::sibling`] places it: the victim's pid namespace, uid 0, the pod
//! setting's capability set). Its answer is read back as data, and the cell names the kernel
//! rule that decided it: the refusal's rule as the attacker's own [`crate::memory::refusal`]
//! explained it, or the rules an allowed read passed.

use std::process::{Command, Stdio};

use super::classify::{errno_part, Observation};
use super::same_uid::of_report;
use crate::context::env::RunEnv;
use crate::context::Ready;
use crate::i18n::{self, tf, Lang};
use crate::isolate::sibling;
use crate::memory::refusal::{self, AttachFacts, Rule};
use crate::model::{ChildScan, Outcome, PodAttacker, Texts, CAP_SYS_PTRACE};

/// The attacker's name in a cell: `the pod's sidecar (default capabilities) attacker`.
pub fn who(attacker: PodAttacker, lang: Lang) -> String {
    let key = match attacker {
        PodAttacker::Sidecar => "pod.sidecar",
        PodAttacker::SidecarPtrace => "pod.sidecar-ptrace",
        PodAttacker::NodeDebug => "pod.node-debug",
    };
    i18n::t(lang, key).to_string()
}

/// The command an operator would type for the same attack.
pub fn command(attacker: PodAttacker, pid: i32, sha256: &str) -> String {
    match attacker {
        PodAttacker::Sidecar | PodAttacker::SidecarPtrace => format!(
            "kubectl exec POD -c sidecar -- confidump scan --pid 1 --sha256 {sha256}   # shareProcessNamespace: true"
        ),
        PodAttacker::NodeDebug => format!(
            "kubectl debug node/NODE -it --image=confidump -- confidump scan --pid {pid} --sha256 {sha256}   # hostPID: true"
        ),
    }
}

/// Runs the pod's attacker against the victim's first target.
pub fn attack(ready: &Ready, env: &RunEnv) -> Observation {
    let (Some(attacker), Some(t)) = (ready.pod, ready.targets.first()) else {
        return Observation::error("the victim names no pod attacker");
    };
    let mut cmd = Command::new(&env.exe);
    cmd.stdin(Stdio::null());
    let inner = match sibling::prepare(&mut cmd, attacker, t.pid) {
        Ok(p) => p,
        Err(e) => return Observation::error(format!("placing the pod's attacker: {e}")),
    };
    cmd.args(["scan-child", "--pid", &inner.to_string()])
        .args(["--sha256", &hex::encode(ready.secret_sha256)])
        .args(["--shape", "canary"]);
    // The rules an allowed read passed, from the facts the kernel read: the victim's uid,
    // dumpability and capabilities as this host sees them, the attacker's as they were set.
    let mut facts = refusal::gather(t.pid);
    facts.our_uid = 0;
    facts.cap_sys_ptrace = attacker.capabilities() & CAP_SYS_PTRACE != 0;
    facts.our_cap_prm = Some(attacker.capabilities());
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Observation::error(format!("running the pod's attacker: {e}")),
    };
    let who = who(attacker, env.lang);
    match serde_json::from_slice::<ChildScan>(&out.stdout) {
        Ok(ChildScan::Report(r)) => {
            let mut o = of_report(&r, t.region);
            let allowed = tf(
                env.lang,
                "reason.pod.allowed",
                &[&who, &rule_words(env.lang, &facts, None)],
            );
            o.reason = match o.outcome {
                // The process was read; the secret's region refused it (memfd_secret): the
                // region's own refusal is the rule that decided the cell.
                Outcome::Unreadable => tf(
                    env.lang,
                    "reason.pod.region-refused",
                    &[
                        &who,
                        &o.where_,
                        &Texts::new(o.reason.clone(), errno_part(&o.reason)).into_lang(env.lang),
                    ],
                ),
                _ => allowed,
            };
            o
        }
        // The kernel refused to open the process: its rule, as the attacker explained it.
        Ok(ChildScan::Refused { reason, .. }) => Observation::simple(
            Outcome::Unreadable,
            tf(
                env.lang,
                "reason.pod.refused",
                &[&who, &rule_words(env.lang, &facts, Some(&reason))],
            ),
        ),
        Ok(ChildScan::Failed { reason }) => {
            Observation::error(format!("the pod's attacker failed: {reason}"))
        }
        Err(e) => Observation::error(format!(
            "the pod's attacker failed ({}): {e}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The rule that decided, in `lang`: the catalogue's words for [`refusal::rule`] over the
/// facts, except where the English has more to say: the attacker's own explanation of a
/// refusal (`inside`, with its remedy) or [`refusal::allowed`].
fn rule_words(lang: Lang, facts: &AttachFacts, inside: Option<&str>) -> String {
    let en = inside.map_or_else(|| refusal::allowed(facts), str::to_string);
    let short = match refusal::rule(facts) {
        Rule::Uid => i18n::t(lang, "pod.rule.uid").to_string(),
        Rule::Dumpable => i18n::t(lang, "pod.rule.dumpable").to_string(),
        Rule::Capabilities => i18n::t(lang, "pod.rule.capabilities").to_string(),
        Rule::Yama(y) => tf(lang, "pod.rule.yama", &[&y.scope()]),
        allowed => {
            let key = if allowed == Rule::AllowedByPtraceCap {
                "pod.rule.allowed-ptrace"
            } else {
                "pod.rule.allowed-same-uid"
            };
            let yama = match facts.yama_scope {
                None => i18n::t(lang, "pod.rule.no-yama").to_string(),
                Some(n) => tf(lang, "pod.rule.yama-allows", &[&n]),
            };
            tf(lang, key, &[&yama])
        }
    };
    Texts::new(en, short).into_lang(lang)
}
