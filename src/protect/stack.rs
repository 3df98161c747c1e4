//! Running a piece of work on a stack inside protected memory.
//!
//! Why: a function's locals, spilled registers and the buffers of hash implementations live on
//! the stack it runs on. Run on the thread's ordinary stack, processing a secret leaves fragments
//! of it there, outside any protection. Switching stacks (`psm::on_stack`) for the work keeps
//! those fragments inside the protected mapping, the way enclave code runs on an enclave stack.
//! A whole thread cannot live on secretmem memory (glibc keeps the thread descriptor at the top
//! of the stack and futexes on secretmem fail), so only the work is switched.
//!
//! Rules for the work closure: capture only references and raw pointers (the closure object is
//! moved onto the *old* stack's frame by `psm`), return only non-secret values (the return value
//! is written to the old stack), and never unwind (caught here). The caller must have blocked
//! all signals on this thread: a signal delivered while on the work stack would push its frame
//! there and run the handler there.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::ProtectError;

/// A stack area inside a store's protected mapping, exclusively borrowed.
#[derive(Debug)]
pub struct WorkStack<'a> {
    base: *mut u8,
    len: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: a `WorkStack` stands for an exclusive `&'a mut [u8]`, which is `Send`; moving it to
// another thread moves that exclusive access with it.
unsafe impl Send for WorkStack<'_> {}

impl<'a> WorkStack<'a> {
    /// A work stack over `mem`. The usable length is rounded down to a multiple of 64 bytes
    /// (x86-64 needs 16-byte alignment; 64 also keeps AVX-512 spills aligned).
    pub(super) fn new(mem: &'a mut [u8]) -> Self {
        let base = mem.as_mut_ptr();
        let skip = base.align_offset(64).min(mem.len());
        let len = (mem.len() - skip) / 64 * 64;
        Self {
            // `wrapping_add` keeps this free of `unsafe`; `skip <= mem.len()` so it is in bounds.
            base: base.wrapping_add(skip),
            len,
            _borrow: PhantomData,
        }
    }

    /// Runs `work` on this stack and returns its result. After `work` returns, and still on this
    /// stack, the caller-saved registers (general purpose and vector) are cleared, so that
    /// secret bytes left in them are not spilled to ordinary memory by later code.
    pub fn run<R>(&mut self, work: impl FnOnce() -> R) -> Result<R, ProtectError> {
        let guarded = move || {
            // Unwinding across the stack switch is undefined behaviour: stop it here.
            let result = catch_unwind(AssertUnwindSafe(work));
            scrub_registers();
            result.ok()
        };
        // SAFETY: `base`/`len` describe memory we borrow exclusively for 'a (see `new`), 64-byte
        // aligned and a multiple of 64 bytes long, far below isize::MAX; the callback does not
        // unwind (caught above). Signals are the caller's duty (module docs).
        let result = unsafe { psm::on_stack(self.base, self.len, guarded) };
        result.ok_or(ProtectError::WorkPanicked)
    }
}

/// Runs `work` on `stack` when there is one, otherwise on the current stack (the plain backend,
/// or a victim that processes on ordinary memory on purpose).
pub fn run_on<R>(
    stack: Option<&mut WorkStack<'_>>,
    work: impl FnOnce() -> R,
) -> Result<R, ProtectError> {
    match stack {
        Some(s) => s.run(work),
        None => Ok(work()),
    }
}

/// Clears the registers that a function may leave holding data: after SHA-256 (SHA-NI or
/// AVX), `memcpy` (AVX/EVEX, which also uses ymm16-31) and friends, vector registers hold
/// secret bytes, and a later variadic call or context save in user space would write them
/// to an ordinary stack.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn scrub_registers() {
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F (checked above).
        unsafe { scrub_avx512() }
    } else if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked above).
        unsafe { scrub_avx() }
    } else {
        // SAFETY: only zeroes SSE registers (baseline on x86-64) and general purpose registers,
        // all declared clobbered by `clobber_abi("C")`.
        unsafe {
            std::arch::asm!(
                "xorps xmm0, xmm0",
                "xorps xmm1, xmm1",
                "xorps xmm2, xmm2",
                "xorps xmm3, xmm3",
                "xorps xmm4, xmm4",
                "xorps xmm5, xmm5",
                "xorps xmm6, xmm6",
                "xorps xmm7, xmm7",
                "xorps xmm8, xmm8",
                "xorps xmm9, xmm9",
                "xorps xmm10, xmm10",
                "xorps xmm11, xmm11",
                "xorps xmm12, xmm12",
                "xorps xmm13, xmm13",
                "xorps xmm14, xmm14",
                "xorps xmm15, xmm15",
                "xor eax, eax",
                "xor ecx, ecx",
                "xor edx, edx",
                "xor esi, esi",
                "xor edi, edi",
                "xor r8d, r8d",
                "xor r9d, r9d",
                "xor r10d, r10d",
                "xor r11d, r11d",
                clobber_abi("C"),
                options(nostack),
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn scrub_avx() {
    // SAFETY: AVX is available (caller's check); every register written is declared clobbered.
    unsafe {
        std::arch::asm!(
            "vzeroall",
            "xor eax, eax",
            "xor ecx, ecx",
            "xor edx, edx",
            "xor esi, esi",
            "xor edi, edi",
            "xor r8d, r8d",
            "xor r9d, r9d",
            "xor r10d, r10d",
            "xor r11d, r11d",
            clobber_abi("C"),
            options(nostack),
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scrub_avx512() {
    // SAFETY: AVX-512F is available (caller's check); `vzeroall` clears zmm0-15 and the
    // `vpxord`s zmm16-31; every register written is declared clobbered by `clobber_abi("C")`.
    unsafe {
        std::arch::asm!(
            "vzeroall",
            "vpxord zmm16, zmm16, zmm16",
            "vpxord zmm17, zmm17, zmm17",
            "vpxord zmm18, zmm18, zmm18",
            "vpxord zmm19, zmm19, zmm19",
            "vpxord zmm20, zmm20, zmm20",
            "vpxord zmm21, zmm21, zmm21",
            "vpxord zmm22, zmm22, zmm22",
            "vpxord zmm23, zmm23, zmm23",
            "vpxord zmm24, zmm24, zmm24",
            "vpxord zmm25, zmm25, zmm25",
            "vpxord zmm26, zmm26, zmm26",
            "vpxord zmm27, zmm27, zmm27",
            "vpxord zmm28, zmm28, zmm28",
            "vpxord zmm29, zmm29, zmm29",
            "vpxord zmm30, zmm30, zmm30",
            "vpxord zmm31, zmm31, zmm31",
            "xor eax, eax",
            "xor ecx, ecx",
            "xor edx, edx",
            "xor esi, esi",
            "xor edi, edi",
            "xor r8d, r8d",
            "xor r9d, r9d",
            "xor r10d, r10d",
            "xor r11d, r11d",
            clobber_abi("C"),
            options(nostack),
        );
    }
}

/// Other architectures: no register scrubbing yet (the victim's tests run on x86-64).
#[cfg(not(target_arch = "x86_64"))]
fn scrub_registers() {}
