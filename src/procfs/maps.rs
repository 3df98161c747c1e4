//! `/proc/PID/maps` and the `VmFlags` lines of `/proc/PID/smaps`.
//!
//! The parsers are pure functions over text so they can be tested on fixtures; the text is
//! treated as untrusted (a line that does not parse is an error naming the line, not a panic).

use std::io;

use crate::model::Span;

/// Errors reading or parsing maps.
#[derive(Debug, thiserror::Error)]
pub enum MapsError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// Which file.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A line did not have the expected shape.
    #[error("{path} line {line}: cannot parse {text:?}")]
    Parse {
        /// Which file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The offending text (truncated).
        text: String,
    },
}

/// One line of `/proc/PID/maps`, plus the smaps `VmFlags` when they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Addresses covered.
    pub span: Span,
    /// `r` permission.
    pub read: bool,
    /// `w` permission.
    pub write: bool,
    /// `x` permission.
    pub exec: bool,
    /// `s` (shared) rather than `p` (private).
    pub shared: bool,
    /// Offset into the mapped file.
    pub offset: u64,
    /// Device, as `maj:min` text.
    pub dev: String,
    /// Inode of the mapped file; 0 for anonymous memory.
    pub inode: u64,
    /// Path or pseudo-name (`[heap]`, `[stack]`, `/memfd:x (deleted)`, `/secretmem (deleted)`);
    /// empty for anonymous memory.
    pub name: String,
    /// Two-letter smaps VmFlags (`rd`, `dd`, `io`, ...), empty unless read from smaps.
    pub vm_flags: Vec<String>,
    /// smaps `Anonymous:` in kB (pages of a file mapping that were written), when known.
    pub anonymous_kb: Option<u64>,
}

impl Mapping {
    /// The name reports show: the path, or `[anon]` for unnamed memory.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            "[anon]"
        } else {
            &self.name
        }
    }
    /// `rw-p` style permission text.
    pub fn perms(&self) -> String {
        format!(
            "{}{}{}{}",
            if self.read { 'r' } else { '-' },
            if self.write { 'w' } else { '-' },
            if self.exec { 'x' } else { '-' },
            if self.shared { 's' } else { 'p' }
        )
    }
    /// True when smaps listed VmFlag `flag` (e.g. `dd` for MADV_DONTDUMP).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.vm_flags.iter().any(|f| f == flag)
    }
    /// Private anonymous memory (heap, stacks, malloc arenas): never-touched pages read as
    /// zeros, so a dumper may leave them as file holes.
    pub fn is_private_anonymous(&self) -> bool {
        !self.shared
            && self.inode == 0
            && (self.name.is_empty() || self.name == "[heap]" || self.name.starts_with("[stack"))
    }
    /// Backed by a file on disk (its content can be read back from the file).
    pub fn is_file_backed(&self) -> bool {
        self.inode != 0 && self.name.starts_with('/')
    }
}

/// Parses the text of `/proc/PID/maps`. `path` only names the file in errors.
pub fn parse_maps(text: &str, path: &str) -> Result<Vec<Mapping>, MapsError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_maps_line(l).ok_or_else(|| MapsError::Parse {
                path: path.to_string(),
                line: i + 1,
                text: l.chars().take(120).collect(),
            })
        })
        .collect()
}

fn parse_maps_line(line: &str) -> Option<Mapping> {
    // address perms offset dev inode [name...]; the name may contain spaces.
    let mut rest = line;
    let mut field = || -> Option<&str> {
        let t = rest.trim_start_matches(' ');
        let end = t.find(' ').unwrap_or(t.len());
        let (f, r) = t.split_at(end);
        rest = r;
        (!f.is_empty()).then_some(f)
    };
    let addr = field()?;
    let perms = field()?.as_bytes();
    let offset = u64::from_str_radix(field()?, 16).ok()?;
    let dev = field()?.to_string();
    let inode = field()?.parse::<u64>().ok()?;
    let name = rest.trim_start_matches(' ').to_string();
    let (s, e) = addr.split_once('-')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    if end < start || perms.len() != 4 {
        return None;
    }
    Some(Mapping {
        span: Span::new(start, end),
        read: perms.first() == Some(&b'r'),
        write: perms.get(1) == Some(&b'w'),
        exec: perms.get(2) == Some(&b'x'),
        shared: perms.get(3) == Some(&b's'),
        offset,
        dev,
        inode,
        name,
        vm_flags: Vec::new(),
        anonymous_kb: None,
    })
}

