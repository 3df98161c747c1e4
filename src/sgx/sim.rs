//! How an SDK's simulation mode lays out an enclave: ordinary memory. Intel's SGX SDK with
//! `SGX_MODE=SIM`, Open Enclave and EGo with `OE_SIMULATION=1` allocate a region with `mmap`,
//! copy the enclave's pages in, and run its code with ENCLU replaced by software. Nothing the
//! CPU enforces protects it: every dump and every live read sees the secret in its data page.
//!
//! This module does exactly that with confidump's own image: the same pages at the same
//! offsets in an anonymous mapping, the code page made read-execute, and the one ENCLU in it
//! (EEXIT) replaced by `jmp rbx`, the jump EEXIT would make.

use nix::errno::Errno;

use super::code::EEXIT_AT;
use super::layout::{EnclaveImage, PageKind, CODE_OFFSET, PAGE};
use super::SgxError;
use crate::model::Span;

/// `jmp rbx; nop`: what EEXIT does (go to RBX), in software.
const SOFT_EEXIT: [u8; 3] = [0xff, 0xe3, 0x90];

/// The image in ordinary memory. Drop zeroizes and unmaps it.
#[derive(Debug)]
pub struct SimEnclave {
    base: *mut u8,
    size: usize,
}

// SAFETY: the mapping is owned exclusively by this value; it is only read or written through
// `&self`/`&mut self` calls into its own code.
unsafe impl Send for SimEnclave {}

impl SimEnclave {
    /// Maps ELRANGE anonymously, copies the pages in and sets each page's permissions.
    pub fn load(image: &EnclaveImage) -> Result<Self, SgxError> {
        let size = usize::try_from(image.size).map_err(|_| SgxError::Image("size".into()))?;
        // SAFETY: a new private anonymous mapping at an address of the kernel's choice.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SgxError::Sys {
                op: "mmap of the simulated enclave",
                errno: Errno::last(),
            });
        }
        let sim = Self {
            base: p.cast(),
            size,
        };
        for page in &image.pages {
            let off = usize::try_from(page.offset).map_err(|_| SgxError::Image("offset".into()))?;
            if off + PAGE > size {
                return Err(SgxError::Image("page outside ELRANGE".into()));
            }
            // SAFETY: [base+off, base+off+PAGE) is inside our read-write mapping.
            let dst = unsafe { std::slice::from_raw_parts_mut(sim.base.add(off), PAGE) };
            dst.copy_from_slice(&page.bytes[..]);
            if page.kind == PageKind::Code {
                if let Some(enclu) = dst.get_mut(EEXIT_AT..EEXIT_AT + SOFT_EEXIT.len()) {
                    enclu.copy_from_slice(&SOFT_EEXIT);
                }
            }
        }
        for page in &image.pages {
            // SAFETY: changes the protection of one page of our own mapping.
            let rc = unsafe {
                libc::mprotect(sim.base.add(page.offset as usize).cast(), PAGE, page.prot())
            };
            if rc != 0 {
                return Err(SgxError::Sys {
                    op: "mprotect of a simulated enclave page",
                    errno: Errno::last(),
                });
            }
        }
        Ok(sim)
    }

    /// The whole simulated ELRANGE.
    pub fn region(&self) -> Span {
        let start = self.base as u64;
        Span::new(start, start + self.size as u64)
    }

    /// "EENTER" in software: RBX = base, RCX = the return address, jump to the entry point;
    /// the patched EEXIT jumps back. Same registers, same protocol as the hardware call.
    pub fn call(&mut self, cmd: u64, rsi: u64, rdx: u64, status: &mut u64) -> Result<(), SgxError> {
        #[cfg(target_arch = "x86_64")]
        {
            let base = self.base as u64;
            let entry = base + CODE_OFFSET;
            let r9 = std::ptr::from_mut(status) as u64;
            // SAFETY: jumps into the code page copied above, which reads [rsi, rsi+rdx) (a
            // buffer the caller owns), writes the data pages and `*status`, touches only the
            // registers listed (RBX is saved and restored around it) and no stack, and comes
            // back to label 2 through RBX.
            unsafe {
                std::arch::asm!(
                    "push rbx",
                    "mov rbx, r12",
                    "lea rcx, [rip + 2f]",
                    "jmp r13",
                    "2:",
                    "pop rbx",
                    // Fixed registers the code page never touches: a `reg` operand may be
                    // given RBX, which the block overwrites before the jump.
                    in("r12") base,
                    in("r13") entry,
                    inout("rdi") cmd => _,
                    inout("rsi") rsi => _,
                    inout("rdx") rdx => _,
                    inout("r9") r9 => _,
                    out("rax") _,
                    out("rcx") _,
                    out("r8") _,
                    out("r10") _,
                    out("r11") _,
                );
            }
            Ok(())
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (cmd, rsi, rdx, status);
            Err(SgxError::Enter(
                "the simulated enclave is x86-64 code".into(),
            ))
        }
    }
}

