//! x86-64 specifics of a Linux core: machine number, header sizes, note types (the kernel's
//! `elf_prstatus` / `elf_prpsinfo` layouts for this architecture are in [`super::layout`]).

/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// Size of an ELF64 file header.
pub const EHDR_SIZE: u64 = 64;
/// Size of an ELF64 program header.
pub const PHDR_SIZE: u64 = 56;
/// Size of an ELF64 section header (only entry 0 is used: for PN_XNUM).
pub const SHDR_SIZE: u64 = 64;
/// `e_phnum` value meaning "the real count is in section header 0's `sh_info`".
pub const PN_XNUM: u16 = 0xffff;

/// `NT_PRSTATUS`, `NT_X86_XSTATE` (owner `LINUX`): the same numbers name the ptrace regsets
/// the registers are read with, so the note types are those constants.
pub use crate::memory::ptrace::{NT_PRSTATUS, NT_X86_XSTATE};
/// `NT_FPREGSET` (the `NT_PRFPREG` regset).
pub const NT_FPREGSET: u32 = crate::memory::ptrace::NT_PRFPREG;
/// `NT_PRPSINFO`.
pub const NT_PRPSINFO: u32 = 3;
/// `NT_AUXV`.
pub const NT_AUXV: u32 = 6;
/// `NT_SIGINFO` ('SIGI').
pub const NT_SIGINFO: u32 = 0x5349_4749;
/// `NT_FILE` ('FILE').
pub const NT_FILE: u32 = 0x4649_4c45;

/// Offset of the XCR0 copy in the XSAVE area's software-reserved bytes (the kernel stores it
/// there for exactly this purpose: readers of a core learn which components are present).
const XSAVE_XCR0_OFFSET: usize = 464;

/// The XSAVE size gdb expects for the features enabled in `xcr0` (gdb's `X86_XSTATE_SIZE`).
pub fn gdb_xstate_size(xcr0: u64) -> usize {
    const AVX: u64 = 1 << 2;
    const MPX: u64 = (1 << 3) | (1 << 4);
    const AVX512: u64 = (1 << 5) | (1 << 6) | (1 << 7);
    const PKRU: u64 = 1 << 9;
    if xcr0 & PKRU != 0 {
        2696
    } else if xcr0 & AVX512 != 0 {
        2688
    } else if xcr0 & MPX != 0 {
        1088
    } else if xcr0 & AVX != 0 {
        832
    } else {
        576
    }
}

/// The NT_X86_XSTATE descriptor for an XSAVE area as PTRACE_GETREGSET returned it. Some
/// kernels return fewer bytes than the size gdb derives from XCR0 (gdb then warns "section in
/// core file too small" and ignores the registers); the missing tail is padded with zeros,
/// which is what gcore itself writes there. Never truncated.
pub fn xstate_note(xsave: &[u8]) -> Vec<u8> {
    let mut xcr0 = [0u8; 8];
    if let Some(b) = xsave.get(XSAVE_XCR0_OFFSET..XSAVE_XCR0_OFFSET + 8) {
        xcr0.copy_from_slice(b);
    }
    let want = gdb_xstate_size(u64::from_le_bytes(xcr0)).max(xsave.len());
    let mut v = xsave.to_vec();
    v.resize(want, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xstate_is_padded_never_truncated() {
        let mut x = vec![1u8; 2432];
        x[464..472].copy_from_slice(&0xe7u64.to_le_bytes()); // x87 SSE AVX AVX-512
        let n = xstate_note(&x);
        assert_eq!(n.len(), 2688);
        assert_eq!(&n[..2432], &x[..]);
        assert!(n[2432..].iter().all(|&b| b == 0));
        assert_eq!(xstate_note(&vec![0u8; 4000]).len(), 4000);
    }
}