/// Parses `/proc/PID/smaps`: every mapping with its `VmFlags` and `Anonymous:` size.
pub fn parse_smaps(text: &str, path: &str) -> Result<Vec<Mapping>, MapsError> {
    let mut out: Vec<Mapping> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some(m) = out.last_mut() {
                m.vm_flags = flags.split_whitespace().map(str::to_string).collect();
            }
        } else if let Some(kb) = line.strip_prefix("Anonymous:") {
            if let Some(m) = out.last_mut() {
                m.anonymous_kb = kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok();
            }
        } else if is_smaps_header(line) {
            out.push(parse_maps_line(line).ok_or_else(|| MapsError::Parse {
                path: path.to_string(),
                line: i + 1,
                text: line.chars().take(120).collect(),
            })?);
        }
    }
    Ok(out)
}

/// A mapping header line starts with `hex-hex `; field lines start with `Name:`.
fn is_smaps_header(line: &str) -> bool {
    let first = line.split(' ').next().unwrap_or("");
    first.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_hexdigit())
            && b.bytes().all(|c| c.is_ascii_hexdigit())
    })
}

/// Reads and parses `/proc/PID/maps`.
pub fn read_maps(pid: i32) -> Result<Vec<Mapping>, MapsError> {
    let path = super::proc_path(pid, "maps");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| MapsError::Io {
        path: shown.clone(),
        source,
    })?;
    parse_maps(&text, &shown)
}

/// Reads and parses `/proc/PID/smaps` (maps plus VmFlags).
pub fn read_smaps(pid: i32) -> Result<Vec<Mapping>, MapsError> {
    let path = super::proc_path(pid, "smaps");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| MapsError::Io {
        path: shown.clone(),
        source,
    })?;
    parse_smaps(&text, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
7f1c2a000000-7f1c2a001000 rw-s 00000000 00:01 1234                       /secretmem (deleted)
7f1c2b000000-7f1c2b1c0000 r-xp 00028000 fe:01 393231                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c2c000000-7f1c2c004000 rw-p 00000000 00:00 0 
7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0                          [stack]
7ffd1a0fe000-7ffd1a100000 r--p 00000000 00:00 0                          [vvar]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    #[test]
    fn parses_names_perms_and_anonymity() {
        let maps = parse_maps(MAPS, "fixture").unwrap();
        assert_eq!(maps.len(), 7);
        assert_eq!(maps[0].name, "[heap]");
        assert!(maps[0].is_private_anonymous());
        assert_eq!(maps[1].name, "/secretmem (deleted)");
        assert!(maps[1].shared && !maps[1].is_private_anonymous());
        assert_eq!(maps[2].offset, 0x28000);
        assert_eq!(maps[2].perms(), "r-xp");
        assert!(maps[2].is_file_backed());
        assert_eq!(maps[3].display_name(), "[anon]");
        assert_eq!(maps[6].span.start, 0xffffffffff600000);
    }

    #[test]
    fn names_keep_their_spaces() {
        let m = parse_maps(
            "1000-2000 r--p 00000000 fe:01 7 /tmp/a b c (deleted)\n",
            "x",
        )
        .unwrap();
        assert_eq!(m[0].name, "/tmp/a b c (deleted)");
    }

    #[test]
    fn bad_line_is_an_error_naming_the_line() {
        let err = parse_maps("1000-2000 r--p 0 fe:01 7\nnonsense\n", "fx").unwrap_err();
        assert!(err.to_string().contains("fx line 2"), "{err}");
    }

    #[test]
    fn smaps_flags_attach_to_their_mapping() {
        let text = "\
7f00-8f00 rw-p 00000000 00:00 0 
Size:                  4 kB
Anonymous:             4 kB
VmFlags: rd wr mr mw me dd ac sd
9000-a000 r--p 00000000 00:00 0                          [vvar]
VmFlags: rd mr pf io de dd sd
";
        let m = parse_smaps(text, "s").unwrap();
        assert_eq!(m.len(), 2);
        assert!(m[0].has_flag("dd"));
        assert_eq!(m[0].anonymous_kb, Some(4));
        assert!(m[1].has_flag("io"));
    }
}
