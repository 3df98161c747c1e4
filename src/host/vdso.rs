//! The one vDSO lookup: a symbol of the kernel's vDSO in this process, read by the host probe
//! (`host::sgx`: is SGX's entry there?) and by the enclave loader in `sgx/` (the address it
//! enters through). It sits in `host/`, below the contexts, so that the probe does not import
//! a context.
//!
//! The symbol looked for is `__vdso_sgx_enter_enclave`. The kernel exports it (Linux 5.11+,
//! `arch/x86/entry/vdso/vsgx.S`, built with CONFIG_X86_SGX) as the one supported way to run
//! EENTER: it handles the asynchronous exits (AEX) that interrupts cause by resuming the
//! enclave, and reports exceptions in `struct sgx_enclave_run` instead of a signal.
//!
//! The vDSO is an ELF image the kernel maps into every process; its address is the auxiliary
//! vector's `AT_SYSINFO_EHDR`, its extent the `[vdso]` line of `/proc/self/maps` (read by
//! [`crate::procfs::maps`]). The symbol is looked up in its dynamic symbol table with goblin.

use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;

/// The symbol confidump enters enclaves through.
pub const ENTER_SYMBOL: &str = "__vdso_sgx_enter_enclave";

/// Errors of the vDSO lookup.
#[derive(Debug, thiserror::Error)]
pub enum VdsoError {
    /// No `AT_SYSINFO_EHDR` in the auxiliary vector.
    #[error("the process has no vDSO (no AT_SYSINFO_EHDR)")]
    NoVdso,
    /// The `[vdso]` mapping was not found at that address.
    #[error("no [vdso] mapping at {0:#x} in /proc/self/maps")]
    NoMapping(u64),
    /// This process's maps could not be read (the error names the file).
    #[error(transparent)]
    Maps(crate::procfs::maps::MapsError),
    /// The image is not an ELF goblin can read.
    #[error("the vDSO is not a readable ELF image: {0}")]
    Elf(#[source] goblin::error::Error),
    /// The symbol is not exported.
    #[error("this kernel's vDSO does not export {0} (kernel built without CONFIG_X86_SGX, or older than 5.11)")]
    Missing(&'static str),
}

/// Offset of `name` from the start of a vDSO `image` (its value less the first PT_LOAD's
/// virtual address, which is where the image's first byte is loaded), or None. Pure: `image`
/// is the vDSO's bytes.
pub fn symbol_offset(image: &[u8], name: &str) -> Result<Option<u64>, VdsoError> {
    let elf = Elf::parse(image).map_err(VdsoError::Elf)?;
    let load_vaddr = elf
        .program_headers
        .iter()
        .find(|ph| ph.p_type == PT_LOAD)
        .map(|ph| ph.p_vaddr.saturating_sub(ph.p_offset))
        .unwrap_or(0);
    for sym in elf.dynsyms.iter() {
        if sym.st_value == 0 {
            continue;
        }
        if elf.dynstrtab.get_at(sym.st_name) == Some(name) {
            return Ok(sym.st_value.checked_sub(load_vaddr));
        }
    }
    Ok(None)
}

/// The running process's vDSO: its address and length.
pub fn this_vdso() -> Result<(u64, usize), VdsoError> {
    // SAFETY: getauxval only reads the auxiliary vector.
    let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) };
    if base == 0 {
        return Err(VdsoError::NoVdso);
    }
    let maps =
        crate::procfs::maps::read_maps(nix::unistd::getpid().as_raw()).map_err(VdsoError::Maps)?;
    let len = vdso_len(&maps, base).ok_or(VdsoError::NoMapping(base))?;
    Ok((base, len))
}

/// Length of the `[vdso]` mapping that starts at `base`, among a process's mappings.
pub fn vdso_len(maps: &[crate::procfs::maps::Mapping], base: u64) -> Option<usize> {
    maps.iter()
        .filter(|m| m.name == "[vdso]" && m.span.start == base)
        .find_map(|m| {
            let len = m.span.end.checked_sub(m.span.start).filter(|&n| n > 0)?;
            usize::try_from(len).ok()
        })
}

/// The address of [`ENTER_SYMBOL`] in this process, or why there is none.
pub fn find_enter() -> Result<u64, VdsoError> {
    find_in_this_vdso(ENTER_SYMBOL)
}

/// The address of a vDSO symbol in this process.
pub fn find_in_this_vdso(name: &'static str) -> Result<u64, VdsoError> {
    let (base, len) = this_vdso()?;
    // SAFETY: [base, base+len) is the [vdso] mapping of this process (read from
    // /proc/self/maps at that exact start), which is readable and never unmapped or written.
    let image = unsafe { std::slice::from_raw_parts(base as *const u8, len) };
    match symbol_offset(image, name)? {
        Some(off) if off < len as u64 => Ok(base + off),
        _ => Err(VdsoError::Missing(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_clock_gettime_in_this_vdso() {
        // Every x86-64 vDSO exports clock_gettime: proves the lookup itself works here.
        let addr = find_in_this_vdso("__vdso_clock_gettime").unwrap();
        let (base, len) = this_vdso().unwrap();
        assert!(addr > base && addr < base + len as u64);
        match find_enter() {
            Ok(a) => eprintln!("this kernel's vDSO exports {ENTER_SYMBOL} at {a:#x}"),
            Err(e) => eprintln!("{e}"),
        }
    }

    #[test]
    fn maps_parsing() {
        let text = "7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n";
        let maps = crate::procfs::maps::parse_maps(text, "maps").unwrap();
        assert_eq!(vdso_len(&maps, 0x7ffd1000), Some(0x2000));
        assert_eq!(vdso_len(&maps, 0x7ffd2000), None);
        assert!(symbol_offset(b"not an elf", "x").is_err());
    }
}
