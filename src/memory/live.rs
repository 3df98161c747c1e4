//! Reading a live process's memory: `process_vm_readv`, with `/proc/PID/mem` as the fallback.
//!
//! `process_vm_readv` is the fast path (one copy, no file descriptor per read). It refuses some
//! memory that `/proc/PID/mem` can still read (it does not use FOLL_FORCE, so PROT_NONE pages
//! fail), so every failed read is retried through `/proc/PID/mem` before it is called
//! unreadable. What both refuse (memfd_secret: EIO/EFAULT, VM_IO/VM_PFNMAP mappings such as
//! `[vvar]` and SGX enclaves) is reported with the errno of the `/proc/PID/mem` read, the
//! interface gdb itself uses.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

use super::alive::Liveness;
use super::{FileBacking, MemorySource, ReadError, RegionKind, SourceRegion};
use crate::procfs::maps::{self, Mapping, MapsError};
use crate::procfs::pagemap::Pagemap;

/// Ranges per `process_vm_readv` call: the kernel refuses more than `UIO_MAXIOV` (1024).
const IOV_MAX: usize = 1024;

/// Errors opening a live process for reading.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No such process (or it is already gone).
    #[error("no process with PID {pid}")]
    NoSuchProcess {
        /// The PID asked for.
        pid: i32,
    },
    /// The process exited (or was killed) while it was being read: failed reads may be the
    /// death and not a refusal, so nothing read from it may be reported.
    #[error("pid {pid} exited during the {during}: the result proves nothing")]
    Exited {
        /// The PID.
        pid: i32,
        /// `dump`, `scan`.
        during: &'static str,
    },
    /// `/proc/PID/maps` could not be read or parsed.
    #[error(transparent)]
    Maps(#[from] MapsError),
    /// The kernel refused access to the process; `why` names the rule and what to do.
    #[error("cannot read pid {pid}: {why}")]
    Refused {
        /// The PID.
        pid: i32,
        /// The rule that refused, and the remedy (see [`super::refusal`]).
        why: String,
        /// The errno the kernel gave (EACCES, EPERM).
        errno: i32,
    },
    /// `/proc/PID/mem` could not be opened.
    #[error("opening /proc/{pid}/mem: {source}")]
    OpenMem {
        /// The PID.
        pid: i32,
        /// The underlying error (EACCES without CAP_SYS_PTRACE, for instance).
        source: std::io::Error,
    },
}

impl LiveError {
    /// The errno when the kernel refused access to the process (EACCES, EPERM on its maps or
    /// mem file): a refusal by a real mechanism, not a failure of ours.
    pub fn refused_errno(&self) -> Option<i32> {
        let io = match self {
            LiveError::Maps(MapsError::Io { source, .. }) | LiveError::OpenMem { source, .. } => {
                source
            }
            // An explained refusal (reliability's rules) is still the kernel's refusal.
            LiveError::Refused { errno, .. } => return Some(*errno),
            _ => return None,
        };
        io.raw_os_error()
            .filter(|e| *e == libc::EACCES || *e == libc::EPERM)
    }
}

/// A live process as a [`MemorySource`]. It does not stop the process: reads see memory as it
/// is at the moment of each read. (The dumper stops the threads around its snapshot; see
/// [`super::ptrace`].)
pub struct LiveProcess {
    pid: i32,
    liveness: Liveness,
    /// Set once a failed read found the process gone: later reads fail at once.
    gone: AtomicBool,
    mem: File,
    mappings: Vec<Mapping>,
    regions: Vec<SourceRegion>,
    /// `/proc/PID/pagemap`, opened on first use (`None` when it cannot be opened: then every
    /// page is read).
    pagemap: OnceLock<Option<Pagemap>>,
    /// Read through `/proc/PID/mem` only (see [`LiveProcess::read_through_proc_mem`]).
    proc_mem_only: bool,
}

