//! The demo in front of a room: every built-in row on one screen, every reason said once.
//!
//! From a recorded run of all built-in rows on this kind of host (`tests/golden/demo-all*.json`,
//! six rows n/a for want of SGX, SEV-SNP, TDX and a SQL enclave), drawn without victims: the
//! default view fits its line budget at 100 columns, no line is wider than the screen, no
//! footnote says the same text twice, no hidden column borrows a row's reason. Then on real
//! screens, in tmux: the summary at 80×24, and presenter mode with real victims at 80×24 and
//! 120×40, each screen whole and unwrapped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use confidump::model::MatrixReport;
use confidump::render::summary::{render, View};
use confidump::render::wrap::display_width;

fn golden(lang: &str) -> MatrixReport {
    let name = match lang {
        "ja" => "demo-all-ja.json",
        _ => "demo-all.json",
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The names of the rows that run on the recorded host, and of those that cannot.
fn rows(r: &MatrixReport) -> (Vec<String>, Vec<String>) {
    let (runs, not): (Vec<_>, Vec<_>) = r.scenarios.iter().partition(|s| s.unavailable.is_none());
    let names =
        |v: Vec<&confidump::model::ScenarioInfo>| v.iter().map(|s| s.name.clone()).collect();
    (names(runs), names(not))
}

fn fits(text: &str, width: usize, what: &str) {
    for l in text.lines() {
        let w = display_width(l);
        assert!(
            w <= width,
            "{what}: a line of {w} > {width} columns: {l:?}\n{text}"
        );
    }
}

#[test]
fn the_recording_has_every_built_in_row() {
    let r = golden("en");
    let builtin = confidump::scenario::builtin().unwrap();
    assert_eq!(
        r.scenarios.len(),
        builtin.len(),
        "re-record tests/golden/demo-all*.json"
    );
    let (_, not) = rows(&r);
    assert!(not.contains(&"sgx".to_string()), "{not:?}");
}

/// Default view at 100 columns: at most 120 lines; every view fits 80 and 100 columns, in
/// both languages.
#[test]
fn default_view_fits_its_budget_and_every_view_its_width() {
    for lang in ["en", "ja"] {
        let r = golden(lang);
        for width in [80, 100] {
            for view in [View::Summary, View::Overview, View::Details] {
                let text = render(&r, view, false, width);
                fits(&text, width, &format!("{lang} {view:?} at {width}"));
            }
        }
        let overview = render(&r, View::Overview, false, 100);
        let n = overview.lines().count();
        assert!(
            n <= 120,
            "{lang}: the default view is {n} lines at 100 columns\n{overview}"
        );
        // It ends with the summary, and the summary with the verdict.
        let summary = render(&r, View::Summary, false, 100);
        assert!(overview.ends_with(&summary), "{overview}");
    }
}

/// The summary at 80 columns: a head, a line per running row (its name in full), the rows that
/// cannot run here in one sentence that names each, a one-line legend and the verdict: 23
/// lines at most, so that on an 80×24 screen the prompt after it leaves it whole.
#[test]
fn summary_holds_every_row_in_23_lines_at_80_columns() {
    for lang in ["en", "ja"] {
        let r = golden(lang);
        let text = render(&r, View::Summary, false, 80);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 23, "{lang}: {} lines\n{text}", lines.len());
        let (runs, not) = rows(&r);
        for (i, name) in runs.iter().enumerate() {
            let line = lines[i + 1];
            assert!(
                line.starts_with(&format!("{name} ")),
                "{lang}: row {name} is not line {}: {line:?}\n{text}",
                i + 1
            );
        }
        let rest = lines[runs.len() + 1..].join(" ");
        for name in &not {
            assert!(
                rest.contains(name.as_str()),
                "{lang}: {name} not named\n{text}"
            );
        }
        // Said in a word, not the prerequisite list doctor gives.
        assert!(!text.contains("CPU flag"), "{text}");
        assert!(
            lines.last().unwrap().contains(&r.cells.len().to_string()),
            "{lang}: the verdict is not last\n{text}"
        );
    }
}

/// `--details` says each footnote text once, lists no path that cannot apply to a row in
/// that row, and gives each hidden column its own reason only.
#[test]
fn details_say_every_reason_once() {
    for lang in ["en", "ja"] {
        let r = golden(lang);
        let text = render(&r, View::Details, false, 100);
        let marks = ['¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹', '['];
        let mut seen: Vec<String> = Vec::new();
        for l in text.lines() {
            let t = l.trim_start();
            if t.starts_with(marks) {
                let body = t.split_once(' ').map_or(t, |x| x.1).to_string();
                assert!(
                    !seen.contains(&body),
                    "{lang}: footnote said twice: {body}\n{text}"
                );
                seen.push(body);
            }
        }
        // A process row lists only the paths that apply to a process.
        let plain = text
            .split("\n\n")
            .find(|b| b.starts_with("plain "))
            .expect("the plain block");
        for path in ["qmp", "wire", "disk", "client", "checkpoint"] {
            assert!(
                !plain.lines().any(|l| l.trim_start().starts_with(path)),
                "{lang}: plain lists {path}:\n{plain}"
            );
        }
        // No row's reason (the SGX prerequisites) is glued to a column's.
        let hidden_head = match lang {
            "ja" => "表示していない列",
            _ => "Columns not shown",
        };
        if let Some(at) = text.find(hidden_head) {
            let block: String = text[at..].lines().take(8).collect::<Vec<_>>().join("\n");
            assert!(!block.contains("SGX"), "{lang}: {block}");
        }
    }
}

/// A tmux server of its own, one window of `width`×`height` running `cmd`; gone when dropped.
struct Screen {
    socket: String,
}

impl Screen {
    fn start(width: usize, height: usize, cmd: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A server per screen: tests run at once, and each kills its own when done.
        let socket = format!("confidump-test-{}-{n}", std::process::id());
        // The command's end is marked on the last line, where a shell's prompt would be, and
        // the pane stays for reading.
        let script =
            format!("env -u COLUMNS -u LINES LANG=C.UTF-8 {cmd}; printf __END__; sleep 600");
        let ok = Command::new("tmux")
            .args(["-u", "-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(script)
            .status()
            .expect("tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        Self { socket }
    }

    /// The visible screen, wrapped lines joined (so that a wrapped line shows as too wide).
    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn enter(&self) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "Enter"])
            .status()
            .expect("tmux send-keys")
            .success();
        assert!(ok);
    }

    /// Waits until the screen's last non-empty line satisfies `done`; the screen.
    fn wait_for(&self, done: impl Fn(&str) -> bool, what: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            let last = screen.lines().rev().find(|l| !l.trim().is_empty());
            if last.is_some_and(&done) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "no {what} after 240 s; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The visible lines above the marker the command's end printed.
fn above_end(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let end = lines
        .iter()
        .rposition(|l| l.trim() == "__END__")
        .expect("the end marker");
    lines[..end]
        .iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// `demo --summary` and the default view, on an 80×24 terminal: when the prompt comes back, the
/// screen holds every running row, the rows that cannot run, and the verdict, none wrapped.
#[test]
fn the_last_screen_at_80_by_24_holds_the_whole_summary() {
    if !common::require(common::Need::Tmux) {
        return;
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (file, extra) in [
        ("demo-all.json", "--summary"),
        ("demo-all.json", ""),
        ("demo-all-ja.json", ""),
    ] {
        let r: MatrixReport =
            serde_json::from_str(&std::fs::read_to_string(golden.join(file)).unwrap()).unwrap();
        let cmd = format!(
            "{} demo --from {} {extra}",
            common::bin(),
            golden.join(file).display()
        );
        let screen = Screen::start(80, 24, &cmd);
        let shown = screen.wait_for(|l| l.trim() == "__END__", "end of the demo");
        fits(&shown, 80, &format!("{file} {extra}"));
        let lines = above_end(&shown);
        let (runs, not) = rows(&r);
        for name in &runs {
            assert!(
                lines.iter().any(|l| l.starts_with(&format!("{name} "))),
                "{file} {extra}: row {name} not on the last screen:\n{shown}"
            );
        }
        let head = if file.contains("ja") {
            "シナリオ"
        } else {
            "scenario"
        };
        assert!(
            lines.iter().any(|l| l.starts_with(head)),
            "{file} {extra}: the summary's head scrolled away:\n{shown}"
        );
        let all = lines.join(" ");
        for name in &not {
            assert!(
                all.contains(name.as_str()),
                "{name} not on the last screen:\n{shown}"
            );
        }
        assert!(
            lines
                .last()
                .is_some_and(|l| l.contains(&r.cells.len().to_string())),
            "{file} {extra}: the verdict is not on the last line:\n{shown}"
        );
    }
}

/// Presenter mode with real victims on an 80×24 and a 120×40 terminal, Enter at every pause:
/// every screen fits (no line wrapped), and the last one is the summary with the verdict.
#[test]
fn presenter_screens_fit_80_by_24_and_120_by_40() {
    if !common::require(common::Need::Tmux) || !common::require(common::Need::Root) {
        return;
    }
    for (w, h) in [(80, 24), (120, 40)] {
        let cmd = format!(
            "{} demo --present --lang en --scenario plain --scenario secretmem --scenario sgx",
            common::bin()
        );
        let screen = Screen::start(w, h, &cmd);
        let mut prompts = 0;
        loop {
            let shown = screen.wait_for(
                |l| l.trim() == "__END__" || l.contains("Enter ▸ continue"),
                "prompt",
            );
            fits(&shown, w, &format!("{w}x{h} screen {prompts}"));
            if shown.lines().any(|l| l.trim() == "__END__") {
                let lines = above_end(&shown);
                for name in ["plain", "secretmem"] {
                    assert!(
                        lines.iter().any(|l| l.starts_with(&format!("{name} "))),
                        "{w}x{h}: {name} not in the last screen:\n{shown}"
                    );
                }
                assert!(lines.iter().any(|l| l.contains("sgx")), "{shown}");
                assert!(
                    lines
                        .last()
                        .is_some_and(|l| l.contains("cells as expected")),
                    "{w}x{h}: the verdict is not last:\n{shown}"
                );
                break;
            }
            prompts += 1;
            assert!(prompts < 20, "too many prompts:\n{shown}");
            screen.enter();
            // The screen changes (Enter's echo, the next screen) before the next prompt counts.
            let start = Instant::now();
            while screen.capture() == shown && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        assert!(prompts >= 4, "{w}x{h}: {prompts} prompts");
    }
}
