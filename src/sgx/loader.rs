//! Loading the image through the kernel's SGX driver and entering it through the vDSO, the
//! sequence of the kernel's own selftest (`tools/testing/selftests/sgx/load.c`):
//!
//! 1. open `/dev/sgx_enclave`; reserve twice ELRANGE with a PROT_NONE shared mapping of it
//!    and keep the naturally aligned half (SECS.BASEADDR must be aligned to SECS.SIZE);
//! 2. `SGX_IOC_ENCLAVE_CREATE` with the SECS (ECREATE);
//! 3. `SGX_IOC_ENCLAVE_ADD_PAGES` per page, `SGX_PAGE_MEASURE` (EADD + 16 x EEXTEND);
//! 4. `SGX_IOC_ENCLAVE_INIT` with the SIGSTRUCT (EINIT; with flexible launch control the
//!    kernel sets the launch-enclave key hash MSRs to our signer itself);
//! 5. `mmap(MAP_SHARED | MAP_FIXED)` of each page with its permissions;
//! 6. `__vdso_sgx_enter_enclave(rdi, rsi, rdx, EENTER, r8, r9, &run)` for each call.
//!
//! Written against the UAPI and not run here (this project's machines have no SGX): see
//! `expectations` for what a run on SGX hardware should show.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use sgx_isa::{Secs, Sigstruct};

use super::layout::{EnclaveImage, PAGE, TCS_OFFSET};
use super::measure::secinfo;
use super::uapi::{self, SgxEnclaveAddPages, SgxEnclaveCreate, SgxEnclaveInit, SgxEnclaveRun};
use super::SgxError;
use crate::model::Span;

/// `__vdso_sgx_enter_enclave`'s C signature (`arch/x86/include/uapi/asm/sgx.h`,
/// `vdso_sgx_enter_enclave_t`).
type VdsoSgxEnterEnclave = unsafe extern "C" fn(
    rdi: u64,
    rsi: u64,
    rdx: u64,
    function: u32,
    r8: u64,
    r9: u64,
    run: *mut SgxEnclaveRun,
) -> i32;

/// A page-aligned copy of a page, as `SGX_IOC_ENCLAVE_ADD_PAGES` requires of `src`.
#[repr(C, align(4096))]
struct AlignedPage([u8; PAGE]);

/// A loaded, initialised enclave. Drop unmaps it; closing the descriptor then destroys it.
#[derive(Debug)]
pub struct Enclave {
    fd: OwnedFd,
    base: u64,
    size: u64,
    enter: u64,
}

impl Enclave {
    /// Loads `image`, signed by `sig`, through `/dev/sgx_enclave`; `enter` is the address of
    /// `__vdso_sgx_enter_enclave` in this process (see [`crate::host::vdso::find_enter`]).
    pub fn load(image: &EnclaveImage, sig: &Sigstruct, enter: u64) -> Result<Self, SgxError> {
        let raw = nix::fcntl::open(
            crate::host::sgx::DEV_SGX_ENCLAVE,
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| SgxError::Sys {
            op: "open /dev/sgx_enclave",
            errno,
        });
        tracing::debug!(result = ?raw, "open /dev/sgx_enclave");
        let raw = raw?;
        // SAFETY: `raw` is a descriptor just returned by open(2) and owned by nothing else.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        let size = usize::try_from(image.size).map_err(|_| SgxError::Image("size".into()))?;
        let base = reserve_aligned(&fd, size);
        tracing::debug!(size, result = ?base, "reserve ELRANGE (mmap PROT_NONE of /dev/sgx_enclave)");
        let base = base?;
        // From here on `enclave`'s Drop unmaps [base, base+size) on every early return.
        let enclave = Self {
            fd,
            base,
            size: image.size,
            enter,
        };
        let created = enclave.create(image);
        tracing::debug!(base = format_args!("{base:#x}"), size = image.size, result = ?created, "SGX_IOC_ENCLAVE_CREATE (ECREATE)");
        created?;
        for page in &image.pages {
            let added = enclave.add_page(page);
            tracing::debug!(offset = format_args!("{:#x}", page.offset), flags = ?page.flags, result = ?added, "SGX_IOC_ENCLAVE_ADD_PAGES (EADD + EEXTEND)");
            added?;
        }
        let init = enclave.init(sig);
        tracing::debug!(result = ?init, "SGX_IOC_ENCLAVE_INIT (EINIT)");
        init?;
        for page in &image.pages {
            let mapped = enclave.map_page(page.offset, page.prot());
            if mapped.is_err() {
                tracing::debug!(offset = format_args!("{:#x}", page.offset), result = ?mapped, "mmap of an enclave page");
            }
            mapped?;
        }
        tracing::debug!(pages = image.pages.len(), "enclave pages mapped");
        Ok(enclave)
    }