impl LiveProcess {
    /// Opens `pid`: reads its maps (with smaps flags when `with_flags`) and opens
    /// `/proc/PID/mem`.
    pub fn open(pid: i32, with_flags: bool) -> Result<Self, LiveError> {
        if pid <= 0 || !crate::procfs::proc_path(pid, "").exists() {
            return Err(LiveError::NoSuchProcess { pid });
        }
        // Taken first, so that whatever is read below belongs to this process's life.
        let liveness = Liveness::open(pid);
        let mappings = if with_flags {
            maps::read_smaps(pid)
        } else {
            maps::read_maps(pid)
        };
        let mappings = match mappings {
            Ok(m) => m,
            // Reading maps needs the same permission as attaching: say which rule refused.
            Err(e) => match super::refusal::explain(&super::refusal::gather(pid)) {
                Some(why) => {
                    let errno = match &e {
                        MapsError::Io { source, .. } => source.raw_os_error(),
                        _ => None,
                    };
                    return Err(LiveError::Refused {
                        pid,
                        why,
                        errno: errno.unwrap_or(libc::EACCES),
                    });
                }
                None => return Err(e.into()),
            },
        };
        let mem = File::open(crate::procfs::proc_path(pid, "mem")).map_err(|source| {
            let errno = source.raw_os_error();
            let refused = matches!(errno, Some(libc::EACCES | libc::EPERM));
            match refused.then(|| super::refusal::explain(&super::refusal::gather(pid))) {
                Some(Some(why)) => LiveError::Refused {
                    pid,
                    why,
                    errno: errno.unwrap_or(libc::EACCES),
                },
                _ => LiveError::OpenMem { pid, source },
            }
        })?;
        let regions = mappings
            .iter()
            .map(|m| SourceRegion {
                span: m.span,
                name: m.display_name().to_string(),
                kind: RegionKind::Readable,
                offset: Some(m.span.start),
            })
            .collect();
        Ok(Self {
            pid,
            liveness,
            gone: AtomicBool::new(false),
            mem,
            mappings,
            regions,
            pagemap: OnceLock::new(),
            proc_mem_only: false,
        })
    }

    /// The PID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The mappings as read when the process was opened.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Reads with `process_vm_readv` only; `Err(errno)` when it did not deliver every byte.
    pub fn read_vm(&self, addr: u64, buf: &mut [u8]) -> Result<(), i32> {
        let len = buf.len();
        let remote = [RemoteIoVec {
            base: usize::try_from(addr).map_err(|_| libc::EFAULT)?,
            len,
        }];
        let mut local = [IoSliceMut::new(buf)];
        match process_vm_readv(Pid::from_raw(self.pid), &mut local, &remote) {
            Ok(n) if n == len => Ok(()),
            // A short read stops at the first unreadable page: report it as a fault.
            Ok(_) => Err(libc::EFAULT),
            Err(e) => Err(e as i32),
        }
    }

    /// Reads every part with `process_vm_readv` only, [`IOV_MAX`] ranges per call;
    /// `Err(errno)` when a call did not deliver every byte.
    pub fn read_vm_parts(&self, parts: &mut [(u64, &mut [u8])]) -> Result<(), i32> {
        for group in parts.chunks_mut(IOV_MAX) {
            let mut remote = Vec::with_capacity(group.len());
            let mut want = 0usize;
            for (addr, buf) in group.iter() {
                remote.push(RemoteIoVec {
                    base: usize::try_from(*addr).map_err(|_| libc::EFAULT)?,
                    len: buf.len(),
                });
                want = want.saturating_add(buf.len());
            }
            let mut local: Vec<IoSliceMut<'_>> =
                group.iter_mut().map(|(_, b)| IoSliceMut::new(b)).collect();
            match process_vm_readv(Pid::from_raw(self.pid), &mut local, &remote) {
                Ok(n) if n == want => {}
                // A short read stops at the first unreadable page: report it as a fault.
                Ok(_) => return Err(libc::EFAULT),
                Err(e) => return Err(e as i32),
            }
        }
        Ok(())
    }

    /// Reads through `/proc/PID/mem` only, never `process_vm_readv`. For a copy-on-write
    /// snapshot ([`super::fork_snapshot`]): `process_vm_readv` pins the pages it reads, and the
    /// kernel unshares a shared anonymous page before pinning it, so reading a 2 GiB snapshot
    /// copied all 2 GiB, several times slower (measurements: docs/performance.md, "Design
    /// measurements"); `/proc/PID/mem` reads without pinning.
    pub fn read_through_proc_mem(mut self) -> Self {
        self.proc_mem_only = true;
        self
    }

    /// Reads with `pread` on `/proc/PID/mem` only. End of file means the address space is
    /// gone (the process exited or exec'd: the kernel's `mmget_not_zero` failed), never a
    /// refusal, which is an errno: it is reported as `ESRCH`.
    pub fn read_mem(&self, addr: u64, buf: &mut [u8]) -> Result<(), i32> {
        self.mem
            .read_exact_at(buf, addr)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => libc::ESRCH,
                _ => e.raw_os_error().unwrap_or(libc::EIO),
            })
    }

    /// True while the process is alive (see [`super::alive`]).
    pub fn is_alive(&self) -> bool {
        !self.gone.load(Ordering::Relaxed) && self.liveness.is_alive()
    }

    /// Fails with [`LiveError::Exited`] unless the process is still alive. Called after the
    /// last read of a dump or scan: a process alive now was alive at every earlier failure,
    /// so each failure was a refusal.
    pub fn ensure_alive(&self, during: &'static str) -> Result<(), LiveError> {
        if self.is_alive() {
            Ok(())
        } else {
            Err(LiveError::Exited {
                pid: self.pid,
                during,
            })
        }
    }

    fn gone_error() -> ReadError {
        ReadError {
            errno: Some(libc::ESRCH),
            reason: "ESRCH: the process exited during the read".to_string(),
        }
    }
}

