//! Presenter mode (`confidump demo --present`): one scenario at a time, for a room.
//!
//! Each scenario is three beats: (a) a large banner saying what the victim holds, then Enter;
//! (b) "the attacker runs:" and the real attacks run (progress on stderr when it is a terminal),
//! with the commands listed whole; (c) the hex view of the most telling cell cut to four rows,
//! the lesson, and last one big verdict tile per attack path, then Enter. `q` + Enter stops
//! early. The verdicts come last so that on a small screen (80×24) they are what is on it when
//! the prompt appears; every line fits the screen's width (see [`PresentOptions`]).
//!
//! End of input (stdin closed, as in CI) means "continue": the demo then runs straight
//! through, so the same command works unattended and still returns the full report.
//! Little text per screen, box-drawn banners, wide tiles: it has to read from the back row.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use super::hexview::{self, render_window};
use super::matrix::{
    cell_word, mismatch_note, outcome_style, outcome_word, stand_in_label, unavailable_word,
};
use super::progress::Progress;
use super::style::{paint, BOLD, DIM, RED_BOLD};
use super::wrap::{display_width, hang, truncate, wrap};
use crate::i18n::{sep, t, Lang};
use crate::model::{Cell, HexWindow, HostInfo, MatrixReport, Outcome, ScenarioInfo};

/// Width of banners: wide enough to fill a projector at a large font, narrow enough not to
/// wrap on an 80-column laptop terminal mirrored to it (narrower on a narrower screen).
const BANNER: usize = 76;
/// At most this many hex rows on one screen: a wall of hex loses the room.
const MAX_HEX_ROWS: usize = 4;
const TILE: usize = 14;

/// How presenter mode draws: decided by the caller from what `out` and stderr are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentOptions {
    /// ANSI colours.
    pub color: bool,
    /// Clear the screen between scenarios (only when `out` is a terminal).
    pub clear: bool,
    /// Show a progress line on stderr for slow steps.
    pub progress: bool,
    /// Columns of the screen: no line is wider.
    pub width: usize,
}

impl PresentOptions {
    /// The choices for `out` being a terminal with colour allowed (`color`): colour, clearing
    /// the screen, and the progress line when stderr is a terminal too.
    pub fn for_terminal(color: bool) -> Self {
        Self {
            color,
            clear: color,
            progress: color && std::io::stderr().is_terminal(),
            width: super::term::width(),
        }
    }
}

/// What the user answered at a pause.
#[derive(PartialEq)]
enum Answer {
    Continue,
    Quit,
}

/// Runs scenario `i` (of the list given to [`run`]) and tells each step: the runner's
/// `run_scenario` in production, canned cells in tests.
pub type Engine<'a> = dyn FnMut(usize, &mut dyn FnMut(&str)) -> Vec<Cell> + 'a;

/// Presents `scenarios` one at a time, narrating in `lang`, waiting for Enter on `input`
/// between steps; `engine` runs each. Returns the report of everything that ran (`None` only
/// when nothing ran).
pub fn run(
    scenarios: &[ScenarioInfo],
    lang: Lang,
    host: HostInfo,
    opts: PresentOptions,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    engine: &mut Engine<'_>,
) -> std::io::Result<Option<MatrixReport>> {
    let started = Instant::now();
    let mut infos: Vec<ScenarioInfo> = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut eof = false;
    let mut quit = false;
    for (i, s) in scenarios.iter().enumerate() {
        if opts.clear {
            out.write_all(b"\x1b[2J\x1b[H")?;
        }
        // (a) What the victim holds.
        out.write_all(title_screen(s, lang, i + 1, scenarios.len(), opts).as_bytes())?;
        if pause(input, out, lang, opts.color, &mut eof)? == Answer::Quit {
            quit = true;
            break;
        }
        // (b) The attack, for real. A row that cannot run here has no attacker to show; the
        // engine is still asked, so the report holds its n/a cells.
        if s.unavailable.is_none() {
            writeln!(
                out,
                "\n{}",
                paint(t(lang, "present.attacker-runs"), BOLD, opts.color)
            )?;
            out.flush()?;
        }
        let mut progress = Progress::new(opts.progress);
        progress.step(&format!("{} {}", t(lang, "present.running"), s.name));
        let row = engine(i, &mut |msg| progress.step(msg));
        progress.finish();
        out.write_all(commands(&row, opts).as_bytes())?;
        // (c) What the attacker sees.
        out.write_all(verdict_screen(s, &row, lang, opts).as_bytes())?;
        infos.push(s.clone());
        cells.extend(row);
        if pause(input, out, lang, opts.color, &mut eof)? == Answer::Quit {
            quit = true;
            break;
        }
    }
    if infos.is_empty() {
        return Ok(None);
    }
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let report = MatrixReport::new(host, lang, infos, cells, millis);
    // The last screen: the whole run on one screen, ending with the verdict.
    if opts.clear {
        out.write_all(b"\x1b[2J\x1b[H")?;
    } else {
        writeln!(out)?;
    }
    let end = t(lang, if quit { "present.quit" } else { "present.done" });
    writeln!(out, "{}", paint(end, BOLD, opts.color))?;
    out.write_all(super::summary::render_summary(&report, opts.color, opts.width).as_bytes())?;
    out.flush()?;
    Ok(Some(report))
}

