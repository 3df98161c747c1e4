//! With `--lang ja` everything a Japanese audience reads is Japanese: the demo's table (a
//! process row, the memfd_secret row, the SGX row that is `n/a` on this host), its JSON texts
//! (cell reasons, hex-view titles, row reasons, stand-in labels), `doctor --lang ja` and
//! `demo --list --lang ja`. Each output is checked for English words: runs of three or more
//! ASCII letters that are not a technical name (SGX, QEMU, gdb, a path, a flag, an errno).
//!
//! The texts themselves are checked where they are written: every Japanese string of the
//! catalogue (`confidump::i18n`) and of the scenario, lab and platform files is Japanese (a name kept
//! as it is aside), in one register (plain form, だ/である調: no です/ます), with full-width
//! punctuation after Japanese text (`：（）、` rather than `: ( ,`); the last two rules also hold
//! for every Japanese string literal in `src/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use common::{code_out_err, run};

/// Technical names a Japanese text keeps as they are (compared case-sensitively).
const ALLOWED: &[&str] = &[
    // Hardware, hypervisors, kernels.
    "SGX",
    "TDX",
    "SEV-SNP",
    "AMD",
    "Intel",
    "QEMU",
    "KVM",
    "TCG",
    "CPU",
    "RAM",
    "EPC",
    "FLC",
    "vDSO",
    "OVMF",
    "DEBUG",
    "EDBGRD",
    "Linux",
    "MiB",
    "TEE",
    "QMP",
    // Tools and commands, as typed.
    "confidump",
    // Capabilities, as `--require` and `confidump doctor` name them.
    "sev-snp-host",
    "tdx-host",
    "sql-enclave",
    "gdb",
    "gcore",
    "ptrace",
    "yama",
    "apt-get",
    "install",
    "runc",
    "crun",
    "initdb",
    "postgres",
    "PostgreSQL",
    "sudo",
    "configfs-tsm",
    "configfs",
    "dump-guest-memory",
    "JWT",
    "criu",
    "mlock",
    "Docker",
    "Kubernetes",
    "cgroup",
    "SDK",
    "NUMA",
    // Users, ids, kernel names.
    "root",
    "nobody",
    "pid",
    "PID",
    "uid",
    "euid",
    "argv",
    "core",
    "heap",
    "stack",
    "anon",
    "deleted",
    "vdso",
    "vvar",
    // The table's column keys (attack paths), shown as names in both languages.
    "dump",
    "kernel",
    "live",
    "qmp",
    "same-uid",
    "wire",
    "checkpoint",
    "disk",
    "client",
    "pod",
    // Products, services and kernel facilities, by their names.
    "OCI",
    "CRIU",
    "cgroup",
    "LSM",
    "AppArmor",
    "SELinux",
    "MSR",
    "Kata",
    "AKS",
    "kata-cc-isolation",
    // Kubernetes pod settings and the Yama LSM, by their names.
    "shareProcessNamespace",
    "hostPID",
    "Yama",
    "Azure",
    "SQL",
    "Always",
    "Encrypted",
    // PostgreSQL's process roles and commands, the kernel's signal names.
    "postmaster",
    "backend",
    "checkpointer",
    "CHECKPOINT",
    "init",
    "SIGQUIT",
    "VBS",
    "background-writer",
    "walwriter",
    "WAL",
    // PostgreSQL's column type, in a row's description of what it holds.
    "text",
    // Namespace kinds, as the kernel names them.
    "mount",
    "uts",
    "ipc",
    "net",
    "doctor",
    "lang",
    // errno names.
    "EIO",
    "EFAULT",
    "EPERM",
    "EACCES",
    "ESRCH",
];

/// The English words of `text` (see the module doc), outside [`ALLOWED`] and `names`.
fn english_words<'a>(text: &'a str, names: &[String]) -> Vec<&'a str> {
    let technical = |c: char| c.is_ascii_alphanumeric() || "_-./=[]~".contains(c);
    let words: Vec<&str> = text
        .split(|c: char| !technical(c))
        .filter(|w| !w.is_empty())
        .collect();
    // A command to type (`apt-get install ovmf`, `criu check`) names packages and subcommands
    // as they are.
    let typed: Vec<bool> = (0..words.len())
        .map(|i| {
            (i >= 2 && words[i - 2] == "apt-get" && words[i - 1] == "install")
                || (i >= 1 && words[i - 1] == "criu")
        })
        .collect();
    words
        .into_iter()
        .zip(typed)
        .filter(|(_, typed)| !typed)
        .map(|(w, _)| w.trim_matches('.'))
        // A flag (`--kernel`) is typed as it is.
        .filter(|w| !w.starts_with('-'))
        .filter(|w| {
            // Paths, flags, versions, addresses, identifiers with `_`: technical by shape.
            let word_like = w.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            let letters = w.chars().filter(char::is_ascii_alphabetic).count();
            word_like && letters >= 3 && !ALLOWED.contains(w) && !names.iter().any(|n| n == w)
        })
        .collect()
}

