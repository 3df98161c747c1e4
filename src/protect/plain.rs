//! The unprotected baseline: the secret on the ordinary heap, processed on the ordinary stack.

use zeroize::Zeroizing;

use super::{StoreParts, SCRATCH_LEN, SLOT_LEN};
use crate::model::Span;

/// Slot and scratch as zeroizing heap buffers; no work stack.
pub struct PlainStore {
    slot: Zeroizing<Vec<u8>>,
    scratch: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PlainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes.
        f.debug_struct("PlainStore")
            .field("region", &self.region())
            .finish_non_exhaustive()
    }
}

impl Default for PlainStore {
    fn default() -> Self {
        Self::new()
    }
}

impl PlainStore {
    /// Zeroed heap buffers. Allocated at full size once so they never reallocate (a
    /// reallocation would leave an unzeroized copy behind).
    pub fn new() -> Self {
        Self {
            slot: Zeroizing::new(vec![0; SLOT_LEN]),
            scratch: Zeroizing::new(vec![0; SCRATCH_LEN]),
        }
    }

    /// The slot's allocation.
    pub fn region(&self) -> Span {
        let start = self.slot.as_ptr() as u64;
        Span::new(start, start.saturating_add(self.slot.len() as u64))
    }

    /// Slot and scratch; no work stack (processing runs on the caller's stack).
    pub fn parts(&mut self) -> StoreParts<'_> {
        StoreParts {
            slot: &mut self.slot[..],
            scratch: &mut self.scratch[..],
            stack: None,
        }
    }
}
