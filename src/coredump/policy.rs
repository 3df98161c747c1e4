//! Which mappings go into the core.
//!
//! The default is the *attacker's* policy: everything, `MADV_DONTDUMP` (`dd`) and `---p`
//! mappings included, because root reading `/proc/PID/mem` is not bound by either. The
//! `like-gcore` policy reproduces the rules of gdb's `gcore` (gdb/linux-tdep.c,
//! `dump_mapping_p`): skip `dd`, honour `/proc/PID/coredump_filter`, skip mappings with no
//! permissions. What is left out is *absent*, never "unreadable": it was not even tried.

use crate::procfs::maps::Mapping;

/// `coredump_filter` bit 0: anonymous private memory.
pub const FILTER_ANON_PRIVATE: u32 = 1 << 0;
/// Bit 1: anonymous shared memory.
pub const FILTER_ANON_SHARED: u32 = 1 << 1;
/// Bit 2: file-backed private memory.
pub const FILTER_FILE_PRIVATE: u32 = 1 << 2;
/// Bit 3: file-backed shared memory.
pub const FILTER_FILE_SHARED: u32 = 1 << 3;
/// Bit 4: ELF headers (the mapping that starts with one).
pub const FILTER_ELF_HEADERS: u32 = 1 << 4;

/// Which mappings to dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Every mapping, `dd` and `---p` included: what root can actually read.
    #[default]
    Attacker,
    /// gdb's `gcore` rules: `dd` and filtered mappings left out.
    LikeGcore,
}

impl Policy {
    /// The name written in our note: `attacker` or `like-gcore`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Policy::Attacker => "attacker",
            Policy::LikeGcore => "like-gcore",
        }
    }
}

/// Anonymous in gdb's sense: no inode, or one of the kernel's names for anonymous shared
/// memory.
fn gdb_anonymous(m: &Mapping) -> bool {
    m.inode == 0 || m.name.starts_with("/dev/zero") || m.name.starts_with("/SYSV")
}

/// Why gdb's gcore leaves a mapping out of its core: the reason our `like-gcore` core's note
/// gives for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeftOut {
    /// `MADV_DONTDUMP`.
    #[error("MADV_DONTDUMP (dd): {AS_GCORE}")]
    DontDump,
    /// No read, write or execute permission (the mapping's `perms`).
    #[error("no permissions ({0}): {AS_GCORE}")]
    NoPermissions(String),
    /// The `coredump_filter` bit for this kind of mapping is clear.
    #[error("coredump_filter {filter:#x}: {bit} is clear: {AS_GCORE}")]
    Filter {
        /// The process's `coredump_filter`.
        filter: u32,
        /// The bit, with its meaning (`bit 0 (anonymous private)`).
        bit: &'static str,
    },
}

const AS_GCORE: &str = "left out, as gdb's gcore does";

/// `Ok(())` when gdb's gcore would dump `m` under `filter`; otherwise the reason it is left out.
/// `starts_with_elf_header` is asked only when the ELF-header rule could decide.
pub fn gcore_decision(
    m: &Mapping,
    filter: u32,
    starts_with_elf_header: impl FnOnce() -> bool,
) -> Result<(), LeftOut> {
    if m.has_flag("dd") {
        return Err(LeftOut::DontDump);
    }
    if !m.read && !m.write && !m.exec {
        return Err(LeftOut::NoPermissions(m.perms()));
    }
    let anon = gdb_anonymous(m);
    let (dump, bit_name) = if m.shared {
        if anon {
            (filter & FILTER_ANON_SHARED != 0, "bit 1 (anonymous shared)")
        } else {
            (
                filter & FILTER_FILE_SHARED != 0,
                "bit 3 (file-backed shared)",
            )
        }
    } else if anon {
        (
            filter & FILTER_ANON_PRIVATE != 0,
            "bit 0 (anonymous private)",
        )
    } else {
        // A private file mapping whose pages were written holds anonymous copies: gdb dumps
        // it under the anonymous-private bit too.
        let written = m.anonymous_kb.is_some_and(|kb| kb > 0);
        (
            filter & FILTER_FILE_PRIVATE != 0 || (written && filter & FILTER_ANON_PRIVATE != 0),
            "bit 2 (file-backed private)",
        )
    };
    if dump {
        return Ok(());
    }
    if !m.shared && m.offset == 0 && filter & FILTER_ELF_HEADERS != 0 && starts_with_elf_header() {
        return Ok(());
    }
    Err(LeftOut::Filter {
        filter,
        bit: bit_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::maps::parse_smaps;

    fn one(text: &str) -> Mapping {
        parse_smaps(text, "t").unwrap().remove(0)
    }

    #[test]
    fn dd_and_no_perms_are_left_out() {
        let m = one("1000-2000 rw-p 00000000 00:00 0 \nVmFlags: rd wr dd\n");
        let r = gcore_decision(&m, 0x33, || false).unwrap_err().to_string();
        assert_eq!(r, "MADV_DONTDUMP (dd): left out, as gdb's gcore does");
        let m = one("1000-2000 ---p 00000000 00:00 0 \nVmFlags: mr\n");
        assert!(gcore_decision(&m, 0x33, || false).is_err());
    }

    #[test]
    fn default_filter_rules() {
        let anon = one("1000-2000 rw-p 00000000 00:00 0 \nVmFlags: rd wr\n");
        assert!(gcore_decision(&anon, 0x33, || false).is_ok());
        assert!(gcore_decision(&anon, 0x32, || false).is_err());
        let lib = one("1000-2000 r-xp 00001000 fe:01 7 /usr/lib/libc.so.6\nAnonymous: 0 kB\n");
        assert!(gcore_decision(&lib, 0x33, || false).is_err());
        let data = one("1000-2000 rw-p 00001000 fe:01 7 /usr/lib/libc.so.6\nAnonymous: 4 kB\n");
        assert!(gcore_decision(&data, 0x33, || false).is_ok());
        let hdr = one("1000-2000 r--p 00000000 fe:01 7 /usr/lib/libc.so.6\nAnonymous: 0 kB\n");
        assert!(gcore_decision(&hdr, 0x33, || true).is_ok());
        assert!(gcore_decision(&hdr, 0x23, || true).is_err());
        let shm = one("1000-2000 rw-s 00000000 00:05 9 /memfd:x (deleted)\n");
        let r = gcore_decision(&shm, 0x33, || false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            r,
            "coredump_filter 0x33: bit 3 (file-backed shared) is clear: left out, as gdb's gcore does"
        );
        let sysv = one("1000-2000 rw-s 00000000 00:01 9 /SYSV00000000 (deleted)\n");
        assert!(gcore_decision(&sysv, 0x33, || false).is_ok());
    }
}
