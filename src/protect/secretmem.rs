//! `memfd_secret(2)`: pages removed from the kernel's direct map, mapped only into this process.
//!
//! Reads through the kernel fail (`/proc/PID/mem` gives EIO, `process_vm_readv` EFAULT) and
//! dumps leave the mapping out. The code that uses the secret runs on a work stack inside the
//! mapping (see `stack`), so no fragment leaks into ordinary memory.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

use super::area::{Area, Layout};
use super::{memlock_limits, ProtectError, StoreParts};
use crate::model::Span;

/// Where the kernel says whether secretmem is enabled (`secretmem.enable=`).
const ENABLE_PARAM: &str = "/sys/module/secretmem/parameters/enable";

/// A `memfd_secret` mapping.
#[derive(Debug)]
pub struct SecretMemStore {
    area: Area,
}

impl SecretMemStore {
    /// Creates the secret memory file, sizes it, maps it shared and closes the descriptor (the
    /// mapping keeps the memory alive; no descriptor is left for anyone to inherit).
    pub fn new() -> Result<Self, ProtectError> {
        let layout = Layout::new();
        // SAFETY: memfd_secret takes one flags argument and returns a new descriptor or -1.
        let rc = unsafe { libc::syscall(libc::SYS_memfd_secret, libc::O_CLOEXEC) };
        if rc < 0 {
            return Err(open_error(Errno::last()));
        }
        let raw = i32::try_from(rc).map_err(|_| ProtectError::Sys {
            op: "memfd_secret (descriptor out of range)",
            errno: Errno::EBADF,
        })?;
        // SAFETY: `raw` is a descriptor the kernel just gave us and nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let len = libc::off_t::try_from(layout.total).map_err(|_| ProtectError::Sys {
            op: "ftruncate of the secretmem file (size out of range)",
            errno: Errno::EINVAL,
        })?;
        nix::unistd::ftruncate(&fd, len).map_err(|errno| ProtectError::Sys {
            op: "ftruncate of the secretmem file",
            errno,
        })?;
        // SAFETY: maps a file we own, at an address of the kernel's choice; no existing
        // memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            let errno = Errno::last();
            // secretmem mappings are implicitly locked: the kernel refuses them with EAGAIN
            // (older kernels: EPERM/ENOMEM) when they would exceed RLIMIT_MEMLOCK.
            if matches!(errno, Errno::EAGAIN | Errno::EPERM | Errno::ENOMEM) {
                let (soft, hard) = memlock_limits();
                return Err(ProtectError::MemlockLimit {
                    op: "mmap of memfd_secret memory",
                    len: layout.total,
                    errno,
                    soft,
                    hard,
                });
            }
            return Err(ProtectError::Sys {
                op: "mmap of memfd_secret memory",
                errno,
            });
        }
        drop(fd);
        // SAFETY: `ptr` is the start of the read-write mapping of `layout.total` bytes just
        // created, used by nothing else.
        let mut area = unsafe { Area::adopt(ptr.cast(), layout)? };
        // Pages of secret memory are allocated (and removed from the direct map) at first
        // touch, where a failure is a SIGBUS: take that hit now rather than mid-work.
        area.touch_all();
        Ok(Self { area })
    }

    /// The whole mapping (`/secretmem (deleted)` in `/proc/PID/maps`).
    pub fn region(&self) -> Span {
        self.area.region()
    }

    /// Slot, scratch and the work stack, all inside the mapping.
    pub fn parts(&mut self) -> StoreParts<'_> {
        self.area.parts()
    }
}

/// Turns a failed `memfd_secret` into an error that names the cause.
fn open_error(errno: Errno) -> ProtectError {
    match errno {
        Errno::ENOSYS => {
            let detail = match std::fs::read_to_string(ENABLE_PARAM) {
                Ok(v) if v.trim() == "N" || v.trim() == "0" => {
                    "secretmem is disabled on this kernel (secretmem.enable=0; it is off by \
                     default before Linux 6.5): boot with secretmem.enable=1"
                        .to_string()
                }
                _ => format!(
                    "the running kernel ({}) has no memfd_secret: it needs Linux >= 5.14 built \
                     with CONFIG_SECRETMEM=y (and before 6.5, booted with secretmem.enable=1)",
                    kernel_release()
                ),
            };
            ProtectError::SecretMemUnavailable { detail }
        }
        Errno::EPERM | Errno::ENOMEM | Errno::EAGAIN => {
            let (soft, hard) = memlock_limits();
            ProtectError::MemlockLimit {
                op: "memfd_secret",
                len: 0,
                errno,
                soft,
                hard,
            }
        }
        errno => ProtectError::Sys {
            op: "memfd_secret",
            errno,
        },
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_cause() {
        let enosys = open_error(Errno::ENOSYS).to_string();
        assert!(enosys.contains("ENOSYS"), "{enosys}");
        assert!(enosys.contains("secretmem.enable=1"), "{enosys}");
        let limit = open_error(Errno::EAGAIN).to_string();
        assert!(limit.contains("RLIMIT_MEMLOCK"), "{limit}");
        assert!(limit.contains("soft"), "{limit}");
    }
}