/// The built-in platforms (`demo/expect/*.toml`), names shown as they are.
const PLATFORMS: &[&str] = &["linux", "azure-dcsv3", "azure-cvm", "snp-host", "tdx-host"];

/// The built-in scenario names (identifiers shown as they are).
fn scenario_names() -> Vec<String> {
    let o = run(&["demo", "--list", "--lang", "en"]);
    let (_, out, _) = code_out_err(&o);
    out.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn assert_japanese(what: &str, text: &str, names: &[String]) {
    let words = english_words(text, names);
    assert!(
        words.is_empty(),
        "{what}: English words {words:?} in:\n{text}"
    );
}

/// No half-width `:`, `(`, `)`, `,` or `;` right after Japanese text in an output.
fn assert_full_width(what: &str, text: &str) {
    let found: Vec<String> = text.lines().flat_map(half_width_after_japanese).collect();
    assert!(
        found.is_empty(),
        "{what}: half-width punctuation after Japanese: {found:#?}"
    );
}

#[test]
fn the_checker_catches_english_and_spares_technical_names() {
    let names = vec!["plain".to_string()];
    assert_eq!(
        english_words("対象外 — needs SGX (CPU flag sgx) --accel auto", &names),
        ["needs", "flag", "sgx", "auto"]
    );
    assert!(english_words("OVMF ファームウェア（apt-get install ovmf）", &names).is_empty());
    assert_eq!(english_words("install ovmf", &names), ["ovmf"]);
    assert!(english_words(
        "このホストでは利用できない。/dev/sgx_enclave（CONFIG_X86_SGX を有効にした Linux 5.11 以降）、plain、0x7ff9d9002000、--kernel、[heap]",
        &names
    )
    .is_empty());
}

#[test]
fn doctor_and_the_list_speak_japanese() {
    let names = scenario_names();
    let o = run(&["doctor", "--lang", "ja"]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    // The first column is the check's name (memfd_secret, ptrace, ...): an identifier.
    let text: String = out
        .lines()
        .map(|l| l.split_once("  ").map_or(l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n");
    assert_japanese("doctor --lang ja", &text, &names);
    // The rows this host cannot run, with the demo's own (Japanese) reason.
    assert!(out.contains("このホストで実行不可になるデモの行"), "{out}");
    assert!(out.contains("SGX が必要"), "{out}");
    assert_full_width("doctor --lang ja", &out);

    // Each built-in platform: its description, what it requires (a requirement's name is an
    // identifier, in the first column), its rows, the total.
    let mut names = names.clone();
    names.extend(PLATFORMS.iter().map(|p| p.to_string()));
    for p in PLATFORMS {
        let o = run(&["doctor", "--lang", "ja", "--platform", p]);
        let (code, out, err) = code_out_err(&o);
        assert!(code == 0 || code == 1, "{p}: {err}");
        assert!(out.starts_with(&format!("プラットフォーム {p}：")), "{out}");
        let text: String = out
            .lines()
            .map(|l| l.split_once("  ").map_or(l, |(_, rest)| rest))
            .collect::<Vec<_>>()
            .join("\n");
        assert_japanese(&format!("doctor --lang ja --platform {p}"), &text, &names);
        assert_full_width(&format!("doctor --lang ja --platform {p}"), &out);
    }

    let o = run(&["demo", "--list", "--lang", "ja"]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("通常のメモリ"), "{out}");
    assert_japanese("demo --list --lang ja", &out, &names);
}

#[test]
fn the_demo_in_japanese_has_no_english() {
    // The demo's attacker is root.
    if !common::require(common::Need::Root) {
        return;
    }
    let names = scenario_names();
    // Every row, as the table and as the HTML report: rows this host cannot run say so in
    // Japanese (実行不可), paths that do not apply to a row say 対象外.
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("demo.html");
    let o = run(&["demo", "--lang", "ja", "--html", html.to_str().unwrap()]);
    let (code, table, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}\n{table}");
    assert_japanese("demo --lang ja (table)", &table, &names);
    assert_full_width("demo --lang ja (table)", &table);
    for want in ["対象外", "の代わり", "凡例："] {
        assert!(table.contains(want), "{want} missing in:\n{table}");
    }
    // A host without SGX: the sgx row cannot run here, which is not 対象外.
    if table.contains("SGX が必要") {
        assert!(
            table.contains("実行不可 — このホストでは利用できない。SGX が必要"),
            "{table}"
        );
    }
    let page = std::fs::read_to_string(&html).unwrap();
    let text = html_text(&page);
    assert_japanese("demo --lang ja --html", &text, &names);
    assert_full_width("demo --lang ja --html", &text);

    // Process rows, an n/a row, and a container and a database row (n/a with Japanese reasons
    // where runc or PostgreSQL is missing).
    let rows = [
        "plain",
        "secretmem",
        "sgx",
        "container",
        "db-client-encrypted",
        "db-enclave",
    ];
    let mut args = vec!["demo", "--lang", "ja"];
    for r in rows {
        args.extend(["--scenario", r]);
    }
    args.extend(["--format", "json"]);
    let o = run(&args);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["lang"], "ja");
    let mut texts: Vec<String> = Vec::new();
    for c in v["cells"].as_array().unwrap() {
        texts.push(c["reason"].as_str().unwrap_or_default().to_string());
        if let Some(t) = c["view"]["title"].as_str() {
            texts.push(t.to_string());
        }
    }
    for s in v["scenarios"].as_array().unwrap() {
        for k in ["title", "holds", "lesson", "stand_in_for"] {
            if let Some(t) = s[k]["ja"].as_str() {
                texts.push(t.to_string());
            }
        }
        if let Some(t) = s["unavailable"].as_str() {
            texts.push(t.to_string());
        }
    }
    let secretmem = &v["scenarios"][1];
    assert_eq!(
        secretmem["stand_in_for"]["ja"], "エンクレーブ（SGX）",
        "{secretmem}"
    );
    let all = texts.join("\n");
    assert!(all.contains("読み取り拒否"), "{all}");
    assert_japanese("demo --lang ja --format json", &all, &names);
}

// ---- The texts where they are written -------------------------------------------------------

/// Kana, kanji and the full-width forms (`、。「」（）：`): what makes a text Japanese, and what
/// takes full-width punctuation after it.
fn is_japanese(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303f}'     // 、。「」 and the ideographic space
        | '\u{3040}'..='\u{30ff}'   // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'   // kanji
        | '\u{ff00}'..='\u{ffef}') // （）：、 full-width forms
}

/// The ideographic space and the full-width punctuation (not kana, not kanji).
fn is_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ff20}' | '\u{ff3b}'..='\u{ff40}' | '\u{ff5b}'..='\u{ff65}')
}

