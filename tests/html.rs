//! The HTML report, loaded in a real browser: headless Chromium renders the page, we read back
//! the DOM it built (so the matrix and the `????` view must survive parsing, not just appear in
//! our string) and keep a screenshot under `target/test-artifacts/` for a human to look at.
//!
//! Needs Debian's `chromium` package (or `CHROMIUM=/path/to/chrome`); without it the test skips
//! through `common::require` (in CI, a failure).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use confidump::model::{
    Cell, HexRow, HexWindow, HostInfo, MatrixReport, Outcome, ScenarioInfo, Texts,
};
use confidump::render::html;

/// A slow, shared CI machine can take a while to start a browser; never hang the suite.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn texts(en: &str, ja: &str) -> Texts {
    Texts {
        en: en.into(),
        ja: ja.into(),
    }
}

fn info(name: &str, title: Texts, holds: Texts, lesson: Texts) -> ScenarioInfo {
    ScenarioInfo {
        name: name.into(),
        title,
        holds,
        lesson,
        stand_in_for: None,
        unavailable: None,
        needs: Vec::new(),
    }
}

fn cell(s: &str, a: &str, expected: Outcome, observed: Outcome, where_: &str) -> Cell {
    Cell {
        scenario: s.into(),
        attack: a.parse().unwrap(),
        expected,
        observed,
        runnable: true,
        where_: where_.into(),
        reason: String::new(),
        command: format!("sudo confidump attack --path {a} --pid 31337"),
        millis: 250,
        hits: usize::from(observed == Outcome::Leak),
        fragments_only: false,
        detections: 0,
        detected: Default::default(),
        view: None,
        required: false,
    }
}

/// A leak view: a card number in the heap, highlighted.
fn leak_view() -> HexWindow {
    let text = b"....card=4111 1111 1111 1111;exp=12/29<script>x</script>";
    let rows = text
        .chunks(16)
        .enumerate()
        .map(|(i, chunk)| HexRow {
            addr: 0x55d0_1c2e_40a0 + 16 * i as u64,
            bytes: chunk.iter().map(|b| Some(*b)).collect(),
            highlight: (0..chunk.len())
                .map(|k| (9..28).contains(&(16 * i + k)))
                .collect(),
            ..Default::default()
        })
        .collect();
    HexWindow {
        title: "[heap] at 0x55d01c2e40a9".into(),
        rows,
        ..Default::default()
    }
}

/// A refused view: a memfd_secret page, all `None`, after a readable row.
fn refused_view() -> HexWindow {
    let mut rows = vec![HexRow {
        addr: 0x7f3a_2000_0ff0,
        bytes: (0u8..16).map(Some).collect(),
        highlight: vec![false; 16],
        ..Default::default()
    }];
    for i in 0..3u64 {
        rows.push(HexRow {
            addr: 0x7f3a_2000_1000 + 16 * i,
            bytes: vec![None; 16],
            highlight: vec![false; 16],
            ..Default::default()
        });
    }
    HexWindow {
        title: "/secretmem (deleted): read refused (EIO: the kernel will not map these pages)"
            .into(),
        rows,
        ..Default::default()
    }
}

