//! deploy/: every Kubernetes manifest validates offline against Kubernetes' own schemas
//! (`kubernetes-validate --strict`, from PyPI; scripts/setup.sh installs it), a manifest with a
//! misspelled field fails that validation, and the image builds where a container builder works.
//! Each test that lacks its tool skips through `common::require` (in CI, a failure); the image
//! build needs a Docker daemon, which is on the declared list of what a host may lack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// The validator; `None` (skipped through `common::require`, in CI a failure) without it.
fn validator() -> Option<PathBuf> {
    if !common::require(common::Need::KubernetesValidate) {
        return None;
    }
    Some(common::kubernetes_validate().expect("common::require found it"))
}

fn manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![deploy_dir().join("k8s")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs the validator on `file`: exit status and everything it said.
fn validate(tool: &Path, file: &Path) -> (i32, String) {
    let out = Command::new(tool)
        .args(["--strict", "--no-warn"])
        .arg(file)
        .output()
        .unwrap();
    let (code, so, se) = common::code_out_err(&out);
    (code, format!("{so}{se}"))
}

#[test]
fn every_manifest_validates() {
    let Some(tool) = validator() else {
        return;
    };
    let files = manifests();
    // namespace + a Job and a DaemonSet for each of the three pools + the pod column's two
    // attackers.
    assert_eq!(files.len(), 9, "{files:?}");
    for pod in ["sidecar", "node-debug"] {
        let f = deploy_dir().join(format!("k8s/pod/{pod}.yaml"));
        assert!(files.contains(&f), "missing {}", f.display());
    }
    for pool in ["sgx", "kata-cc", "cvm"] {
        for kind in ["job", "daemonset"] {
            let f = deploy_dir().join(format!("k8s/{pool}/{kind}.yaml"));
            assert!(files.contains(&f), "missing {}", f.display());
        }
    }
    for f in &files {
        let (code, said) = validate(&tool, f);
        assert_eq!(code, 0, "{} does not validate:\n{said}", f.display());
        assert!(said.contains("passed"), "{said}");
    }
}

#[test]
fn a_misspelled_field_fails_validation() {
    let Some(tool) = validator() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(deploy_dir().join("k8s/sgx/daemonset.yaml")).unwrap();
    // One field each: a container field, a pod field, a security-context field.
    for (from, to) in [
        ("imagePullPolicy:", "imagePulPolicy:"),
        (
            "automountServiceAccountToken:",
            "automountServiceAcountToken:",
        ),
        ("readOnlyRootFilesystem:", "readOnlyRootFileSystem:"),
    ] {
        assert!(good.contains(from));
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, good.replacen(from, to, 1)).unwrap();
        let (code, said) = validate(&tool, &bad);
        assert_ne!(code, 0, "{to} was accepted:\n{said}");
        let field = to.trim_end_matches(':');
        assert!(
            said.contains(field),
            "the failure does not name {field}:\n{said}"
        );
    }
}

/// The demo pods run what the issue asks, with the privileges spelled out.
#[test]
fn pods_run_the_demo_with_their_platform() {
    for (pool, platform) in [
        ("sgx", "azure-dcsv3"),
        ("kata-cc", "linux"),
        ("cvm", "azure-cvm"),
    ] {
        for kind in ["job", "daemonset"] {
            let f = deploy_dir().join(format!("k8s/{pool}/{kind}.yaml"));
            let text = std::fs::read_to_string(&f).unwrap();
            let args = format!(
                "- demo\n{0}- --platform\n{0}- {platform}\n{0}- --format\n{0}- json",
                " ".repeat(12)
            );
            assert!(
                text.contains(&args),
                "{}: no `demo --platform {platform} --format json`",
                f.display()
            );
            assert!(text.contains("- --junit"), "{}", f.display());
            assert!(!text.contains("hostPID: true"), "{}", f.display());
            match pool {
                "sgx" => assert!(text.contains("sgx.intel.com/epc:")),
                "kata-cc" => assert!(text.contains("runtimeClassName: kata-cc-isolation")),
                _ => assert!(text.contains("privileged: true")),
            }
            if pool != "cvm" {
                assert!(text.contains("- SYS_PTRACE") && !text.contains("privileged: true"));
            }
        }
    }
}

