//! Where scenarios come from: the built-in files (`demo/scenarios/*.toml`, in the binary) and
//! an instructor's `--scenario-dir`; picking the ones a run names.

use std::path::{Path, PathBuf};

use super::parse::parse;
use super::types::{Scenario, ScenarioError};

/// The built-in scenarios, in the order the matrix shows them.
const BUILTIN: &[(&str, &str)] = &[
    (
        "plain.toml",
        include_str!("../../demo/scenarios/plain.toml"),
    ),
    (
        "dontdump.toml",
        include_str!("../../demo/scenarios/dontdump.toml"),
    ),
    (
        "secretmem.toml",
        include_str!("../../demo/scenarios/secretmem.toml"),
    ),
    ("argv.toml", include_str!("../../demo/scenarios/argv.toml")),
    (
        "residue.toml",
        include_str!("../../demo/scenarios/residue.toml"),
    ),
    (
        "dumpable.toml",
        include_str!("../../demo/scenarios/dumpable.toml"),
    ),
    ("sgx.toml", include_str!("../../demo/scenarios/sgx.toml")),
    (
        "sgx-debug.toml",
        include_str!("../../demo/scenarios/sgx-debug.toml"),
    ),
    (
        "sgx-sim.toml",
        include_str!("../../demo/scenarios/sgx-sim.toml"),
    ),
    (
        "vm-plain.toml",
        include_str!("../../demo/scenarios/vm-plain.toml"),
    ),
    (
        "vm-secretmem.toml",
        include_str!("../../demo/scenarios/vm-secretmem.toml"),
    ),
    (
        "cvm-sev-snp.toml",
        include_str!("../../demo/scenarios/cvm-sev-snp.toml"),
    ),
    (
        "cvm-tdx.toml",
        include_str!("../../demo/scenarios/cvm-tdx.toml"),
    ),
    (
        "cvm-shared-io.toml",
        include_str!("../../demo/scenarios/cvm-shared-io.toml"),
    ),
    (
        "container.toml",
        include_str!("../../demo/scenarios/container.toml"),
    ),
    (
        "container-secretmem.toml",
        include_str!("../../demo/scenarios/container-secretmem.toml"),
    ),
    (
        "container-oci.toml",
        include_str!("../../demo/scenarios/container-oci.toml"),
    ),
    (
        "pod-vm.toml",
        include_str!("../../demo/scenarios/pod-vm.toml"),
    ),
    ("coco.toml", include_str!("../../demo/scenarios/coco.toml")),
    (
        "db-plaintext.toml",
        include_str!("../../demo/scenarios/db-plaintext.toml"),
    ),
    (
        "db-server-encrypted.toml",
        include_str!("../../demo/scenarios/db-server-encrypted.toml"),
    ),
    (
        "db-server-logged.toml",
        include_str!("../../demo/scenarios/db-server-logged.toml"),
    ),
    (
        "db-client-encrypted.toml",
        include_str!("../../demo/scenarios/db-client-encrypted.toml"),
    ),
    (
        "db-enclave.toml",
        include_str!("../../demo/scenarios/db-enclave.toml"),
    ),
];

/// The built-in scenarios, parsed. An error here is a bug in a shipped file (and a test fails).
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    BUILTIN
        .iter()
        .map(|(file, text)| {
            let mut s = parse(&format!("built-in demo/scenarios/{file}"), text)?;
            s.spec.origin = "built-in".to_string();
            Ok(s)
        })
        .collect()
}

/// Every `*.toml` of `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        file: dir.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out: Vec<Scenario> = Vec::new();
    for path in files {
        let file = path.display().to_string();
        // Regular files only, size capped (a link to /dev/zero or a FIFO is refused).
        let text = crate::files::input::read_user_text(&path, 1 << 20, "a scenario file").map_err(
            |e| ScenarioError::Io {
                file: file.clone(),
                source: match e {
                    crate::files::input::InputError::Io { source, .. } => source,
                    other => std::io::Error::other(other.to_string()),
                },
            },
        )?;
        let s = parse(&file, &text)?;
        if let Some(other) = out.iter().find(|o| o.info.name == s.info.name) {
            return Err(ScenarioError::Duplicate {
                file,
                name: s.info.name,
                other: other.spec.origin.clone(),
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// Built-ins, then `dir`'s scenarios: a file whose name matches a built-in replaces it in
/// place (an instructor can adjust a shipped scenario); others are appended.
pub fn load_all(dir: Option<&Path>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = builtin()?;
    if let Some(dir) = dir {
        for s in load_dir(dir)? {
            match all.iter_mut().find(|o| o.info.name == s.info.name) {
                Some(slot) => *slot = s,
                None => all.push(s),
            }
        }
    }
    Ok(all)
}

/// Keeps only the scenarios named in `names` (in the order given), or all when `names` is
/// empty. An unknown name is an error listing the valid ones.
pub fn select(all: Vec<Scenario>, names: &[String]) -> Result<Vec<Scenario>, ScenarioError> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut out: Vec<Scenario> = Vec::new();
    for n in names {
        match all.iter().find(|s| &s.info.name == n) {
            Some(s) if !out.iter().any(|o| &o.info.name == n) => out.push(s.clone()),
            Some(_) => {}
            None => {
                return Err(ScenarioError::Unknown {
                    name: n.clone(),
                    valid: all
                        .iter()
                        .map(|s| s.info.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        let all = builtin().unwrap_or_default();
        assert_eq!(all.len(), BUILTIN.len());
    }
}
