//! What this host's facts mean for the container context: pure verdicts over [`HostFacts`]
//! (runc, crun and whether crun accepts this host's cgroups), each the one sentence doctor
//! prints and a container row's `n/a` cell says.

use crate::host::HostFacts;
use crate::model::Texts;

/// Why no container victim can start here: neither runc nor a crun that accepts this host's
/// cgroups.
pub fn container_runtime_missing(f: &HostFacts) -> Option<Texts> {
    if f.runc.is_some() {
        return None;
    }
    match (&f.crun, crun_refused(f)) {
        (None, _) => Some(Texts::new(
            "not available on this host: needs a container runtime (runc or crun on PATH: apt-get install runc)",
            "このホストでは利用できない。コンテナランタイムが必要（PATH 上の runc か crun。apt-get install runc）。",
        )),
        (Some(_), None) => None,
        (Some(_), Some(why)) => Some(Texts::new(
            format!("{why}; no runc on PATH (apt-get install runc)", why = why.en),
            format!("{}runc も PATH にない（apt-get install runc）。", why.ja),
        )),
    }
}

/// Why crun, found on PATH, cannot run a container here: this host mounts its cgroups in the
/// hybrid layout crun refuses ([`HostFacts::cgroup_hybrid`]), as it says when a container is
/// started anyway (`container::oci::unusable_reason`).
pub fn crun_refused(f: &HostFacts) -> Option<Texts> {
    let controllers = f.cgroup_hybrid.as_deref()?;
    f.crun.as_ref()?;
    Some(Texts::new(
        format!(
            "not available on this host: crun refuses this host's cgroups (\"cgroups in hybrid mode \
             not supported\"): cgroup v1 is mounted beside a cgroup v2 that holds controllers \
             ({controllers})"
        ),
        // crun's English message and the controllers' names stay in the English text.
        "このホストでは利用できない。crun はこのホストの cgroup の構成（cgroup v1 と、コントローラー\
         を持つ cgroup v2 が並んでマウントされたハイブリッド構成）を受け付けない。"
            .to_string(),
    ))
}

/// Why a container row that needs the OCI runtime `program` (its package has the same name)
/// cannot run here.
pub fn program_missing(program: &str, found: Option<&std::path::Path>) -> Option<Texts> {
    found.is_none().then(|| {
        Texts::new(
            format!("not available on this host: needs {program} (apt-get install {program})"),
            format!("このホストでは利用できない。{program} が必要（apt-get install {program}）。"),
        )
    })
}