/// Half-width `:` `(` `)` `,` `;` right after Japanese text (`期待値: `, `書き出す (runc`), each
/// with what surrounds it. Japanese takes `：（）、；`. Not flagged: a `,` or `)` inside a call
/// written as code (`pgp_sym_encrypt(秘密, 鍵)`: its `(` follows an identifier).
fn half_width_after_japanese(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut calls: Vec<bool> = Vec::new();
    let mut found = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let before = &chars[..i];
        let prev = before.last().copied();
        // `(` and `:` may be set off by spaces (`書き出す (runc checkpoint)`); `,` and `)` not.
        let prev_word = before.iter().rev().find(|c| **c != ' ').copied();
        let in_call = calls.last().copied().unwrap_or(false);
        let bad = match c {
            '(' | ':' => prev_word.is_some_and(is_japanese),
            ',' | ')' => prev.is_some_and(is_japanese) && !in_call,
            ';' => prev.is_some_and(is_japanese),
            _ => false,
        };
        if bad {
            let from = i.saturating_sub(12);
            let to = (i + 8).min(chars.len());
            found.push(chars[from..to].iter().collect());
        }
        match c {
            '(' => calls.push(prev.is_some_and(|p| p.is_ascii_alphanumeric() || p == '_')),
            ')' => {
                calls.pop();
            }
            _ => {}
        }
    }
    found
}

/// The polite forms (です/ます調) that the one register (だ/である調) does not use.
const POLITE: &[&str] = &[
    "です",
    "ます",
    "ません",
    "ました",
    "ましょう",
    "でした",
    "でしょう",
    "ください",
];

