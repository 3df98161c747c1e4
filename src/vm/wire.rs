//! What a guest sent out on its console's `wire` lines, as the host received it ([`WireTap`]).

use std::sync::{Arc, Mutex};

/// The bytes a guest sent out on a channel the host reads (its console's `wire` lines), as QEMU
/// delivered them: shared between the console reader and the attack, bounded, zeroized when the
/// last holder drops them, and never printed (`Debug` shows only the length).
#[derive(Clone, Default)]
pub struct WireTap(Arc<Mutex<zeroize::Zeroizing<Vec<u8>>>>);

/// The most a [`WireTap`] keeps; later bytes are dropped.
const WIRE_MAX: usize = 64 * 1024;

impl WireTap {
    pub(super) fn append(&self, line: &[u8]) {
        if let Ok(mut w) = self.0.lock() {
            let room = WIRE_MAX.saturating_sub(w.len());
            w.extend_from_slice(line.get(..room.min(line.len())).unwrap_or(&[]));
            if w.len() < WIRE_MAX {
                w.push(b'\n');
            }
        }
    }

    /// A copy of what was captured.
    pub fn bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        self.0
            .lock()
            .map(|w| zeroize::Zeroizing::new(w.to_vec()))
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for WireTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.0.lock().map(|w| w.len()).unwrap_or(0);
        write!(f, "WireTap({len} bytes)")
    }
}
