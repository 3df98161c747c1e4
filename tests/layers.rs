//! The layer table in ARCHITECTURE.md, enforced: every `crate::NAME` a module of `src/` names
//! must be its own module or one on a lower line of the table. A failure names the file, the line
//! and the import, and says which way the table points.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The table: module name -> its line, 0 the highest.
struct Layers {
    rank: BTreeMap<String, usize>,
    lines: Vec<Vec<String>>,
}

impl Layers {
    /// The fenced block marked `layers` in `text`: one layer a line, highest first; words after
    /// `#` are a comment.
    fn parse(text: &str) -> Layers {
        let start = text
            .find("```layers\n")
            .expect("ARCHITECTURE.md has a ```layers block");
        let body = &text[start + "```layers\n".len()..];
        let body = &body[..body.find("```").expect("the layers block is closed")];
        let mut rank = BTreeMap::new();
        let mut lines = Vec::new();
        for line in body.lines() {
            let words: Vec<String> = line
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if words.is_empty() {
                continue;
            }
            for w in &words {
                let old = rank.insert(w.clone(), lines.len());
                assert!(
                    old.is_none(),
                    "ARCHITECTURE.md: `{w}` is in the layer table twice"
                );
            }
            lines.push(words);
        }
        Layers { rank, lines }
    }

    /// Why `from` may not name `to`, or `None` when it may.
    fn forbids(&self, from: &str, to: &str) -> Option<String> {
        if from == to {
            return None;
        }
        let (Some(&f), Some(&t)) = (self.rank.get(from), self.rank.get(to)) else {
            return Some(format!("`{to}` is not in the layer table"));
        };
        match t.cmp(&f) {
            std::cmp::Ordering::Greater => None,
            std::cmp::Ordering::Equal => Some(format!(
                "`{from}` and `{to}` share a line of the table ({}): neither may use the other",
                self.lines[f].join(" ")
            )),
            std::cmp::Ordering::Less => Some(format!("`{to}` is a higher layer than `{from}`")),
        }
    }
}

/// One import the table does not allow.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    to: String,
    why: String,
}

/// The top-level module a file of `src/` belongs to (`src/vm/qmp.rs` -> `vm`,
/// `src/secret.rs` -> `secret`); `None` for the crate root and the binary.
fn module_of(rel: &Path) -> Option<String> {
    let mut parts = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = parts.next()?;
    let is_file = parts.next().is_none();
    let name = if is_file {
        first.strip_suffix(".rs")?.to_string()
    } else {
        first
    };
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// Every top-level module `source` names through `crate::`, with its line (1-based), up to the
/// file's `#[cfg(test)]` part. Comments are skipped; `use crate::{a::X, b::Y}` names `a` and `b`.
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut group: Option<(usize, String)> = None; // an open `crate::{`: its line, text so far
    for (i, raw) in source.lines().enumerate() {
        if raw.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = raw.split("//").next().unwrap_or("");
        if let Some((line, mut text)) = group.take() {
            text.push_str(code);
            if close_group(&text, line, &mut out) {
                continue;
            }
            group = Some((line, text));
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(inner) = after.strip_prefix('{') {
                let text = inner.to_string();
                if !close_group(&text, i + 1, &mut out) {
                    group = Some((i + 1, text));
                }
                break;
            }
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::outln!` is a macro at the crate root, not a module.
            let macro_call = after[name.len()..].starts_with('!');
            if !name.is_empty() && !macro_call {
                out.push((i + 1, name));
            }
            rest = after;
        }
    }
    out
}

/// The names at depth 0 of a `crate::{…}` group once its `}` is in `text`.
fn close_group(text: &str, line: usize, out: &mut Vec<(usize, String)>) -> bool {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    let mut first = true; // the next word at depth 0 starts a path
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if first && depth == 0 {
                word.push(c);
            }
            continue;
        }
        if !word.is_empty() {
            names.push((line, std::mem::take(&mut word)));
            first = false;
        }
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.append(&mut names);
                return true;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => first = true,
            _ => {}
        }
    }
    false
}

fn check_file(layers: &Layers, rel: &Path, source: &str) -> Vec<Violation> {
    let Some(from) = module_of(rel) else {
        return Vec::new();
    };
    crate_paths(source)
        .into_iter()
        .filter_map(|(line, to)| {
            layers.forbids(&from, &to).map(|why| Violation {
                file: format!("src/{}", rel.display()),
                line,
                to,
                why,
            })
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn table() -> Layers {
    Layers::parse(&fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap())
}

#[test]
fn every_import_follows_the_layer_table() {
    let layers = table();
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&src).unwrap();
        if let Some(m) = module_of(rel) {
            assert!(
                layers.rank.contains_key(&m),
                "src/{}: module `{m}` is not in ARCHITECTURE.md's layer table: add it on its line",
                rel.display()
            );
        }
        found.extend(check_file(&layers, rel, &fs::read_to_string(path).unwrap()));
    }
    let text: Vec<String> = found
        .iter()
        .map(|v| format!("{}:{}: crate::{}: {}", v.file, v.line, v.to, v.why))
        .collect();
    assert!(
        text.is_empty(),
        "{} import(s) the layer table in ARCHITECTURE.md does not allow:\n{}",
        text.len(),
        text.join("\n")
    );
}

#[test]
fn every_module_in_the_table_exists() {
    let src = root().join("src");
    for name in table().rank.keys() {
        assert!(
            src.join(name).is_dir() || src.join(format!("{name}.rs")).is_file(),
            "ARCHITECTURE.md's layer table names `{name}`, which is not a module of src/"
        );
    }
}

#[test]
fn a_forbidden_import_is_named_with_its_file_and_line() {
    let layers = Layers::parse("```layers\ncli\nvm container # contexts\nprocfs\n```\n");
    let source = "//! doc naming crate::cli in a comment\n\
                  use crate::procfs::maps;\n\
                  use crate::{procfs::x, cli::Args};\n\
                  fn f() { crate::container::launch(); crate::outln!(\"x\"); }\n\
                  #[cfg(test)]\n\
                  mod tests { use crate::cli::Y; }\n";
    let found = check_file(&layers, Path::new("vm/guest.rs"), source);
    let at: Vec<(usize, &str)> = found.iter().map(|v| (v.line, v.to.as_str())).collect();
    assert_eq!(at, [(3, "cli"), (4, "container")], "{found:?}");
    assert_eq!(found[0].file, "src/vm/guest.rs");
    assert!(found[0].why.contains("higher layer"), "{}", found[0].why);
    assert!(found[1].why.contains("share a line"), "{}", found[1].why);
    // A group split over lines is read whole, and its line is where `crate::{` opens.
    let split = "use crate::{\n    procfs::a,\n    cli::b,\n};\n";
    let found = check_file(&layers, Path::new("vm/mod.rs"), split);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].line, found[0].to.as_str()), (1, "cli"));
    // The lowest layer may use itself, and an unknown module is named as such.
    assert!(check_file(
        &layers,
        Path::new("procfs/maps.rs"),
        "use crate::procfs::x;"
    )
    .is_empty());
    let unknown = check_file(&layers, Path::new("procfs.rs"), "use crate::nowhere::x;");
    assert!(
        unknown[0].why.contains("not in the layer table"),
        "{unknown:?}"
    );
}
