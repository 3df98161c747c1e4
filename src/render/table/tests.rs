//! The table on hand-built cells (`render::matrix::tests::sample`): content, alignment, the
//! width it is given, the stacked layout, one kind of footnote marker, hidden columns.

use super::*;
use crate::model::Outcome;
use crate::render::matrix::tests::{cell, sample, strip_ansi};

/// Every line at most `width` wide; every line of the box the same width.
fn assert_fits(t: &str, width: usize) {
    for l in t.lines() {
        assert!(
            display_width(l) <= width,
            "line of {} columns at {width}: {l:?}\n{t}",
            display_width(l)
        );
    }
    let boxed: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with(['│', '┌', '├', '└']))
        .collect();
    if let Some(first) = boxed.first() {
        let w = display_width(first);
        for l in &boxed {
            assert_eq!(display_width(l), w, "misaligned line {l:?} in\n{t}");
        }
    }
}

#[test]
fn english_table_has_everything() {
    let t = render_table(&sample(Lang::En), false, 150);
    assert!(!t.contains('\x1b'), "{t}");
    for want in [
        "LEAK",
        "????",
        "absent",
        "n/a",
        "gdb is not installed",
        "needs SGX: this CPU has none",
        "stand-in for an enclave",
        "✗ expected LEAK",
        "fragments",
        "lesson: Ordinary memory",
        "1 mismatch (of 15 cells)",
        "plain: 1 card number, 1 canary in [heap] — dump, same-uid",
        "confidump writes a core dump",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    // The n/a reason appears once, as a footnote.
    assert_eq!(t.matches("gdb is not installed").count(), 1, "{t}");
    assert!(t.contains('┌'), "a box at 150 columns:\n{t}");
}

#[test]
fn fits_every_width_in_both_languages() {
    for lang in [Lang::En, Lang::Ja] {
        for w in [60, 80, 100, 120, 150] {
            let t = render_table(&sample(lang), false, w);
            assert_fits(&t, w);
        }
    }
    let ja = render_table(&sample(Lang::Ja), false, 150);
    for want in [
        "漏洩",
        "????",
        "除外",
        "実行不可",
        "実行不可 — needs SGX",
        "対象外",
        "教訓",
        "エンクレーブの代わり",
    ] {
        assert!(ja.contains(want), "missing {want:?} in\n{ja}");
    }
}

#[test]
fn narrow_screens_stack_the_rows() {
    let t = render_table(&sample(Lang::En), false, 60);
    assert!(!t.contains('┌'), "no box at 60 columns:\n{t}");
    assert_fits(&t, 60);
    let plain = t
        .lines()
        .position(|l| l.starts_with("plain — "))
        .unwrap_or_else(|| panic!("no block for plain:\n{t}"));
    let block: Vec<&str> = t.lines().skip(plain).take(6).collect();
    assert!(block[1].trim_start().starts_with("dump"), "{t}");
    assert!(
        block[1].contains("LEAK ✓") && block[1].contains("[heap]"),
        "{t}"
    );
    assert!(t.contains("✗ expected LEAK"), "{t}");
    assert!(t.contains("needs SGX: this CPU has none"), "{t}");
}

#[test]
fn footnote_markers_are_of_one_kind() {
    for w in [60, 150] {
        let t = render_table(&sample(Lang::En), false, w);
        assert!(t.contains('¹'), "{t}");
        for letter in ['ᵃ', 'ᵇ', 'ᶜ'] {
            assert!(!t.contains(letter), "{t}");
        }
    }
}

#[test]
fn columns_no_row_runs_are_named_not_drawn() {
    let mut r = sample(Lang::En);
    r.attacks.push(AttackKind::Qmp);
    for s in ["plain", "secretmem", "dontdump"] {
        let mut c = cell(s, "qmp", Outcome::NotApplicable, Outcome::NotApplicable, "");
        c.reason = "only for a victim inside a VM".into();
        r.cells.push(c);
    }
    let t = render_table(&r, false, 150);
    let header = t.lines().find(|l| l.contains("scenario")).unwrap_or("");
    assert!(!header.contains("qmp"), "{t}");
    assert_eq!(t.matches("only for a victim inside a VM").count(), 1, "{t}");
    assert!(t.contains("  qmp  only for a victim inside a VM"), "{t}");
}

#[test]
fn colour_only_when_asked() {
    let t = render_table(&sample(Lang::En), true, 150);
    assert!(t.contains("\x1b[1;31mLEAK\x1b[0m"), "{t}");
    assert!(t.contains("\x1b[1;32m????\x1b[0m"), "{t}");
    assert_eq!(strip_ansi(&t), render_table(&sample(Lang::En), false, 150));
    let t = render_table(&sample(Lang::En), true, 60);
    assert_eq!(strip_ansi(&t), render_table(&sample(Lang::En), false, 60));
}

#[test]
fn all_met_summary() {
    let mut r = sample(Lang::En);
    r.cells.retain(Cell::met);
    let t = render_table(&r, false, 120);
    assert!(
        t.contains(&format!("all {} cells as expected", r.cells.len())),
        "{t}"
    );
    assert!(!t.contains("✗ expected"));
}

#[test]
fn many_columns_stay_within_the_width() {
    let mut r = sample(Lang::En);
    // Ten columns: five of the paths twice over.
    r.attacks.extend(AttackKind::ALL.into_iter().take(5));
    for w in [80, 100, 120, 150] {
        assert_fits(&render_table(&r, false, w), w);
    }
}

#[test]
fn detections_are_named_by_kind_in_both_languages() {
    let en = render_table(&sample(Lang::En), false, 120);
    // One line per scenario: the most any path found of each kind, where, and by which paths.
    assert!(
        en.contains("plain: 1 card number, 1 canary in [heap] — dump, same-uid"),
        "{en}"
    );
    let ja = render_table(&sample(Lang::Ja), false, 120);
    assert!(ja.contains("カード番号 1 件、カナリア 1 件"), "{ja}");
}

#[test]
fn two_canaries_are_explained_once() {
    let mut r = sample(Lang::En);
    for c in r.cells.iter_mut().filter(|c| c.scenario == "plain") {
        c.detections = 2;
        c.detected = [(DetectorKind::Canary, 2)].into_iter().collect();
    }
    let t = render_table(&r, false, 100);
    assert!(
        t.contains("plain: 2 canaries in [heap], [stack], /usr/lib/x86_64-linux-gnu/libc…"),
        "{t}"
    );
    assert_eq!(t.matches("Why more than one canary:").count(), 1, "{t}");
}

#[test]
fn room_goes_to_a_split_word_first() {
    // A title word wider than the scenario column's minimum, and a width with a little room:
    // the word is whole, though the attack columns could have used the room too.
    let mut r = sample(Lang::En);
    r.scenarios[0].title = "Hygiene (MADVDONTDUMPLONGER)".into();
    let word = "(MADVDONTDUMPLONGER)";
    for width in [90, 100] {
        let t = render_table(&r, false, width);
        assert_fits(&t, width);
        assert!(t.contains(word), "{width}:\n{t}");
    }
}

/// Gives the sample's sgx row (which cannot run here) its cells, as the runner makes them: not
/// runnable, each with the row's reason. Returns that reason.
fn with_sgx_cells(r: &mut MatrixReport) -> String {
    let why = r.scenarios[3]
        .unavailable
        .clone()
        .expect("the sample's sgx row");
    for a in r.attacks.clone() {
        let mut c = cell(
            "sgx",
            a.as_str(),
            Outcome::Unreadable,
            Outcome::NotApplicable,
            "",
        );
        c.runnable = false;
        c.reason = why.clone();
        r.cells.push(c);
    }
    why
}

#[test]
fn a_row_that_cannot_run_says_why_once() {
    // Its cells carry the row's reason too (as the runner makes them): no footnote repeats it,
    // and the hidden columns' list does not take it up.
    let mut r = sample(Lang::En);
    let why = with_sgx_cells(&mut r);
    for width in [80, 150] {
        let t = render_table(&r, false, width);
        let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(flat.matches(why.as_str()).count(), 1, "{width}:\n{t}");
    }
}

#[test]
fn a_required_row_that_cannot_run_is_a_failure_in_the_table() {
    let mut r = sample(Lang::En);
    with_sgx_cells(&mut r);
    for width in [60, 150] {
        let t = render_table(&r, false, width);
        assert!(!t.contains("✗ required"), "not required: {width}:\n{t}");
    }
    for c in r.cells.iter_mut().filter(|c| c.scenario == "sgx") {
        c.required = true;
    }
    // The grid and the stacked layout (a narrow screen) both say it.
    for width in [60, 150] {
        let t = render_table(&r, false, width);
        assert!(
            t.contains("✗ required, but it cannot run here"),
            "{width}:\n{t}"
        );
    }
}
