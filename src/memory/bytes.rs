//! Bytes the attacker captured off a channel (a guest's serial console), as a [`MemorySource`]
//! with one named region at address 0: the scanner and the classifier then treat a wire tap
//! like any other memory.

use zeroize::Zeroizing;

use super::{MemorySource, ReadError, RegionKind, SourceRegion};
use crate::model::Span;

/// Captured bytes, zeroized when dropped (they may hold the secret).
pub struct BytesSource {
    what: String,
    bytes: Zeroizing<Vec<u8>>,
    regions: Vec<SourceRegion>,
}

impl BytesSource {
    /// `bytes`, described as `what` (`the guest's serial console, as QEMU delivered it`), in
    /// one region named `region` (`[serial console]`).
    pub fn new(what: &str, region: &str, bytes: Zeroizing<Vec<u8>>) -> Self {
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let regions = if len == 0 {
            Vec::new()
        } else {
            vec![SourceRegion {
                span: Span::new(0, len),
                name: region.to_string(),
                kind: RegionKind::Readable,
                offset: Some(0),
            }]
        };
        Self {
            what: what.to_string(),
            bytes,
            regions,
        }
    }
}

impl MemorySource for BytesSource {
    fn describe(&self) -> String {
        format!("{} ({} bytes)", self.what, self.bytes.len())
    }

    fn regions(&self) -> &[SourceRegion] {
        &self.regions
    }

    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let out_of_range = || ReadError {
            errno: None,
            reason: "beyond the captured bytes".to_string(),
        };
        let start = usize::try_from(addr).map_err(|_| out_of_range())?;
        let end = start.checked_add(buf.len()).ok_or_else(out_of_range)?;
        let src = self.bytes.get(start..end).ok_or_else(out_of_range)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{scan_source, Needles};
    use crate::secret::Secret;

    #[test]
    fn a_secret_on_the_wire_is_found_at_its_offset() {
        let mut wire = b"[    0.5] booting\n@confidump-guest@ wire ".to_vec();
        let at = wire.len() as u64;
        wire.extend_from_slice(b"CONFIDUMP-00112233445566778899aabb\n");
        let src = BytesSource::new("test wire", "[serial console]", Zeroizing::new(wire));
        let mut n = Needles::new();
        n.add_bytes(Secret::new(b"CONFIDUMP-00112233445566778899aabb".to_vec()));
        let r = scan_source(&src, &n).unwrap();
        assert_eq!(r.hits.first().map(|h| h.vaddr), Some(at));
        let mut b = [0u8; 4];
        assert!(src.read_exact_at(at + 40, &mut b).is_err());
        assert!(BytesSource::new("x", "y", Zeroizing::new(Vec::new()))
            .regions()
            .is_empty());
    }
}