    fn create(&self, image: &EnclaveImage) -> Result<(), SgxError> {
        let mut secs = Box::new(
            Secs::try_copy_from(&[0u8; Secs::UNPADDED_SIZE])
                .ok_or_else(|| SgxError::Image("SECS".into()))?,
        );
        secs.size = image.size;
        secs.baseaddr = self.base;
        secs.ssaframesize = image.ssa_frame_pages;
        secs.miscselect = image.miscselect;
        secs.attributes = image.attributes;
        let arg = SgxEnclaveCreate {
            src: std::ptr::addr_of!(*secs) as u64,
        };
        // SAFETY: `arg` points at a SECS that lives until the call returns; the kernel copies it.
        unsafe { uapi::enclave_create(self.fd.as_raw_fd(), &arg) }.map_err(|errno| {
            SgxError::Sys {
                op: "SGX_IOC_ENCLAVE_CREATE (ECREATE)",
                errno,
            }
        })?;
        Ok(())
    }

    fn add_page(&self, page: &super::layout::Page) -> Result<(), SgxError> {
        let mut src = Box::new(AlignedPage([0; PAGE]));
        src.0.copy_from_slice(&page.bytes[..]);
        let info = secinfo(page.flags);
        let mut arg = SgxEnclaveAddPages {
            src: std::ptr::addr_of!(src.0) as u64,
            offset: page.offset,
            length: PAGE as u64,
            secinfo: std::ptr::addr_of!(info) as u64,
            flags: uapi::SGX_PAGE_MEASURE,
            count: 0,
        };
        // The kernel may stop early (a pending signal) after adding `count` bytes; one page is
        // all or nothing, but loop as its documentation asks.
        while arg.count < PAGE as u64 {
            // SAFETY: `arg`, the page and the SECINFO live until the call returns; the kernel
            // reads them and writes only `arg.count`.
            match unsafe { uapi::enclave_add_pages(self.fd.as_raw_fd(), &mut arg) } {
                Ok(_) => {}
                Err(Errno::EINTR | Errno::ERESTART) => {}
                Err(errno) => {
                    return Err(SgxError::Sys {
                        op: "SGX_IOC_ENCLAVE_ADD_PAGES (EADD + EEXTEND)",
                        errno,
                    })
                }
            }
        }
        Ok(())
    }

    fn init(&self, sig: &Sigstruct) -> Result<(), SgxError> {
        let arg = SgxEnclaveInit {
            sigstruct: std::ptr::addr_of!(*sig) as u64,
        };
        // SAFETY: `arg` points at a SIGSTRUCT that lives until the call returns.
        match unsafe { uapi::enclave_init(self.fd.as_raw_fd(), &arg) } {
            Ok(0) => Ok(()),
            Ok(code) => Err(SgxError::Init {
                code,
                name: uapi::einit_error_name(code),
            }),
            Err(errno) => Err(SgxError::Sys {
                op: "SGX_IOC_ENCLAVE_INIT (EINIT)",
                errno,
            }),
        }
    }

