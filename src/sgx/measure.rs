//! The measurement: the image as an SGXS stream (Fortanix's format: the records ECREATE, EADD
//! and EEXTEND hash, in the order the loader issues them) and MRENCLAVE, the SHA-256 over the
//! measured records. Both come from the `sgxs` crate.

use sgx_isa::Secinfo;
use sgxs::sgxs::{CanonicalSgxsWriter, MeasECreate, PageChunk, SecinfoTruncated, SgxsRead};
use sgxs::sigstruct::EnclaveHash;

use super::layout::EnclaveImage;
use super::SgxError;

/// SHA-256 for `sgxs`'s hashing trait. (The crate's own `sha2` feature is written against the
/// sha2 0.8 API and does not build with sha2 0.10, hence this adapter.)
pub struct Sha256Ops(sha2::Sha256);

impl sgxs::crypto::SgxHashOps for Sha256Ops {
    fn new() -> Self {
        Self(<sha2::Sha256 as sha2::Digest>::new())
    }
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
    fn finish(self) -> [u8; 32] {
        sha2::Digest::finalize(self.0).into()
    }
}

/// The image as an SGXS stream: one ECREATE record, then per page an EADD record and 16
/// EEXTEND records with their 256-byte chunks.
pub fn sgxs_bytes(image: &EnclaveImage) -> Result<Vec<u8>, SgxError> {
    let mut out = Vec::new();
    let ecreate = MeasECreate {
        ssaframesize: image.ssa_frame_pages,
        size: image.size,
    };
    let mut w = CanonicalSgxsWriter::new(&mut out, ecreate, true).map_err(sgxs_error)?;
    for page in &image.pages {
        let mut reader: &[u8] = &page.bytes[..];
        let chunks = [PageChunk::IncludedMeasured; 16];
        w.write_page(
            (&mut reader, chunks),
            Some(page.offset),
            SecinfoTruncated { flags: page.flags },
        )
        .map_err(sgxs_error)?;
    }
    Ok(out)
}

/// MRENCLAVE of an SGXS stream, as EINIT will compute it.
pub fn mrenclave_of_sgxs(sgxs: &[u8]) -> Result<[u8; 32], SgxError> {
    let mut reader = sgxs;
    let mut stream: &mut dyn SgxsRead = &mut reader;
    let hash = EnclaveHash::from_stream::<_, Sha256Ops>(&mut stream).map_err(sgxs_error)?;
    Ok(hash.hash())
}

/// A full SECINFO (64 bytes, what EADD takes) for a page's flags.
pub fn secinfo(flags: sgx_isa::SecinfoFlags) -> Secinfo {
    Secinfo {
        flags,
        _reserved1: [0; 56],
    }
}

fn sgxs_error(e: anyhow::Error) -> SgxError {
    SgxError::Image(format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_size_and_hash_are_stable() {
        let img = EnclaveImage::build(false);
        let s = sgxs_bytes(&img).unwrap();
        // ECREATE + per page EADD + 16 x (EEXTEND + 256 bytes).
        assert_eq!(s.len(), 64 + img.pages.len() * (64 + 16 * (64 + 256)));
        assert_eq!(&s[..8], b"ECREATE\0");
        let a = mrenclave_of_sgxs(&s).unwrap();
        let b = mrenclave_of_sgxs(&sgxs_bytes(&EnclaveImage::build(false)).unwrap()).unwrap();
        assert_eq!(a, b, "the image is deterministic");
        // DEBUG is an attribute, not part of the measurement.
        let d = mrenclave_of_sgxs(&sgxs_bytes(&EnclaveImage::build(true)).unwrap()).unwrap();
        assert_eq!(a, d);
    }
}
