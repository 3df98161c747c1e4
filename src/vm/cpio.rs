//! A writer for the `newc` cpio format, the one format the Linux kernel unpacks as an
//! initramfs. It writes only what a guest's `/init` needs: directories, character device nodes
//! and regular files, all owned by root. No external tools (`cpio`, busybox) are involved.
//!
//! Format (kernel `Documentation/driver-api/early-userspace/buffer-format.rst`): each entry is
//! the magic `070701`, thirteen 8-digit uppercase hex fields, the NUL-terminated name padded to
//! a multiple of 4 bytes (counting the 110-byte header), then the data padded to 4 bytes. The
//! archive ends with an entry named `TRAILER!!!`.

use std::io::{self, Write};

/// File type bits of `st_mode`.
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;

/// Errors of the cpio writer.
#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    /// A name or file does not fit the format's 32-bit fields.
    #[error("cpio entry {name:?} is too large for the newc format")]
    TooLarge {
        /// The entry.
        name: String,
    },
    /// Writing failed.
    #[error("writing the initramfs: {0}")]
    Io(#[from] io::Error),
}

/// Streams a newc archive into `W`.
pub struct CpioWriter<W: Write> {
    out: W,
    /// Bytes written so far, for padding.
    written: u64,
    /// Inode numbers only need to be distinct within the archive.
    next_ino: u32,
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive.
    pub fn new(out: W) -> Self {
        Self {
            out,
            written: 0,
            next_ino: 1,
        }
    }

    /// A directory, mode `perm` (e.g. 0o755).
    pub fn dir(&mut self, name: &str, perm: u32) -> Result<(), CpioError> {
        self.entry(name, S_IFDIR | perm, 2, (0, 0), &[])
    }

    /// A character device node `major:minor`.
    pub fn char_dev(
        &mut self,
        name: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), CpioError> {
        self.entry(name, S_IFCHR | perm, 1, (major, minor), &[])
    }

    /// A regular file with `data`.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> Result<(), CpioError> {
        self.entry(name, S_IFREG | perm, 1, (0, 0), data)
    }

    /// Writes the trailer and returns the writer.
    pub fn finish(mut self) -> Result<W, CpioError> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<(), CpioError> {
        let too_large = || CpioError::TooLarge {
            name: name.to_string(),
        };
        let filesize = u32::try_from(data.len()).map_err(|_| too_large())?;
        // The name size counts the terminating NUL.
        let namesize = u32::try_from(name.len() + 1).map_err(|_| too_large())?;
        let ino = if name == "TRAILER!!!" {
            0
        } else {
            self.next_ino
        };
        self.next_ino = self.next_ino.wrapping_add(1);
        let fields = [
            ino, mode, 0, // uid
            0, // gid
            nlink, 0, // mtime: reproducible archives
            filesize, 0, // devmajor
            0, // devminor
            rdev.0, rdev.1, namesize, 0, // check (unused by newc)
        ];
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for f in fields {
            header.push_str(&format!("{f:08X}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CpioError> {
        self.out.write_all(bytes)?;
        // usize -> u64 never truncates on the 64-bit targets we build for.
        self.written = self.written.saturating_add(bytes.len() as u64);
        Ok(())
    }

    fn pad(&mut self) -> Result<(), CpioError> {
        let rem = self.written % 4;
        if rem != 0 {
            let zeros = [0u8; 3];
            let n = usize::try_from(4 - rem).unwrap_or(0);
            self.put(zeros.get(..n).unwrap_or(&[]))?;
        }
        Ok(())
    }
}

/// The initramfs a guest victim needs: `/dev/console` (5:1, or `/init`'s output goes nowhere),
/// the mount points `/dev`, `/proc`, `/sys`, `/tmp`, and `init` as `/init`.
pub fn guest_initramfs(init: &[u8]) -> Result<Vec<u8>, CpioError> {
    let mut w = CpioWriter::new(Vec::with_capacity(init.len() + 4096));
    for d in ["dev", "proc", "sys", "tmp"] {
        w.dir(d, 0o755)?;
    }
    w.char_dev("dev/console", 0o600, 5, 1)?;
    w.file("init", 0o755, init)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses the archive back: (name, mode, rdevmajor, rdevminor, data).
    fn parse(mut a: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut off = 0usize;
        loop {
            assert_eq!(&a[..6], b"070701");
            let field = |i: usize| {
                let s = std::str::from_utf8(&a[6 + i * 8..6 + i * 8 + 8]).unwrap();
                u32::from_str_radix(s, 16).unwrap()
            };
            let (mode, size, maj, min, namesize) =
                (field(1), field(6), field(9), field(10), field(11));
            let name_end = 110 + namesize as usize;
            let name = std::str::from_utf8(&a[110..name_end - 1])
                .unwrap()
                .to_string();
            assert_eq!(a[name_end - 1], 0);
            let data_start = (off + name_end).next_multiple_of(4) - off;
            let data = a[data_start..data_start + size as usize].to_vec();
            let next = (off + data_start + size as usize).next_multiple_of(4) - off;
            off += next;
            a = &a[next..];
            if name == "TRAILER!!!" {
                assert!(a.is_empty());
                return out;
            }
            out.push((name, mode, maj, min, data));
        }
    }

    #[test]
    fn initramfs_has_console_dirs_and_init() {
        let arch = guest_initramfs(b"\x7fELF-ish init").unwrap();
        assert_eq!(arch.len() % 4, 0);
        let entries = parse(&arch);
        let names: Vec<_> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "proc", "sys", "tmp", "dev/console", "init"]);
        let console = &entries[4];
        assert_eq!((console.1, console.2, console.3), (0o020_600, 5, 1));
        let init = &entries[5];
        assert_eq!(init.1, 0o100_755);
        assert_eq!(init.4, b"\x7fELF-ish init");
    }

    #[test]
    fn odd_sizes_are_padded() {
        for len in 0..9 {
            let data = vec![0xAB; len];
            let mut w = CpioWriter::new(Vec::new());
            w.file("a", 0o644, &data).unwrap();
            w.file("bb", 0o644, &data).unwrap();
            let arch = w.finish().unwrap();
            let e = parse(&arch);
            assert_eq!(e[0].4, data);
            assert_eq!(e[1].4, data);
        }
    }
}
