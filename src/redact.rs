//! `--redact`: the one transform that takes the secret's bytes out of a result before it is
//! drawn, for reports that leave the room.
//!
//! It works on the result model (`model/`), not in the renderers, so every output drawn
//! from a redacted result — table, presenter, attack view, JSON, HTML, JUnit — is redacted by
//! construction, and a renderer added later cannot forget it. What it removes:
//! * in a hex view, every byte of a hit (the secret, or a fragment of it, in whichever
//!   encoding the scan matched): its value is dropped and the byte is drawn as redacted (see
//!   [`HexRow::is_redacted`]);
//! * a detector's preview (`4111 **** **** 1111`, `CONFIDUMP-3fa2…`), which quotes a few of
//!   the secret's bytes.
//!
//! Verdicts, counts, addresses, mappings and reasons are unchanged: they say *that* and
//! *where* the secret leaked, not what it is.

use crate::model::{Cell, Detection, HexRow, HexWindow, MatrixReport, ScanReport};

/// What a redacted detector preview says instead of the bytes.
pub const REDACTED_PREVIEW: &str = "(redacted)";

/// A result whose secret bytes can be taken out.
pub trait Redact {
    /// Removes the secret's bytes, keeping everything else.
    fn redact(&mut self);
}

impl Redact for HexRow {
    fn redact(&mut self) {
        for (b, hl) in self.bytes.iter_mut().zip(&self.highlight) {
            if *hl {
                *b = None;
            }
        }
    }
}

impl Redact for HexWindow {
    fn redact(&mut self) {
        self.rows.iter_mut().for_each(Redact::redact);
    }
}

impl Redact for Cell {
    fn redact(&mut self) {
        if let Some(v) = &mut self.view {
            v.redact();
        }
    }
}

impl Redact for MatrixReport {
    fn redact(&mut self) {
        self.cells.iter_mut().for_each(Redact::redact);
    }
}

impl Redact for Detection {
    fn redact(&mut self) {
        self.preview = REDACTED_PREVIEW.to_string();
    }
}

impl Redact for ScanReport {
    fn redact(&mut self) {
        // Public constants (GnuTLS's self-test keys) are the same on every install: kept.
        self.detections.iter_mut().for_each(Redact::redact);
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redact(&mut self) {
        if let Some(t) = self {
            t.redact();
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn highlighted_bytes_lose_their_value_and_nothing_else_changes() {
        let mut w = HexWindow {
            title: "[heap]".into(),
            rows: vec![HexRow {
                addr: 0x1000,
                bytes: vec![Some(b'a'), Some(b's'), Some(b'3'), None],
                highlight: vec![false, true, true, false],
                ..HexRow::default()
            }],
            ..HexWindow::default()
        };
        w.redact();
        let r = &w.rows[0];
        assert_eq!(r.bytes, vec![Some(b'a'), None, None, None]);
        assert!(!r.is_redacted(0) && r.is_redacted(1) && r.is_redacted(2));
        // An unreadable byte stays unreadable, not redacted.
        assert!(!r.is_redacted(3));
        assert_eq!(w.title, "[heap]");
    }
}
