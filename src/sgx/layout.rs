//! The enclave image: which pages, at which offsets, with which page types and permissions,
//! and the SECS, TCS and SIGSTRUCT fields that describe it. Pure data: nothing here touches
//! the kernel, so the whole image can be built, measured and checked on any machine.
//!
//! ```text
//! offset  page        SECINFO            contents
//! 0x0000  TCS         PT_TCS             OSSA=0x1000 NSSA=1 OENTRY=0x2000 FS/GS limits 0xfff
//! 0x1000  SSA frame   PT_REG  R W        zero (the CPU saves state here on an exit it did not expect)
//! 0x2000  code        PT_REG  R   X      [`super::code::CODE`]
//! 0x3000  data        PT_REG  R W        zero: length, checksum, counter, then the secret
//! 0x4000  data        PT_REG  R W        zero: the rest of the secret's room
//! 0x5000..0x8000      (not added: ELRANGE must be a power of two)
//! ```
//!
//! No secret is in the image: the data pages are added as zeros and the secret is copied in
//! by the enclave's own code after EINIT. Every added page is measured in full (EEXTEND of all
//! 16 chunks), so MRENCLAVE covers the code, the TCS and the zeros.

use sgx_isa::{Attributes, AttributesFlags, Miscselect, PageType, SecinfoFlags, Tcs};

/// Bytes per enclave page.
pub const PAGE: usize = 4096;
/// ELRANGE: the enclave's size, a power of two (ECREATE requires it).
pub const ENCLAVE_SIZE: u64 = 0x8000;
/// Offset of the TCS.
pub const TCS_OFFSET: u64 = 0x0000;
/// Offset of the (single) SSA frame.
pub const SSA_OFFSET: u64 = 0x1000;
/// SSA frames per TCS (NSSA).
pub const NSSA: u32 = 1;
/// Pages per SSA frame (SECS.SSAFRAMESIZE). One page holds the GPR area (184 bytes), MISC
/// (none selected) and the XSAVE area for XFRM = x87|SSE (576 bytes).
pub const SSA_FRAME_PAGES: u32 = 1;
/// Offset of the code page; the entry point is its first byte.
pub const CODE_OFFSET: u64 = 0x2000;
/// Offset of the first data page (the code's `lea r8, [rbx+0x3000]`).
pub const DATA_OFFSET: u64 = 0x3000;
/// Data pages.
pub const DATA_PAGES: u64 = 2;
/// XFRM: x87 and SSE state only (the minimum; bits 0 and 1 must be set).
pub const XFRM: u64 = 0x3;

/// What a page is, as the loader and the tests see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// The thread control structure.
    Tcs,
    /// A state save area frame.
    Ssa,
    /// The code page.
    Code,
    /// A data page.
    Data,
}

/// One page of the image.
pub struct Page {
    /// Offset from the enclave's base.
    pub offset: u64,
    /// What it is.
    pub kind: PageKind,
    /// SECINFO.FLAGS for EADD: page type and permissions.
    pub flags: SecinfoFlags,
    /// The page's bytes.
    pub bytes: Box<[u8; PAGE]>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("offset", &format_args!("{:#x}", self.offset))
            .field("kind", &self.kind)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl Page {
    /// `mmap`/`mprotect` protection bits matching the page's EPCM permissions. A TCS is mapped
    /// read-write (the kernel allows no more and EENTER needs no less).
    pub fn prot(&self) -> i32 {
        if self.kind == PageKind::Tcs {
            return libc::PROT_READ | libc::PROT_WRITE;
        }
        let mut prot = libc::PROT_NONE;
        if self.flags.contains(SecinfoFlags::R) {
            prot |= libc::PROT_READ;
        }
        if self.flags.contains(SecinfoFlags::W) {
            prot |= libc::PROT_WRITE;
        }
        if self.flags.contains(SecinfoFlags::X) {
            prot |= libc::PROT_EXEC;
        }
        prot
    }
}

/// The enclave as it is created, added and initialised.
#[derive(Debug)]
pub struct EnclaveImage {
    /// ELRANGE size (SECS.SIZE).
    pub size: u64,
    /// SECS.SSAFRAMESIZE, in pages.
    pub ssa_frame_pages: u32,
    /// SECS.ATTRIBUTES (and SIGSTRUCT.ATTRIBUTES): MODE64BIT, DEBUG when asked, XFRM.
    pub attributes: Attributes,
    /// SECS.MISCSELECT: nothing.
    pub miscselect: Miscselect,
    /// The pages, in offset order.
    pub pages: Vec<Page>,
}

impl EnclaveImage {
    /// Builds the image. `debug` sets ATTRIBUTES.DEBUG, which lets the kernel serve root's
    /// `/proc/PID/mem` reads of the enclave with EDBGRD: never for a secret that matters.
    pub fn build(debug: bool) -> Self {
        let mut flags = AttributesFlags::MODE64BIT;
        if debug {
            flags |= AttributesFlags::DEBUG;
        }
        let rw = SecinfoFlags::R | SecinfoFlags::W | SecinfoFlags::from(PageType::Reg);
        let rx = SecinfoFlags::R | SecinfoFlags::X | SecinfoFlags::from(PageType::Reg);
        let mut pages = vec![
            Page {
                offset: TCS_OFFSET,
                kind: PageKind::Tcs,
                // A TCS page carries no R/W/X bits in its SECINFO (EADD requires them clear).
                flags: SecinfoFlags::from(PageType::Tcs),
                bytes: tcs_page(),
            },
            Page {
                offset: SSA_OFFSET,
                kind: PageKind::Ssa,
                flags: rw,
                bytes: Box::new([0; PAGE]),
            },
            Page {
                offset: CODE_OFFSET,
                kind: PageKind::Code,
                flags: rx,
                bytes: code_page(),
            },
        ];
        for i in 0..DATA_PAGES {
            pages.push(Page {
                offset: DATA_OFFSET + i * PAGE as u64,
                kind: PageKind::Data,
                flags: rw,
                bytes: Box::new([0; PAGE]),
            });
        }
        Self {
            size: ENCLAVE_SIZE,
            ssa_frame_pages: SSA_FRAME_PAGES,
            attributes: Attributes { flags, xfrm: XFRM },
            miscselect: Miscselect::empty(),
            pages,
        }
    }