    fn map_page(&self, offset: u64, prot: i32) -> Result<(), SgxError> {
        // SAFETY: maps the enclave's own page over our PROT_NONE reservation of the same
        // enclave (MAP_FIXED inside [base, base+size), which this object owns).
        let p = unsafe {
            libc::mmap(
                (self.base + offset) as *mut libc::c_void,
                PAGE,
                prot,
                libc::MAP_SHARED | libc::MAP_FIXED,
                self.fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SgxError::Sys {
                op: "mmap of an enclave page",
                errno: Errno::last(),
            });
        }
        Ok(())
    }

    /// ELRANGE: `[base, base + size)`.
    pub fn region(&self) -> Span {
        Span::new(self.base, self.base + self.size)
    }

    /// EENTER with RDI = `cmd`, RSI = `rsi`, RDX = `rdx` and R9 = the address of `status`;
    /// returns after the enclave's EEXIT (the vDSO resumes the enclave after interrupts).
    pub fn call(&self, cmd: u64, rsi: u64, rdx: u64, status: &mut u64) -> Result<(), SgxError> {
        let mut run = SgxEnclaveRun::new(self.base + TCS_OFFSET);
        // SAFETY: `self.enter` is the address of __vdso_sgx_enter_enclave in this process's
        // vDSO (found by symbol lookup), whose C signature is `VdsoSgxEnterEnclave`.
        let f: VdsoSgxEnterEnclave = unsafe { std::mem::transmute(self.enter as usize) };
        // SAFETY: the enclave reads only [rsi, rsi+rdx) (a buffer the caller owns) and writes
        // only `*status`; `run` lives across the call.
        let rc = unsafe {
            f(
                cmd,
                rsi,
                rdx,
                uapi::EENTER,
                0,
                std::ptr::from_mut(status) as u64,
                &mut run,
            )
        };
        tracing::debug!(
            cmd,
            rc,
            exit = run.function,
            vector = run.exception_vector,
            "__vdso_sgx_enter_enclave (EENTER)"
        );
        if rc != 0 {
            return Err(SgxError::Enter(format!(
                "__vdso_sgx_enter_enclave returned {rc} ({})",
                Errno::from_raw(-rc)
            )));
        }
        if run.function != uapi::EEXIT {
            return Err(SgxError::Enter(format!(
                "the enclave took exception vector {} (error code {:#x}) at {:#x}",
                run.exception_vector, run.exception_error_code, run.exception_addr
            )));
        }
        Ok(())
    }
}

impl Drop for Enclave {
    fn drop(&mut self) {
        // SAFETY: [base, base+size) is the reservation and the enclave pages this object
        // mapped; nothing else refers to them. Closing `fd` afterwards releases the enclave.
        let rc = unsafe { libc::munmap(self.base as *mut libc::c_void, self.size as usize) };
        if rc != 0 {
            tracing::warn!("munmap of the enclave failed: {}", Errno::last());
        }
    }
}

/// Maps `2 * size` bytes of the enclave file PROT_NONE and keeps the `size`-aligned `size`
/// bytes inside, unmapping the rest. Returns the aligned base.
fn reserve_aligned(fd: &OwnedFd, size: usize) -> Result<u64, SgxError> {
    let twice = size.checked_mul(2).ok_or(SgxError::Sys {
        op: "reserving ELRANGE (size overflow)",
        errno: Errno::EINVAL,
    })?;
    // SAFETY: a new shared PROT_NONE mapping at an address of the kernel's choice.
    let area = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            twice,
            libc::PROT_NONE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if area == libc::MAP_FAILED {
        return Err(SgxError::Sys {
            op: "mmap reserving ELRANGE",
            errno: Errno::last(),
        });
    }
    let start = area as u64;
    let size64 = size as u64;
    let base = (start + size64 - 1) & !(size64 - 1);
    let head = (base - start) as usize;
    let tail = twice - head - size;
    // SAFETY: both ranges lie inside the mapping just created and outside the kept half.
    unsafe {
        if head > 0 {
            libc::munmap(area, head);
        }
        if tail > 0 {
            libc::munmap((base + size64) as *mut libc::c_void, tail);
        }
    }
    Ok(base)
}