fn report(lang: &str) -> MatrixReport {
    use Outcome::*;
    let attacks: Vec<String> = ["dump", "gcore", "kernel", "live", "same-uid"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut secretmem = info(
        "secretmem",
        texts("Secret in memfd_secret memory", "memfd_secret メモリにある秘密"),
        texts("a signing key in memfd_secret pages", "memfd_secret のページに署名鍵"),
        texts(
            "The kernel refuses every read of these pages, even root's: the attacker sees ????.",
            "カーネルは root であってもこのページの読み取りを拒否する。攻撃者に見えるのは ???? だけ。",
        ),
    );
    secretmem.stand_in_for = Some("an enclave".into());
    let mut sgx = info(
        "sgx",
        texts("Secret in an SGX enclave", "SGX エンクレーブ内の秘密"),
        texts("a key inside an enclave", "エンクレーブ内の鍵"),
        texts("", ""),
    );
    sgx.unavailable = Some("needs SGX: this CPU has none".into());
    let scenarios =
        vec![
        info(
            "plain",
            texts("Secret in ordinary heap memory", "通常のヒープメモリにある秘密"),
            texts("a card number in a heap buffer", "ヒープ上のバッファにカード番号"),
            texts(
                "Ordinary memory is in every dump: whoever can dump the process has the secret.",
                "通常のメモリはどのダンプにも含まれる。ダンプできる者は誰でも秘密を手に入れる。",
            ),
        ),
        secretmem,
        info(
            "dontdump",
            texts("MADV_DONTDUMP only", "MADV_DONTDUMP のみ"),
            texts("a key in a DONTDUMP area", "DONTDUMP 領域に鍵"),
            texts(
                "Left out of a dump is not protected: a live read still gets it.",
                "ダンプから除外されても保護ではない。実行中に読めば取れる。",
            ),
        ),
        sgx,
    ];
    let mut cells = Vec::new();
    for a in &attacks {
        let mut c = cell("plain", a, Leak, Leak, "[heap]");
        if a == "dump" {
            c.view = Some(leak_view());
            c.detections = 1;
        }
        if a == "same-uid" {
            c.fragments_only = true;
        }
        cells.push(c);
    }
    for a in &attacks {
        let mut c = cell(
            "secretmem",
            a,
            Unreadable,
            Unreadable,
            "/secretmem (deleted)",
        );
        c.reason = "EIO".into();
        if a == "gcore" {
            // Schema 2: the claim stays, the cell says it could not run here.
            c = cell("secretmem", a, Outcome::Absent, Outcome::NotApplicable, "");
            c.runnable = false;
            c.reason = "gdb is not installed".into();
        }
        if a == "dump" {
            c.view = Some(refused_view());
        }
        cells.push(c);
    }
    for a in &attacks {
        let c = match a.as_str() {
            "dump" | "gcore" | "kernel" => {
                let mut c = cell("dontdump", a, Absent, Absent, "[anon]");
                c.reason = "MADV_DONTDUMP: left out without reading".into();
                c
            }
            // A deliberate mismatch, so the screenshot shows how one looks.
            "live" => cell("dontdump", a, Leak, NotFound, ""),
            _ => cell("dontdump", a, Leak, Leak, "[anon]"),
        };
        cells.push(c);
    }
    let mismatches = cells.iter().filter(|c| !c.met()).count();
    MatrixReport {
        schema: confidump::model::MATRIX_SCHEMA,
        host: HostInfo {
            kernel: "6.1.0-18-amd64".into(),
            hostname: "lab-1".into(),
            uid: 0,
            memfd_secret: true,
            gcore: false,
            core_pattern: "|/usr/lib/systemd/systemd-coredump %P".into(),
            confidump: env!("CARGO_PKG_VERSION").into(),
            ..HostInfo::default()
        },
        lang: lang.parse().unwrap(),
        scenarios,
        attacks: attacks.iter().map(|a| a.parse().unwrap()).collect(),
        cells,
        mismatches,
        millis: 8123,
    }
}

/// Runs the browser headless on `page` with `extra` arguments; its stdout, or why it failed.
fn browse(chrome: &Path, page: &Path, extra: &[String]) -> Result<String, String> {
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", chrome.display()))?;
    // Read stdout on a thread so a full pipe cannot stall the browser while we wait.
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > BROWSER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("browser timed out after {BROWSER_TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let out = reader.join().map_err(|_| "reader thread failed")?;
    if !status.success() {
        return Err(format!("browser exited with {status}"));
    }
    Ok(out)
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("test-artifacts")
}

#[test]
fn report_renders_in_headless_chromium() {
    if !common::require(common::Need::Chromium) {
        return;
    }
    let chrome = common::chromium().expect("common::require found it");
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = artifacts();
    std::fs::create_dir_all(&out_dir).expect("artifact dir");
    for lang in ["en", "ja"] {
        let page = dir.path().join(format!("report-{lang}.html"));
        let r = report(lang);
        std::fs::write(&page, html::render(&r)).expect("write page");
        // Keep the page too: the screenshot's source, for whoever investigates a failure.
        std::fs::copy(&page, out_dir.join(format!("demo-report-{lang}.html"))).expect("copy");

        let dom = browse(&chrome, &page, &["--dump-dom".to_string()]).expect("dump-dom");
        assert!(dom.contains(&format!("lang=\"{lang}\"")), "{dom}");
        assert!(
            dom.contains("<table class=\"matrix\">"),
            "no matrix in DOM:\n{dom}"
        );
        assert_eq!(dom.matches("<tr data-scenario=").count(), 4, "{dom}");
        assert!(
            dom.contains(
                "<figure class=\"view\" data-attack=\"dump\" data-outcome=\"unreadable\">"
            ),
            "no ???? view in DOM:\n{dom}"
        );
        assert!(dom.contains("<span class=\"q\">?? ?? ??"), "{dom}");
        assert!(
            dom.contains("<span class=\"hl\">34 31 31 31"),
            "leak not highlighted"
        );
        // The hostile bytes in the heap stayed text: no script element, escaped in the DOM.
        assert!(
            !dom.contains("<script"),
            "a script element made it into the DOM"
        );
        assert!(dom.contains("&lt;"), "{dom}");
        let (leak, mismatch, stand_in) = if lang == "ja" {
            ("漏洩", "✗ 期待値：漏洩", "エンクレーブの代わり")
        } else {
            ("LEAK", "✗ expected LEAK", "stand-in for an enclave")
        };
        for want in [leak, mismatch, stand_in, "needs SGX: this CPU has none"] {
            assert!(dom.contains(want), "missing {want:?} in DOM");
        }

        let png = if lang == "en" {
            out_dir.join("demo-report.png")
        } else {
            out_dir.join(format!("demo-report-{lang}.png"))
        };
        let _ = std::fs::remove_file(&png);
        browse(
            &chrome,
            &page,
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1400,2900".to_string(),
            ],
        )
        .expect("screenshot");
        let meta = std::fs::metadata(&png).expect("screenshot written");
        assert!(meta.len() > 10_000, "screenshot suspiciously small");
        eprintln!("screenshot: {}", png.display());
    }
}

/// The page of a real run: `confidump demo --html` over real victims, opened in Chromium. The
/// file is 0600 (it shows leaked bytes), and the DOM holds the matrix, a leak view and a
/// `????` view of memfd_secret memory.
#[test]
fn a_real_demo_run_renders_in_headless_chromium() {
    use std::os::unix::fs::PermissionsExt;
    if !common::require(common::Need::Chromium) {
        return;
    }
    let chrome = common::chromium().expect("common::require found it");
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("demo.html");
    let o = Command::new(env!("CARGO_BIN_EXE_confidump"))
        .args(["demo", "--scenario", "plain", "--scenario", "secretmem"])
        .args(["--scenario", "dontdump"])
        .args(["--lang", "en", "--format", "json", "--html"])
        .arg(&page)
        .stdin(Stdio::null())
        .output()
        .expect("run demo");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mode = std::fs::metadata(&page)
        .expect("page written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the report shows leaked bytes: 0600");
    let dom = browse(&chrome, &page, &["--dump-dom".to_string()]).expect("dump-dom");
    assert!(
        dom.contains("<table class=\"matrix\">"),
        "no matrix:\n{dom}"
    );
    assert_eq!(dom.matches("<tr data-scenario=").count(), 3, "{dom}");
    assert!(
        dom.contains("data-outcome=\"unreadable\"") && dom.contains("<span class=\"q\">?? ??"),
        "no ???? view of the memfd_secret region:\n{dom}"
    );
    assert!(
        dom.contains("data-outcome=\"leak\""),
        "no leak view:\n{dom}"
    );
    // Bytes a tool left out (dontdump · gcore: the row leaks elsewhere) are drawn apart from
    // bytes the kernel refused, each with a legend line of its own.
    let figure = |attack: &str, outcome: &str| {
        let head =
            format!("<figure class=\"view\" data-attack=\"{attack}\" data-outcome=\"{outcome}\">");
        dom.match_indices(&head)
            .map(|(i, _)| {
                let rest = &dom[i..];
                rest[..rest.find("</figure>").unwrap_or(rest.len())].to_string()
            })
            .collect::<Vec<_>>()
    };
    let absent = figure("gcore", "absent");
    assert!(!absent.is_empty(), "no absent view:\n{dom}");
    for f in &absent {
        assert!(f.contains("<span class=\"abs\">-- --"), "{f}");
        assert!(
            !f.contains("class=\"q\""),
            "absent bytes drawn as refused: {f}"
        );
    }
    let refused = figure("dump", "unreadable");
    assert!(
        refused
            .iter()
            .any(|f| f.contains("<span class=\"q\">?? ??") && !f.contains("class=\"abs\"")),
        "{refused:?}"
    );
    assert!(dom.contains("class=\"legend-refused\"") && dom.contains("class=\"legend-absent\""));
    assert!(
        !dom.contains("refused or the bytes were not in the dump"),
        "{dom}"
    );
    // The page ends with its summary.
    let summary = dom
        .rfind("<section id=\"summary\">")
        .expect("a summary at the end");
    assert!(dom[summary..].contains("cells as expected"), "{dom}");
    assert!(
        !dom[summary..].contains("<figure"),
        "the summary comes last"
    );
    let out_dir = artifacts();
    std::fs::create_dir_all(&out_dir).expect("artifact dir");
    let png = out_dir.join("demo-real-run.png");
    let _ = std::fs::remove_file(&png);
    browse(
        &chrome,
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,2400".to_string(),
        ],
    )
    .expect("screenshot");
    assert!(std::fs::metadata(&png).expect("screenshot").len() > 10_000);
}