/// The one allow rule for a Japanese text with no Japanese in it: a single token of ASCII,
/// taken from its English (`JWT` of `JWTs`; `SGX` of the flag value `sgx`), that is no English word by [`english_words`] (a
/// technical name of [`ALLOWED`] such as `JWT` or `confidump`, an identifier or path such as
/// `core_pattern` or `memfd_secret`, the `????` the attacker's screen shows): a name kept as it
/// is. Anything else without Japanese in it (`rows`, `not available here`) was left untranslated.
fn kept_as_is(ja: &str, en: Option<&str>) -> bool {
    !ja.is_empty()
        && ja.is_ascii()
        && !ja.chars().any(char::is_whitespace)
        && en.map_or(true, |en| {
            en.to_ascii_lowercase().contains(&ja.to_ascii_lowercase())
        })
        && english_words(ja, &[]).is_empty()
}

/// Why `ja` (the Japanese of `key`, whose English is `en`) is not finished Japanese.
fn style_problems(key: &str, ja: &str, en: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if !ja.chars().any(is_japanese) && !kept_as_is(ja, en) {
        out.push(format!("{key}: no Japanese in {ja:?}"));
    }
    for p in POLITE.iter().filter(|p| ja.contains(**p)) {
        out.push(format!(
            "{key}: {p} (plain form, だ/である調, throughout) in {ja:?}"
        ));
    }
    for at in half_width_after_japanese(ja) {
        out.push(format!(
            "{key}: half-width punctuation after Japanese at {at:?}"
        ));
    }
    out
}

