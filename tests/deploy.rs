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
    // namespace + a Job and a DaemonSet for each of the three pools.
    assert_eq!(files.len(), 7, "{files:?}");
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