    /// True when ATTRIBUTES.DEBUG is set.
    pub fn is_debug(&self) -> bool {
        self.attributes.flags.contains(AttributesFlags::DEBUG)
    }

    /// Bytes from the first added page to the end of the last: what is mapped.
    pub fn mapped_len(&self) -> u64 {
        self.pages
            .last()
            .map(|p| p.offset + PAGE as u64)
            .unwrap_or(0)
    }
}

/// The TCS, as sgx-isa lays it out.
pub fn tcs() -> Tcs {
    // Every field not set here is zero (reserved fields must be; CSSA starts at 0).
    let mut tcs = Tcs::try_copy_from(&[0u8; Tcs::UNPADDED_SIZE]).unwrap_or_else(zero_tcs);
    tcs.ossa = SSA_OFFSET;
    tcs.nssa = NSSA;
    tcs.oentry = CODE_OFFSET;
    // FS and GS are unused; their bases are the enclave's base (offset 0) and the limits one
    // page, the values every SDK loader writes for an enclave that does not use them.
    tcs.ofsbasgx = 0;
    tcs.ogsbasgx = 0;
    tcs.fslimit = 0xfff;
    tcs.gslimit = 0xfff;
    tcs
}

/// `try_copy_from` of a slice of exactly `UNPADDED_SIZE` bytes cannot fail; this fallback
/// only keeps the code free of `unwrap`.
fn zero_tcs() -> Tcs {
    // SAFETY: `Tcs` is a `repr(C)` struct of integers, byte arrays and a bitflags `u64`
    // (TcsFlags, for which 0 is the empty set): all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

fn tcs_page() -> Box<[u8; PAGE]> {
    let mut page = Box::new([0u8; PAGE]);
    let tcs = tcs();
    let bytes: &[u8] = tcs.as_ref();
    page.copy_from_slice(bytes);
    page
}

fn code_page() -> Box<[u8; PAGE]> {
    let mut page = Box::new([0u8; PAGE]);
    page[..super::code::CODE.len()].copy_from_slice(&super::code::CODE);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_types_and_permissions() {
        let img = EnclaveImage::build(false);
        assert!(img.size.is_power_of_two());
        assert!(img.mapped_len() <= img.size);
        let kinds: Vec<_> = img.pages.iter().map(|p| (p.offset, p.kind)).collect();
        assert_eq!(
            kinds,
            [
                (0x0000, PageKind::Tcs),
                (0x1000, PageKind::Ssa),
                (0x2000, PageKind::Code),
                (0x3000, PageKind::Data),
                (0x4000, PageKind::Data),
            ]
        );
        let tcs = &img.pages[0];
        assert_eq!(tcs.flags.page_type(), PageType::Tcs as u8);
        assert!(!tcs
            .flags
            .intersects(SecinfoFlags::R | SecinfoFlags::W | SecinfoFlags::X));
        let code = &img.pages[2];
        assert_eq!(code.flags.page_type(), PageType::Reg as u8);
        assert!(code.flags.contains(SecinfoFlags::R | SecinfoFlags::X));
        assert!(
            !code.flags.contains(SecinfoFlags::W),
            "code is not writable"
        );
        assert_eq!(code.prot(), libc::PROT_READ | libc::PROT_EXEC);
        for p in img
            .pages
            .iter()
            .filter(|p| p.kind != PageKind::Code && p.kind != PageKind::Tcs)
        {
            assert!(
                !p.flags.contains(SecinfoFlags::X),
                "{p:?} is not executable"
            );
            assert_eq!(p.prot(), libc::PROT_READ | libc::PROT_WRITE);
        }
        // No secret in the image: data pages are zero.
        assert!(img
            .pages
            .iter()
            .filter(|p| p.kind == PageKind::Data)
            .all(|p| p.bytes.iter().all(|&b| b == 0)));
        assert!(!img.is_debug());
        assert!(EnclaveImage::build(true).is_debug());
    }

    #[test]
    fn tcs_fields() {
        let img = EnclaveImage::build(false);
        let t = Tcs::try_copy_from(&img.pages[0].bytes[..]).unwrap();
        assert_eq!(t.ossa, SSA_OFFSET);
        assert_eq!(t.nssa, 1);
        assert_eq!(t.cssa, 0);
        assert_eq!(t.oentry, CODE_OFFSET);
        assert_eq!((t.fslimit, t.gslimit), (0xfff, 0xfff));
        assert!(t.flags.is_empty(), "no DBGOPTIN");
        // The SSA frames lie inside ELRANGE on pages that were added as SSA.
        let ssa_end = t.ossa + u64::from(t.nssa) * u64::from(img.ssa_frame_pages) * PAGE as u64;
        let ssa_pages: Vec<_> = img
            .pages
            .iter()
            .filter(|p| p.kind == PageKind::Ssa)
            .collect();
        assert_eq!(ssa_pages.len() as u64, (ssa_end - t.ossa) / PAGE as u64);
        // GPRSGX (184) + XSAVE legacy area and header for x87|SSE (576) fit one page.
        assert!(184 + 576 <= PAGE * img.ssa_frame_pages as usize);
    }
}