/// The pod column's attackers as pod specs: the sidecar shares the app's pid namespace and
/// adds SYS_PTRACE; the node-debug pod has hostPID and SYS_PTRACE alone; both run as uid 0, as
/// the demo's attackers do.
#[test]
fn the_pod_attackers_have_their_settings() {
    let read = |name: &str| {
        std::fs::read_to_string(deploy_dir().join(format!("k8s/pod/{name}.yaml"))).unwrap()
    };
    let sidecar = read("sidecar");
    assert!(sidecar.contains("shareProcessNamespace: true"));
    assert!(sidecar.contains("- SYS_PTRACE") && !sidecar.contains("hostPID"));
    assert!(sidecar.contains("- name: app") && sidecar.contains("- name: debug"));
    let node = read("node-debug");
    assert!(node.contains("hostPID: true") && !node.contains("shareProcessNamespace"));
    assert!(node.contains(r#"drop: ["ALL"]"#) && node.contains(r#"add: ["SYS_PTRACE"]"#));
    for text in [&sidecar, &node] {
        assert!(text.contains("runAsUser: 0") && !text.contains("privileged: true"));
    }
}

/// The image builds and its binary runs, where a container builder works.
#[test]
fn the_image_builds() {
    if !common::host_has(common::Host::DockerDaemon) {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let tag = format!("confidump-test:{}", std::process::id());
    let status = Command::new("docker")
        .args(["build", "-f", "deploy/Dockerfile", "-t", &tag, "."])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "docker build failed");
    let out = Command::new("docker")
        .args(["run", "--rm", &tag, "--version"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).status();
    let (code, so, se) = common::code_out_err(&out);
    assert_eq!(code, 0, "{se}");
    assert!(so.starts_with("confidump "), "{so}");
}

/// Every scalar of a block-style YAML document, as (`path`, value): `spec.template.spec.
/// containers[0].securityContext.allowPrivilegeEscalation` = `false`. Enough for these
/// manifests (block mappings and sequences, comments, no multi-line strings), so that the
/// checks below need no YAML library and never skip; a flow value (`["ALL"]`) stays one string.
fn flatten(text: &str) -> Vec<(String, String)> {
    fn path(stack: &[(usize, String)]) -> String {
        let mut p = String::new();
        for (_, seg) in stack {
            if !p.is_empty() && !seg.starts_with('[') {
                p.push('.');
            }
            p.push_str(seg);
        }
        p
    }
    let unquote = |v: &str| v.trim().trim_matches('"').to_string();
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut next_index: std::collections::HashMap<String, usize> = Default::default();
    for raw in text.lines() {
        // A comment starts a line or follows a space (no value here holds a `#`).
        let line = match raw.find(" #") {
            Some(i) => &raw[..i],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        if line.trim().is_empty() || line.trim() == "---" {
            continue;
        }
        let mut indent = line.len() - line.trim_start().len();
        let mut rest = line.trim_start();
        while let Some(item) = rest.strip_prefix("- ") {
            // A new item of the sequence at this column: the previous one and its keys end.
            while stack
                .last()
                .is_some_and(|(i, s)| *i > indent || (*i == indent && s.starts_with('[')))
            {
                stack.pop();
            }
            let n = next_index.entry(path(&stack)).or_insert(0);
            stack.push((indent, format!("[{n}]")));
            *n += 1;
            indent += 2 + (item.len() - item.trim_start().len());
            rest = item.trim_start();
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        match rest.split_once(':') {
            Some((key, value)) if !key.contains(' ') || key.starts_with('"') => {
                let key = unquote(key);
                if value.trim().is_empty() {
                    stack.push((indent, key));
                } else {
                    let mut p = path(&stack);
                    if !p.is_empty() {
                        p.push('.');
                    }
                    out.push((format!("{p}{key}"), unquote(value)));
                }
            }
            // A scalar item of a sequence (`- demo`): its value at the item's path.
            _ => out.push((path(&stack), unquote(rest))),
        }
    }
    out
}

/// What is wrong with a workload manifest's privileges (issue 25 item 12), one line each:
/// the pod must set `seccompProfile: RuntimeDefault`, every container must say
/// `allowPrivilegeEscalation` (false, or true only beside `privileged: true`, where the API
/// refuses false) and must not opt out of the seccomp profile; the demo must redact; a pod
/// that writes its JUnit file for another container must give that container its group.
fn privilege_problems(text: &str) -> Vec<String> {
    let flat = flatten(text);
    let get = |p: &str| flat.iter().find(|(k, _)| k == p).map(|(_, v)| v.as_str());
    let pod = "spec.template.spec";
    let mut problems = Vec::new();
    if get(&format!("{pod}.securityContext.seccompProfile.type")) != Some("RuntimeDefault") {
        problems.push("the pod does not set seccompProfile: RuntimeDefault".to_string());
    }
    let mut containers: Vec<String> = flat
        .iter()
        .filter_map(|(k, _)| {
            let rest = k.strip_prefix(&format!("{pod}."))?;
            let list = ["initContainers[", "containers["]
                .into_iter()
                .find(|l| rest.starts_with(l))?;
            let end = rest[list.len()..].find(']')? + list.len() + 1;
            Some(format!("{pod}.{}", &rest[..end]))
        })
        .collect();
    containers.dedup();
    if containers.is_empty() {
        problems.push("no container found".to_string());
    }
    for c in &containers {
        let name = get(&format!("{c}.name")).unwrap_or(c);
        let sc = |k: &str| get(&format!("{c}.securityContext.{k}"));
        match (sc("privileged"), sc("allowPrivilegeEscalation")) {
            (_, None) => problems.push(format!("{name}: allowPrivilegeEscalation is not set")),
            (Some("true"), Some("true")) | (None | Some("false"), Some("false")) => {}
            (p, Some(a)) => problems.push(format!(
                "{name}: allowPrivilegeEscalation: {a} with privileged: {}",
                p.unwrap_or("unset")
            )),
        }
        if let Some(t) = sc("seccompProfile.type") {
            if t != "RuntimeDefault" {
                problems.push(format!("{name}: seccompProfile {t}"));
            }
        }
        let args: Vec<&str> = flat
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{c}.args[")))
            .map(|(_, v)| v.as_str())
            .collect();
        if args.first() == Some(&"demo") {
            if !args.contains(&"--redact") {
                problems.push(format!("{name}: the demo runs without --redact"));
            }
            if args.contains(&"--group-readable") {
                // The other containers read the results through the pod's fsGroup.
                let group = get(&format!("{pod}.securityContext.fsGroup"));
                for o in containers.iter().filter(|o| *o != c) {
                    let theirs = get(&format!("{o}.securityContext.runAsGroup"));
                    if group.is_none() || theirs != group {
                        problems.push(format!(
                            "{}: cannot read the demo's 0640 files (fsGroup {group:?}, runAsGroup {theirs:?})",
                            get(&format!("{o}.name")).unwrap_or(o)
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// Issue 25 item 12: every pod runs under the runtime's seccomp profile, every container says
/// whether it may gain privileges (no, unless privileged), the demo's results hold no secret
/// and the DaemonSet's `result` container can read the JUnit file it ships.
#[test]
fn every_container_is_least_privileged_and_the_results_readable() {
    let workloads: Vec<PathBuf> = manifests()
        .into_iter()
        .filter(|f| !f.ends_with("namespace.yaml"))
        // The pod column's attackers are attackers on purpose (SYS_PTRACE, hostPID): their
        // settings are checked in the_pod_attackers_have_their_settings.
        .filter(|f| !f.starts_with(deploy_dir().join("k8s/pod")))
        .collect();
    assert_eq!(workloads.len(), 6, "{workloads:?}");
    for f in &workloads {
        let text = std::fs::read_to_string(f).unwrap();
        assert_eq!(
            privilege_problems(&text),
            Vec::<String>::new(),
            "{}",
            f.display()
        );
        let flat = flatten(&text);
        let names: Vec<&str> = flat
            .iter()
            .filter(|(k, _)| k.ends_with("ontainers[0].name") || k.ends_with("ontainers[1].name"))
            .map(|(_, v)| v.as_str())
            .collect();
        let daemonset = f.ends_with("daemonset.yaml");
        assert_eq!(
            names,
            if daemonset {
                vec!["demo", "result"]
            } else {
                vec!["demo"]
            },
            "{}: {flat:?}",
            f.display()
        );
    }
    // The check fails when a line it guards goes missing (so it can fail at all).
    let good = std::fs::read_to_string(deploy_dir().join("k8s/sgx/daemonset.yaml")).unwrap();
    for (line, says) in [
        ("          type: RuntimeDefault\n", "seccompProfile"),
        ("            allowPrivilegeEscalation: false\n", "demo: allowPrivilegeEscalation"),
        ("        fsGroup: 65532\n", "result: cannot read"),
        (
            "            - --redact                   # ... with no byte of a secret in it, nor in the JUnit file\n",
            "without --redact",
        ),
    ] {
        assert!(good.contains(line), "{line}");
        let problems = privilege_problems(&good.replacen(line, "", 1));
        assert!(
            problems.iter().any(|p| p.contains(says)),
            "without {line:?}: {problems:?}"
        );
    }
    let cvm = std::fs::read_to_string(deploy_dir().join("k8s/cvm/job.yaml")).unwrap();
    let bad = cvm.replacen(
        "allowPrivilegeEscalation: true",
        "allowPrivilegeEscalation: false",
        1,
    );
    assert_ne!(bad, cvm);
    assert_eq!(
        privilege_problems(&bad),
        vec!["demo: allowPrivilegeEscalation: false with privileged: true".to_string()]
    );
}