impl MemorySource for LiveProcess {
    fn describe(&self) -> String {
        format!("pid {} (live)", self.pid)
    }

    fn regions(&self) -> &[SourceRegion] {
        &self.regions
    }

    fn file_backing(&self, addr: u64) -> Option<FileBacking> {
        let m = self.mappings.iter().find(|m| m.span.contains(addr))?;
        if !m.is_file_backed() || m.name.ends_with(" (deleted)") {
            return None;
        }
        // map_files names the mapping by its exact range, in lowercase hex without 0x.
        let link = format!("map_files/{:x}-{:x}", m.span.start, m.span.end);
        Some(FileBacking {
            path: m.name.clone(),
            offset: m.offset.checked_add(addr - m.span.start)?,
            mapping_end: m.span.end,
            open_path: crate::procfs::proc_path(self.pid, &link),
            magic_link: true,
            private: Some(!m.shared),
        })
    }

    fn unpopulated_zeros(&self, addr: u64) -> Option<(&Pagemap, u64)> {
        // `mappings` and `regions` are the same list, in the same order.
        let i = self.regions.partition_point(|r| r.span.end <= addr);
        let m = self.mappings.get(i).filter(|m| m.span.contains(addr))?;
        if !m.is_private_anonymous() {
            return None;
        }
        let pm = self
            .pagemap
            .get_or_init(|| Pagemap::open(self.pid).ok())
            .as_ref()?;
        Some((pm, m.span.end))
    }

    fn read_parts_at(&self, parts: &mut [(u64, &mut [u8])]) -> Result<(), ReadError> {
        if self.gone.load(Ordering::Relaxed) {
            return Err(Self::gone_error());
        }
        if self.proc_mem_only {
            for (addr, buf) in parts.iter_mut() {
                self.read_mem(*addr, buf).map_err(ReadError::from_errno)?;
            }
            return Ok(());
        }
        // Only the fast path: on any failure the caller reads part by part, which retries
        // through /proc/PID/mem and tells a refusal from a death.
        self.read_vm_parts(parts).map_err(ReadError::from_errno)
    }

    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if self.gone.load(Ordering::Relaxed) {
            return Err(Self::gone_error());
        }
        if !self.proc_mem_only && self.read_vm(addr, buf).is_ok() {
            return Ok(());
        }
        let errno = match self.read_mem(addr, buf) {
            Ok(()) => return Ok(()),
            Err(errno) => errno,
        };
        // A refusal only if the process is still there after the failure.
        if errno == libc::ESRCH || !self.liveness.is_alive() {
            self.gone.store(true, Ordering::Relaxed);
            return Err(Self::gone_error());
        }
        Err(ReadError::from_errno(errno))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_both_ways() {
        let data = b"confidump-live-reader-test".to_vec();
        let me = LiveProcess::open(std::process::id() as i32, false).unwrap();
        let addr = data.as_ptr() as u64;
        let mut a = vec![0u8; data.len()];
        me.read_vm(addr, &mut a).unwrap();
        assert_eq!(a, data);
        let mut b = vec![0u8; data.len()];
        me.read_mem(addr, &mut b).unwrap();
        assert_eq!(b, data);
        assert!(me.region_at(addr).is_some());
    }

    #[test]
    fn missing_process_is_a_clear_error() {
        let err = LiveProcess::open(i32::MAX, false).err().unwrap();
        assert!(err.to_string().contains("no process"), "{err}");
        assert_eq!(err.refused_errno(), None);
    }

    #[test]
    fn only_eacces_and_eperm_are_refusals() {
        let open = |errno| LiveError::OpenMem {
            pid: 1,
            source: std::io::Error::from_raw_os_error(errno),
        };
        assert_eq!(open(libc::EACCES).refused_errno(), Some(libc::EACCES));
        assert_eq!(open(libc::EPERM).refused_errno(), Some(libc::EPERM));
        assert_eq!(open(libc::ENOENT).refused_errno(), None);
        let maps = LiveError::Maps(MapsError::Io {
            path: "/proc/1/maps".into(),
            source: std::io::Error::from_raw_os_error(libc::EACCES),
        });
        assert_eq!(maps.refused_errno(), Some(libc::EACCES));
    }
}