/// The page opens on the summary of all built-in rows (a recorded run), which fits a 1280×720
/// window without scrolling, in both languages; each row's name links to its details.
#[test]
fn the_summary_fits_1280_by_720_and_links_to_the_details() {
    if !common::require(common::Need::Chromium) {
        return;
    }
    let chrome = common::chromium().expect("common::require found it");
    let dir = tempfile::tempdir().expect("temp dir");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (lang, file) in [("en", "demo-all.json"), ("ja", "demo-all-ja.json")] {
        let page = dir.path().join(format!("all-{lang}.html"));
        let o = Command::new(env!("CARGO_BIN_EXE_confidump"))
            .args(["demo", "--from"])
            .arg(golden.join(file))
            .arg("--html")
            .arg(&page)
            .stdin(Stdio::null())
            .output()
            .expect("run demo --from");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let html = std::fs::read_to_string(&page).expect("page");
        // Every running row's name links to its row of the matrix.
        let report: MatrixReport =
            serde_json::from_str(&std::fs::read_to_string(golden.join(file)).unwrap()).unwrap();
        for s in report.scenarios.iter().filter(|s| s.unavailable.is_none()) {
            assert!(
                html.contains(&format!("href=\"#row-{}\"", s.name)),
                "{lang}: no link to {}",
                s.name
            );
            assert!(
                html.contains(&format!("id=\"row-{}\"", s.name)),
                "{lang}: no row {}",
                s.name
            );
        }
        // Measured in the browser: where the summary ends, against the window.
        let probe = dir.path().join(format!("probe-{lang}.html"));
        let script = "<script>const r=document.getElementById('overview').getBoundingClientRect();\
            document.body.setAttribute('data-fit',\
            [Math.ceil(r.bottom),Math.ceil(r.right),innerHeight,innerWidth].join(' '));</script>";
        std::fs::write(&probe, html.replace("</body>", &format!("{script}</body>"))).unwrap();
        let dom = browse(
            &chrome,
            &probe,
            &[
                "--window-size=1280,720".to_string(),
                "--dump-dom".to_string(),
            ],
        )
        .expect("dump-dom");
        let fit: Vec<u32> = dom
            .split("data-fit=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the probe ran")
            .split(' ')
            .map(|n| n.parse().expect("a number"))
            .collect();
        // Headless Chromium lays the page out 1280 wide; its innerHeight under --dump-dom is
        // less than the window's, so the bottom is held against the screenshot's 720.
        let (bottom, right, width) = (fit[0], fit[1], fit[3]);
        assert_eq!(width, 1280, "{lang}: window {fit:?}");
        assert!(
            bottom <= 720 && right <= width,
            "{lang}: the summary ends at {right}×{bottom}, beyond a 1280×720 window"
        );
        let png = artifacts().join(format!("summary-{lang}-1280x720.png"));
        std::fs::create_dir_all(artifacts()).expect("artifact dir");
        let _ = std::fs::remove_file(&png);
        browse(
            &chrome,
            &page,
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1280,720".to_string(),
            ],
        )
        .expect("screenshot");
        assert!(std::fs::metadata(&png).expect("screenshot").len() > 10_000);
    }
}