/// Waits for Enter; `q` quits. End of input continues, and is remembered so the prompt is not
/// drawn again for nobody.
fn pause(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    lang: Lang,
    color: bool,
    eof: &mut bool,
) -> std::io::Result<Answer> {
    if *eof {
        return Ok(Answer::Continue);
    }
    write!(out, "\n{} ", paint(t(lang, "present.enter"), DIM, color))?;
    out.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        *eof = true;
        writeln!(out)?;
        return Ok(Answer::Continue);
    }
    Ok(match line.trim() {
        "q" | "Q" | "ｑ" => Answer::Quit,
        _ => Answer::Continue,
    })
}

/// Width of a banner on a screen `width` wide.
fn banner_width(width: usize) -> usize {
    BANNER.min(width).max(20)
}

/// A double-line box around `lines`, [`banner_width`] wide.
fn banner(lines: &[(String, &'static str)], opts: PresentOptions) -> String {
    let (color, bw) = (opts.color, banner_width(opts.width));
    let inner = bw - 4;
    let mut out = format!("╔{}╗\n", "═".repeat(bw - 2));
    for (l, style) in lines {
        for part in wrap(l, inner) {
            let pad = " ".repeat(inner.saturating_sub(display_width(&part)));
            out.push_str(&format!("║ {}{pad} ║\n", paint(&part, style, color)));
        }
    }
    out.push_str(&format!("╚{}╝\n", "═".repeat(bw - 2)));
    out
}

fn title_screen(s: &ScenarioInfo, lang: Lang, n: usize, of: usize, opts: PresentOptions) -> String {
    let mut lines = vec![
        (format!("{n}/{of}  {}", s.name), DIM),
        (String::new(), ""),
        (s.title.get(lang).to_uppercase_if_latin(), BOLD),
        (String::new(), ""),
    ];
    let holds = s.holds.get(lang);
    if !holds.is_empty() {
        lines.push((
            format!("{}{}{holds}", t(lang, "present.holds"), sep(lang)),
            "",
        ));
    }
    if let Some(what) = &s.stand_in_for {
        lines.push((format!("— {}", stand_in_label(lang, what)), DIM));
    }
    if let Some(why) = &s.unavailable {
        lines.push((format!("{} — {why}", unavailable_word(lang)), DIM));
    }
    format!("\n{}", banner(&lines, opts))
}

/// Upper case makes an English title read like a slide heading; Japanese has no case.
trait UpperLatin {
    fn to_uppercase_if_latin(&self) -> String;
}

impl UpperLatin for str {
    fn to_uppercase_if_latin(&self) -> String {
        if self.is_ascii() {
            self.to_uppercase()
        } else {
            self.to_string()
        }
    }
}

/// `$ command` lines, one per distinct command, each shown whole (wrapped, never cut: the room
/// should be able to type it).
fn commands(row: &[Cell], opts: PresentOptions) -> String {
    let color = opts.color;
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::new();
    for c in row {
        let cmd = c.command.trim();
        if cmd.is_empty() || seen.contains(&cmd) {
            continue;
        }
        seen.push(cmd);
        for (i, l) in hang("  $ ", cmd, opts.width).into_iter().enumerate() {
            let (lead, text) = l.split_at(4.min(l.len()));
            let lead = if i == 0 {
                format!("  {} ", paint("$", DIM, color))
            } else {
                lead.to_string()
            };
            out.push_str(&format!("{lead}{}\n", paint(text, BOLD, color)));
        }
    }
    out
}

/// One tile per attack path, side by side (as many to a band as the width holds):
///
/// ```text
///     dump          gcore
/// ┏━━━━━━━━━━━━┓ ┏━━━━━━━━━━━━┓
/// ┃    LEAK    ┃ ┃    ????    ┃
/// ┗━━━━━━━━━━━━┛ ┗━━━━━━━━━━━━┛
///    [heap]       ✗ expected LEAK
/// ```
fn tiles(row: &[Cell], row_unavailable: bool, lang: Lang, opts: PresentOptions) -> String {
    let color = opts.color;
    let per_band = ((opts.width + 1) / (TILE + 3)).clamp(1, 5);
    let mut out = String::new();
    let centre = |s: &str, w: usize| {
        let s = truncate(s, w);
        let room = w.saturating_sub(display_width(&s));
        (" ".repeat(room / 2), s, " ".repeat(room - room / 2))
    };
    for band in row.chunks(per_band) {
        let mut lines: [String; 8] = Default::default();
        for c in band {
            let (l, s, r) = centre(c.attack.as_str(), TILE + 2);
            lines[0].push_str(&format!("{l}{}{r} ", paint(&s, BOLD, color)));
            lines[1].push_str(&format!("┏{}┓ ", "━".repeat(TILE)));
            let (l, s, r) = centre(cell_word(lang, c, row_unavailable), TILE);
            lines[2].push_str(&format!(
                "┃{l}{}{r}┃ ",
                paint(&s, outcome_style(c.observed), color)
            ));
            lines[3].push_str(&format!("┗{}┛ ", "━".repeat(TILE)));
            // Under the tile: where (two lines at most), fragments, the mismatch.
            let mut under: Vec<(String, &'static str)> = Vec::new();
            if matches!(
                c.observed,
                Outcome::Leak | Outcome::Unreadable | Outcome::Absent
            ) {
                let mut w = wrap(&c.where_, TILE + 2);
                if w.len() > 2 {
                    let rest = w[1..].join(" ");
                    w.truncate(1);
                    w.push(truncate(&rest, TILE + 2));
                }
                under.extend(w.into_iter().map(|l| (l, DIM)));
            }
            if c.fragments_only && c.observed == Outcome::Leak {
                under.push((t(lang, "fragments").to_string(), DIM));
            }
            if !c.met() {
                under.extend(
                    wrap(&mismatch_note(lang, c), TILE + 2)
                        .into_iter()
                        .map(|l| (l, RED_BOLD)),
                );
            }
            for (k, slot) in lines.iter_mut().skip(4).enumerate() {
                let (text, style) = under.get(k).cloned().unwrap_or_default();
                let (l, s, r) = centre(&text, TILE + 2);
                slot.push_str(&format!("{l}{}{r} ", paint(&s, style, color)));
            }
        }
        for l in lines {
            let l = l.trim_end();
            if !l.is_empty() {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

/// The cell whose bytes tell the story best: a leak (the secret in plain sight), else a
/// refused read (the `????`), else any cell that captured something.
fn telling(row: &[Cell]) -> Option<&Cell> {
    let with_view = |o: Option<Outcome>| {
        row.iter()
            .find(|c| c.view.is_some() && o.map_or(true, |o| c.observed == o))
    };
    with_view(Some(Outcome::Leak))
        .or_else(|| with_view(Some(Outcome::Unreadable)))
        .or_else(|| with_view(None))
}

/// At most [`MAX_HEX_ROWS`] rows of `w`, centred on the first highlighted row.
fn short_window(w: &HexWindow) -> HexWindow {
    let first_hl = w
        .rows
        .iter()
        .position(|r| r.highlight.iter().any(|&h| h))
        .unwrap_or(0);
    let start = first_hl
        .saturating_sub(1)
        .min(w.rows.len().saturating_sub(MAX_HEX_ROWS));
    HexWindow {
        title: w.title.clone(),
        span: w.span,
        rows: w
            .rows
            .iter()
            .skip(start)
            .take(MAX_HEX_ROWS)
            .cloned()
            .collect(),
    }
}

/// The end of a scenario: the bytes of the most telling cell, the full reasons of n/a cells and
/// errors, the lesson, and last the verdict tiles, so they are on screen when the prompt is.
fn verdict_screen(s: &ScenarioInfo, row: &[Cell], lang: Lang, opts: PresentOptions) -> String {
    let (color, width) = (opts.color, opts.width);
    let mut out = String::new();
    if let Some(c) = telling(row) {
        if let Some(w) = &c.view {
            let w = short_window(w);
            let head = t(lang, "present.view");
            let title = format!(
                "{head} {} · {}  {}",
                c.attack,
                w.title,
                outcome_word(lang, c.observed)
            );
            out.push('\n');
            for (i, l) in wrap(&title, width).into_iter().enumerate() {
                let l = if i == 0 {
                    l.replacen(head, &paint(head, BOLD, color), 1)
                } else {
                    l
                };
                out.push_str(&format!("{l}\n"));
            }
            out.push_str(&render_window(&w, color));
            for (glyph, text) in hexview::legend(&w, lang) {
                for l in hang(&format!("  {glyph}  "), text, width) {
                    out.push_str(&format!("{}\n", paint(&l, DIM, color)));
                }
            }
        }
    }
    // Tiles have room for a few words; the full reasons of n/a and errors go here.
    if s.unavailable.is_none() {
        let mut first = true;
        for c in row {
            if matches!(c.observed, Outcome::NotApplicable | Outcome::Error) && !c.reason.is_empty()
            {
                let head = format!(
                    "  {} — {}{}",
                    c.attack,
                    cell_word(lang, c, false),
                    sep(lang)
                );
                if std::mem::take(&mut first) {
                    out.push('\n');
                }
                for l in hang(&head, &c.reason, width) {
                    out.push_str(&format!("{}\n", paint(&l, DIM, color)));
                }
            }
        }
    }
    let lesson = s.lesson.get(lang);
    if !lesson.is_empty() {
        out.push('\n');
        out.push_str(&banner(
            &[(
                format!("{}{}{lesson}", t(lang, "lesson"), crate::i18n::sep(lang)),
                BOLD,
            )],
            opts,
        ));
    }
    if row.is_empty() || s.unavailable.is_some() {
        // An unavailable row said why on its title screen already; say it once.
        if s.unavailable.is_none() {
            out.push_str(&format!(
                "\n  {}\n",
                paint(t(lang, "present.no-result"), DIM, color)
            ));
        }
    } else {
        out.push_str(&format!(
            "\n{}\n",
            paint(t(lang, "present.sees"), BOLD, color)
        ));
        // Paths that say nothing about this row (n/a as expected: qmp for a process, same-uid
        // for a root victim, a path this host cannot run) get no tile, only a line above: a
        // room should look at what was attacked. A required path that could not run is a
        // failure and keeps its tile.
        let by_design = |c: &Cell| c.observed == Outcome::NotApplicable && c.met();
        let shown: Vec<Cell> = row.iter().filter(|c| !by_design(c)).cloned().collect();
        out.push_str(&tiles(
            if shown.is_empty() { row } else { &shown },
            s.unavailable.is_some(),
            lang,
            opts,
        ));
    }
    out
}

/// `demo --present`: the planned rows presented on this terminal (stdin, stdout), each run by
/// the runner when its turn comes, its cells redacted when `redact`.
pub fn run_demo(
    planned: &crate::runner::demo::Planned,
    lang: Lang,
    redact: bool,
    color: bool,
) -> std::io::Result<Option<MatrixReport>> {
    use crate::runner::demo;
    let (scenarios, env) = (&planned.scenarios, &planned.env);
    let infos: Vec<_> = scenarios.iter().map(|s| s.info.clone()).collect();
    let mut engine =
        |i: usize, step: &mut dyn FnMut(&str)| demo::run_one(scenarios, env, i, redact, step);
    let mut input = std::io::stdin().lock();
    let opts = PresentOptions::for_terminal(color);
    let host = demo::host_info(env);
    run(
        &infos,
        lang,
        host,
        opts,
        &mut input,
        &mut std::io::stdout(),
        &mut engine,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::matrix::tests::{sample, strip_ansi};

    fn present(lang: Lang, input: &str, color: bool) -> (String, Option<MatrixReport>) {
        let r = sample(lang);
        let sc = r.scenarios.clone();
        let mut out = Vec::new();
        let mut engine = |i: usize, step: &mut dyn FnMut(&str)| {
            step("attacking");
            r.cells
                .iter()
                .filter(|c| sc.get(i).is_some_and(|s| c.scenario == s.name))
                .cloned()
                .collect()
        };
        let opts = PresentOptions {
            color,
            clear: color,
            progress: false,
            width: 80,
        };
        let got = run(
            &sc,
            lang,
            HostInfo::default(),
            opts,
            &mut input.as_bytes(),
            &mut out,
            &mut engine,
        );
        let report = got.ok().flatten();
        (String::from_utf8_lossy(&out).into_owned(), report)
    }

    #[test]
    fn runs_through_on_closed_input() {
        let (out, report) = present(Lang::En, "", false);
        assert!(!out.contains('\x1b'), "{out}");
        let report = report.expect("a report");
        assert_eq!(report.scenarios.len(), 4);
        assert_eq!(report.cells.len(), 15);
        assert_eq!(report.mismatches, 1);
        for want in [
            "SECRET IN ORDINARY HEAP MEMORY",
            "The victim holds: a card number",
            "The attacker runs:",
            "$ confidump attack --path dump --pid 4242",
            "LEAK",
            "????",
            "✗ expected LEAK",
            "stand-in for an enclave",
            "lesson: The kernel refuses",
            "needs SGX: this CPU has none",
            "?? ??  ????????????????",
            "1 mismatch (of 15 cells)",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        // Only the prompt before EOF was seen; later pauses do not redraw it.
        assert_eq!(out.matches("Enter ▸ continue").count(), 1, "{out}");
    }

    #[test]
    fn q_quits_early_with_what_ran() {
        let (out, report) = present(Lang::En, "\nq\n", false);
        let report = report.expect("a report");
        assert_eq!(report.scenarios.len(), 1);
        assert!(out.contains("Stopped early."), "{out}");
        assert!(!out.contains("SECRET IN MEMFD_SECRET"), "{out}");
    }

    #[test]
    fn quit_before_anything_ran() {
        let (_, report) = present(Lang::En, "q\n", false);
        assert!(report.is_none());
    }

    #[test]
    fn japanese_and_aligned_banners() {
        let (out, _) = present(Lang::Ja, "\n\n\n\n\n\n\n\n", true);
        let plain = strip_ansi(&out);
        for want in [
            "標的プロセスが持っているもの：ヒープ上",
            "漏洩",
            "教訓",
            "エンクレーブの代わり",
            "✗ 期待値：漏洩",
            // gdb missing: the path applies but cannot run here; a whole row that cannot run.
            "実行不可",
            "実行不可 — needs SGX",
        ] {
            assert!(plain.contains(want), "missing {want:?} in\n{plain}");
        }
        assert!(
            out.contains("\x1b[2J"),
            "clears between scenarios on a terminal"
        );
        for l in plain.lines().filter(|l| l.starts_with(['║', '╔', '╚'])) {
            assert_eq!(display_width(l), BANNER, "misaligned {l:?}");
        }
        // Without colour (no escapes to strip), every line fits the 80 columns it was given.
        let (plain, _) = present(Lang::Ja, &"\n".repeat(8), false);
        for l in plain.lines() {
            assert!(display_width(l) <= 80, "wider than 80: {l:?}");
        }
    }

    #[test]
    fn hex_view_is_short() {
        let mut w = HexWindow {
            title: "t".into(),
            ..Default::default()
        };
        for i in 0..10u64 {
            w.rows.push(crate::model::HexRow {
                addr: i * 16,
                bytes: vec![Some(0); 16],
                highlight: vec![i == 6; 16],
                ..Default::default()
            });
        }
        let s = short_window(&w);
        assert_eq!(s.rows.len(), MAX_HEX_ROWS);
        assert_eq!(s.rows[0].addr, 5 * 16);
    }
}