/// Every `…ja` string of a TOML file (`title.ja`, `[[hints]] ja`, `say.ja`, `description.ja`),
/// by its dotted key, with the English beside it (`en` of the same table).
fn ja_texts(v: &toml::Value, path: &str, out: &mut Vec<(String, String, Option<String>)>) {
    match v {
        toml::Value::Table(t) => {
            if let Some(toml::Value::String(ja)) = t.get("ja") {
                let en = t.get("en").and_then(|e| e.as_str()).map(str::to_string);
                out.push((format!("{path}.ja"), ja.clone(), en));
            } else if t.contains_key("en") {
                out.push((format!("{path}.ja"), String::new(), None));
            }
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                ja_texts(v, &p, out);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                ja_texts(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The string literals of Rust source that hold Japanese, each with its line: a small lexer
/// that knows comments, char literals and raw strings, enough for this crate's sources.
fn japanese_literals(src: &str) -> Vec<(usize, String)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let at = |j: usize| c.get(j).copied().unwrap_or('\0');
        match c[i] {
            '\n' => line += 1,
            '/' if at(i + 1) == '/' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if at(i + 1) == '*' => {
                while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
                i += 2;
                continue;
            }
            // A char literal ('"', '\''), not a lifetime ('a).
            '\'' if at(i + 1) == '\\' => {
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
            }
            '\'' if at(i + 2) == '\'' => i += 2,
            '"' | 'r' => {
                let raw = c[i] == 'r';
                let mut j = i + 1;
                let mut hashes = 0;
                if raw {
                    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
                        i += 1;
                        continue;
                    }
                    while at(j) == '#' {
                        hashes += 1;
                        j += 1;
                    }
                    if at(j) != '"' {
                        i += 1;
                        continue;
                    }
                    j += 1;
                }
                let start_line = line;
                let mut text = String::new();
                while j < c.len() {
                    if c[j] == '\n' {
                        line += 1;
                    }
                    if !raw && c[j] == '\\' {
                        // `\` at a line's end joins it to the next without the indent.
                        if at(j + 1) == '\n' {
                            line += 1;
                            j += 2;
                            while at(j).is_whitespace() {
                                line += usize::from(at(j) == '\n');
                                j += 1;
                            }
                        } else {
                            text.push(c[j]);
                            text.push(at(j + 1));
                            j += 2;
                        }
                        continue;
                    }
                    if c[j] == '"' && (1..=hashes).all(|h| at(j + h) == '#') {
                        break;
                    }
                    text.push(c[j]);
                    j += 1;
                }
                // A text has kana or kanji; a set of punctuation characters is data.
                if text.chars().any(|c| is_japanese(c) && !is_punctuation(c)) {
                    out.push((start_line, text));
                }
                i = j + hashes + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn rs_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The checks of [`style_problems`] catch what they are for and spare names, paths, commands
/// and calls written as code.
#[test]
fn the_style_checks_catch_english_polite_forms_and_half_width_punctuation() {
    let bad = |ja: &str| style_problems("k", ja, None);
    assert_eq!(bad("not available here").len(), 1);
    assert_eq!(bad("正解です。").len(), 1);
    assert_eq!(bad("証明を受理しました").len(), 1);
    assert_eq!(bad("期待値: 漏洩").len(), 1);
    assert_eq!(bad("書き出す (runc checkpoint)").len(), 1);
    assert_eq!(
        bad("全ページ（runc checkpoint)").len(),
        0,
        "')' follows ASCII"
    );
    assert_eq!(bad("理由（場所)").len(), 1);
    assert_eq!(bad("秘密,鍵").len(), 1);
    for fine in [
        "正解。それが秘密だ",
        "期待値：漏洩",
        "pgp_sym_encrypt(秘密, 鍵) で保存したカナリア",
        "CRIU がチェックポイントを取る（runc checkpoint）",
        "postmaster 123: /dev/zero (deleted)、[heap]",
        "gcore PID でカレントディレクトリに core.PID が書き出される",
    ] {
        assert!(bad(fine).is_empty(), "{fine}: {:?}", bad(fine));
    }
    assert!(style_problems("k", "JWT", Some("JWT")).is_empty());
    assert!(style_problems("k", "????", Some("????")).is_empty());
    assert!(style_problems("k", "JWT", Some("JWTs")).is_empty());
    assert!(style_problems("k", "confidump", Some("confidump")).is_empty());
    assert!(style_problems("k", "core_pattern", Some("core_pattern")).is_empty());
    assert_eq!(style_problems("k", "rows", Some("rows")).len(), 1);
    assert_eq!(style_problems("k", "JWTs", Some("JWT")).len(), 1);
    assert_eq!(style_problems("k", "lab check", Some("lab check")).len(), 1);
    let lits = japanese_literals(
        "// 注: comment\nlet a = '\"'; let b = \"日本語: x\"; let c = r#\"生の\"文字列\"#;\n\
         let d = \"一行目\\\n    二行目\";",
    );
    let texts: Vec<&str> = lits.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["日本語: x", "生の\"文字列", "一行目二行目"]);
    assert!(japanese_literals("const SET: &str = \"（「『([{\";").is_empty());
}

/// Every Japanese string where it is written: the catalogue (UI, lab and runner words), the `.ja`
/// texts of the scenario, lab and platform files, and (for register and punctuation) every
/// Japanese string literal in `src/` (host reasons, doctor, the runner's reasons and views).
#[test]
fn every_japanese_text_is_finished_japanese() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems: Vec<String> = Vec::new();
    for (k, en, ja) in confidump::i18n::entries() {
        problems.extend(style_problems(&format!("src/i18n {k}"), ja, Some(en)));
    }
    let mut files = 0;
    for dir in ["demo/scenarios", "demo/labs", "demo/expect"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            files += 1;
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let v: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
            let mut texts = Vec::new();
            ja_texts(&v, "", &mut texts);
            for (key, ja, en) in texts {
                if ja.is_empty() {
                    problems.push(format!(
                        "{rel} {key}: missing (the English is all there is)"
                    ));
                    continue;
                }
                problems.extend(style_problems(&format!("{rel} {key}"), &ja, en.as_deref()));
            }
        }
    }
    assert!(files >= 30, "only {files} files: is the tree there?");
    let mut sources = Vec::new();
    rs_files(&root.join("src"), &mut sources);
    sources.sort();
    for path in sources {
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        for (line, text) in japanese_literals(&std::fs::read_to_string(&path).unwrap()) {
            let key = format!("{rel}:{line}");
            problems.extend(
                style_problems(&key, &text, None)
                    .into_iter()
                    .filter(|p| !p.contains("no Japanese")),
            );
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The text of an HTML report, without its styles, script, hex dumps and commands (which are
/// typed as they are in every language) and without attributes.
fn html_text(page: &str) -> String {
    let mut s = page.to_string();
    for (open, close) in [
        ("<style", "</style>"),
        ("<script", "</script>"),
        ("<pre", "</pre>"),
        ("<code", "</code>"),
    ] {
        while let Some(a) = s.find(open) {
            let Some(b) = s[a..].find(close) else { break };
            s.replace_range(a..a + b + close.len(), "\n");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push('\n');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