impl Drop for SimEnclave {
    fn drop(&mut self) {
        // SAFETY: our mapping; made writable again to be zeroized, then unmapped.
        unsafe {
            if libc::mprotect(
                self.base.cast(),
                self.size,
                libc::PROT_READ | libc::PROT_WRITE,
            ) == 0
            {
                let all = std::slice::from_raw_parts_mut(self.base, self.size);
                zeroize::Zeroize::zeroize(all);
            }
            if libc::munmap(self.base.cast(), self.size) != 0 {
                tracing::warn!("munmap of the simulated enclave failed: {}", Errno::last());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::code::{CMD_STORE, CMD_USE, MAX_SECRET, SECRET_AT};
    use super::super::layout::DATA_OFFSET;
    use super::*;

    fn data(sim: &SimEnclave, at: u64, len: usize) -> Vec<u8> {
        // SAFETY: test-only read of the simulated data pages (read-write, inside the mapping).
        unsafe { std::slice::from_raw_parts(sim.base.add((DATA_OFFSET + at) as usize), len) }
            .to_vec()
    }

    /// Runs the hand-written code page for real (in software mode): the protocol works.
    #[test]
    fn the_code_page_stores_and_uses_the_secret() {
        let mut sim = SimEnclave::load(&EnclaveImage::build(false)).unwrap();
        let secret = b"CONFIDUMP-0123456789abcdef01234567".to_vec();
        let mut status = 0u64;
        sim.call(
            CMD_STORE,
            secret.as_ptr() as u64,
            secret.len() as u64,
            &mut status,
        )
        .unwrap();
        assert_eq!(status, secret.len() as u64);
        assert_eq!(data(&sim, SECRET_AT, secret.len()), secret);
        assert_eq!(data(&sim, 0, 8), (secret.len() as u64).to_le_bytes());
        for n in 1..=3u64 {
            sim.call(CMD_USE, 0, 0, &mut status).unwrap();
            assert_eq!(status, n, "use counter");
        }
        // The checksum: rol 5 + add over the bytes, three times over, kept inside.
        let mut c = 0u64;
        for _ in 0..3 {
            for &b in &secret {
                c = c.rotate_left(5).wrapping_add(u64::from(b));
            }
        }
        assert_eq!(data(&sim, 8, 8), c.to_le_bytes());
        // Refusals: too long, and a source inside ELRANGE.
        sim.call(
            CMD_STORE,
            secret.as_ptr() as u64,
            MAX_SECRET as u64 + 1,
            &mut status,
        )
        .unwrap();
        assert_eq!(status, u64::MAX);
        let inside = sim.region().start + DATA_OFFSET;
        sim.call(CMD_STORE, inside, 8, &mut status).unwrap();
        assert_eq!(status, u64::MAX);
        let below = sim.region().start - 4;
        sim.call(CMD_STORE, below, 8, &mut status).unwrap();
        assert_eq!(status, u64::MAX, "a source running into ELRANGE is refused");
        // Unknown command: nothing happens, status untouched.
        status = 7;
        sim.call(99, 0, 0, &mut status).unwrap();
        assert_eq!(status, 7);
    }
}
