//! `confidump report`'s input: several nodes' saved demo results, each named after its file
//! (or `NAME=FILE`), one column per name.

use std::path::{Path, PathBuf};

/// Two columns would have one name.
#[derive(Debug, thiserror::Error)]
#[error("two results are named {0:?}: name them apart with NAME=FILE")]
pub struct SameName(pub String);

/// `NAME=FILE` or `FILE` (named after its stem). A `=` inside a path (after a `/`) is part of
/// the path.
pub fn label_and_path(arg: &str) -> (String, PathBuf) {
    if let Some((name, path)) = arg.split_once('=') {
        if !name.is_empty() && !name.contains('/') {
            return (name.to_string(), PathBuf::from(path));
        }
    }
    let path = PathBuf::from(arg);
    let label = Path::new(arg)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| arg.to_string());
    (label, path)
}

/// The column name and file of each of `args` (`FILE` or `NAME=FILE`); no two alike.
pub fn columns(args: &[String]) -> Result<Vec<(String, PathBuf)>, SameName> {
    let named: Vec<(String, PathBuf)> = args.iter().map(|a| label_and_path(a)).collect();
    for (i, (label, _)) in named.iter().enumerate() {
        if named.iter().skip(i + 1).any(|(l, _)| l == label) {
            return Err(SameName(label.clone()));
        }
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(
            label_and_path("results/aks-sgx-0.json"),
            (
                "aks-sgx-0".to_string(),
                PathBuf::from("results/aks-sgx-0.json")
            )
        );
        assert_eq!(
            label_and_path("node-a=run.json"),
            ("node-a".to_string(), PathBuf::from("run.json"))
        );
        assert_eq!(
            label_and_path("dir/a=b.json").0,
            "a=b",
            "a = after a slash belongs to the path"
        );
    }

    #[test]
    fn two_columns_of_one_name_are_refused() {
        let e = columns(&["a/x.json".into(), "b/x.json".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "two results are named \"x\": name them apart with NAME=FILE"
        );
        assert_eq!(
            columns(&["a/x.json".into(), "y=b/x.json".into()])
                .unwrap()
                .len(),
            2
        );
    }
}
