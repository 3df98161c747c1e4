//! Checking what a trainee hands in: an answer (typed, or bytes in a file) or, for exercises
//! whose right outcome is "it cannot be read", a core dump that proves it.
//!
//! Only the salted hash of the secret is known here. A file or a core is searched for every
//! window shaped like a secret (`CONFIDUMP-` and 24 hex digits, as ASCII and as UTF-16LE),
//! and each window is hashed and compared: "the secret is not in it" is checked against every
//! candidate, not guessed.

use std::path::Path;

use memchr::memmem;

use super::state::{Record, Running};
use crate::coredump::reader::CoreFile;
use crate::memory::{MemorySource, RegionKind};
use crate::model::{parse_hex_addr, Texts};

/// `CONFIDUMP-` + 24 hex digits.
const PREFIX: &[u8] = b"CONFIDUMP-";
const HEX_LEN: usize = 24;
const SECRET_LEN: usize = 34;
/// Largest answer file read whole (a core is read region by region).
const MAX_ANSWER_FILE: u64 = 16 * 1024 * 1024;

/// What a check concluded, with what it found in the languages the lab speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Right: the secret, or a valid proof (with what the proof showed).
    Accepted(Texts),
    /// Not right, and why.
    Rejected(Texts),
}

/// Why a submission could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The file could not be read.
    #[error("{path}: {detail}")]
    File {
        /// The path.
        path: String,
        /// Why.
        detail: String,
    },
    /// Not a regular file, or over the cap (the message names the file).
    #[error(transparent)]
    Input(crate::files::input::InputError),
    /// An ELF file that is no readable core (the message names the file once).
    #[error(transparent)]
    Core(crate::coredump::reader::CoreError),
}

/// Does any secret-shaped window of `bytes` match `record`? Also accepts `bytes` that are,
/// after trimming white space, the secret itself.
pub fn bytes_hold_secret(record: &Record, bytes: &[u8]) -> bool {
    if record.matches(bytes.trim_ascii()) {
        return true;
    }
    windows(bytes).any(|w| record.matches(&w))
}

/// Every secret-shaped window of `bytes`, ASCII and UTF-16LE (decoded to ASCII).
fn windows(bytes: &[u8]) -> impl Iterator<Item = zeroize::Zeroizing<Vec<u8>>> + '_ {
    let ascii = memmem::find_iter(bytes, PREFIX).filter_map(move |at| {
        let w = bytes.get(at..at + SECRET_LEN)?;
        shaped(w).then(|| zeroize::Zeroizing::new(w.to_vec()))
    });
    let wide_prefix: Vec<u8> = PREFIX.iter().flat_map(|&b| [b, 0]).collect();
    let wide = memmem::find_iter(bytes, &wide_prefix)
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(move |at| {
            let w = bytes.get(at..at + 2 * SECRET_LEN)?;
            if w.chunks(2).any(|c| c.get(1) != Some(&0)) {
                return None;
            }
            let narrow: Vec<u8> = w.iter().step_by(2).copied().collect();
            shaped(&narrow).then(|| zeroize::Zeroizing::new(narrow))
        });
    ascii.chain(wide)
}

fn shaped(w: &[u8]) -> bool {
    w.len() == SECRET_LEN
        && w.starts_with(PREFIX)
        && w[PREFIX.len()..].iter().all(|b| b.is_ascii_hexdigit())
        && w.len() - PREFIX.len() == HEX_LEN
}

/// What a submitted file is checked as, by the exercise's goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The secret: bytes, or any core, that hold it.
    Answer,
    /// A core of the victim that proves the secret cannot be read.
    UnreadableProof,
    /// Two parts: a core of the database server's backend is the proof that the server never
    /// held the secret; anything else is searched for the secret (the answer part).
    ServerProofOrAnswer,
}

/// Which part of an exercise a submission was checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The secret itself.
    Answer,
    /// A core as proof.
    Proof,
}

/// A core of the backend proves "the server never held it" only if it holds at least this much
/// of the backend's memory: an empty or truncated core proves nothing.
const MIN_SERVER_PROOF: u64 = 1 << 20;

/// Checks a typed answer.
pub fn check_answer(record: &Record, answer: &str) -> Outcome {
    if bytes_hold_secret(record, answer.as_bytes()) {
        Outcome::Accepted(Texts::default())
    } else {
        Outcome::Rejected(Texts::default())
    }
}

/// Checks a file: a core dump is checked as the proof `want` asks for, or searched for the
/// secret; any other file must hold the secret.
pub fn check_file(
    record: &Record,
    running: Option<&Running>,
    path: &Path,
    want: Want,
) -> Result<(Part, Outcome), ProofError> {
    let err = |detail: String| ProofError::File {
        path: path.display().to_string(),
        detail,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".to_string()));
    }
    let mut magic = [0u8; 4];
    let is_elf = {
        use std::io::Read;
        // Opened as every user-named file is (no FIFO wait), whatever it became since the
        // check above.
        crate::files::input::open_user_file(path, u64::MAX, "a submitted file")
            .is_ok_and(|mut f| f.read_exact(&mut magic).is_ok())
            && magic == *b"\x7fELF"
    };
    if is_elf {
        let core = CoreFile::open(path).map_err(ProofError::Core)?;
        let backend = running.and_then(|r| r.backend);
        let of_backend = backend.is_some_and(|b| core.threads().iter().any(|t| t.tid == b));
        return Ok(match want {
            Want::UnreadableProof => (Part::Proof, check_proof(record, running, &core)),
            Want::ServerProofOrAnswer if of_backend => {
                (Part::Proof, check_server_proof(record, backend, &core))
            }
            // The answer is what the trainee found, not a core for the checker to search: a
            // whole core proves only that the process could be dumped.
            Want::Answer | Want::ServerProofOrAnswer => (Part::Answer, core_is_no_answer()),
        });
    }
    if want == Want::UnreadableProof {
        return Ok((
            Part::Proof,
            Outcome::Rejected(Texts::new(
                "this exercise asks for a core dump of the program (an ELF core file)",
                "この演習で提出するのはプログラムのコアダンプ（ELF のコアファイル）だ。",
            )),
        ));
    }
    if meta.len() > MAX_ANSWER_FILE {
        return Err(err(format!(
            "larger than {MAX_ANSWER_FILE} bytes: submit the bytes you found, or a core"
        )));
    }
    let bytes = zeroize::Zeroizing::new(
        crate::files::input::read_user_file(path, MAX_ANSWER_FILE, "an answer file").map_err(
            |e| match e {
                crate::files::input::InputError::Io { source, .. } => err(source.to_string()),
                other => ProofError::Input(other),
            },
        )?,
    );
    Ok((
        Part::Answer,
        if bytes_hold_secret(record, &bytes) {
            Outcome::Accepted(Texts::default())
        } else {
            Outcome::Rejected(Texts::default())
        },
    ))
}

/// A core of the database server's backend proves "the server never held the secret" when it
/// holds a real share of the backend's memory and the secret is in none of its bytes.
fn check_server_proof(record: &Record, backend: Option<i32>, core: &CoreFile) -> Outcome {
    if let Some(why) = backend.and_then(|b| covers_victim(core, b)) {
        return Outcome::Rejected(why);
    }
    let backend = backend.map_or_else(|| "?".to_string(), |b| b.to_string());
    let readable: u64 = core
        .regions()
        .iter()
        .filter(|r| r.kind == RegionKind::Readable)
        .map(|r| r.span.end - r.span.start)
        .sum();
    if readable < MIN_SERVER_PROOF {
        return Outcome::Rejected(Texts::new(
            format!(
                "this core of the backend (pid {backend}) holds only {readable} bytes of its memory: dump all of it (gcore, or confidump dump)"
            ),
            format!(
                "このバックエンド（pid {backend}）のコアにはメモリが {readable} バイトしかない。すべてをダンプすること（gcore か confidump dump）。"
            ),
        ));
    }
    if source_holds_secret(record, core) {
        return Outcome::Rejected(Texts::new(
            format!(
                "the secret IS in this core of the backend (pid {backend}): the server did hold it"
            ),
            format!(
                "バックエンド（pid {backend}）のこのコアに秘密がある。サーバーは秘密を持っていた。"
            ),
        ));
    }
    Outcome::Accepted(Texts::new(
        format!(
            "a core of the backend (pid {backend}), {} MiB of its memory: the secret is in none of its bytes; the server only ever had ciphertext",
            readable >> 20
        ),
        format!(
            "バックエンド（pid {backend}）のコア、メモリ {} MiB。どのバイトにも秘密はない。サーバーが手にしたのは暗号文だけだ。",
            readable >> 20
        ),
    ))
}

/// Is the secret anywhere in the readable bytes of `source`?
pub fn source_holds_secret(record: &Record, source: &dyn MemorySource) -> bool {
    const CHUNK: usize = 1 << 20;
    let overlap = 2 * SECRET_LEN;
    let mut buf = vec![0u8; CHUNK + overlap];
    for r in source.regions() {
        if r.kind != RegionKind::Readable {
            continue;
        }
        let mut at = r.span.start;
        while at < r.span.end {
            let len =
                usize::try_from((r.span.end - at).min((CHUNK + overlap) as u64)).unwrap_or(CHUNK);
            let Some(piece) = buf.get_mut(..len) else {
                break;
            };
            // Bytes of unreadable pages read as zeros: they hold no window.
            let _ = crate::memory::read_pagewise(source, at, piece);
            let found = windows(piece).any(|w| record.matches(&w));
            piece.fill(0);
            if found {
                return true;
            }
            at = at.saturating_add(CHUNK as u64);
        }
    }
    false
}

/// What a whole core handed in as the answer gets: the finding is the trainee's to do.
fn core_is_no_answer() -> Outcome {
    Outcome::Rejected(Texts::new(
        "this is a whole core dump: you proved you can dump it; now find the secret in the dump (strings, grep) and submit it: confidump lab check SECRET, or --file with only the bytes you found",
        "これはコアダンプ全体だ。ダンプできることは示せた。次はダンプの中から秘密を（strings や grep で）見つけて提出すること：confidump lab check 秘密、または見つけたバイトだけを --file で提出する。",
    ))
}

/// How many pages of the victim's read-only file mappings are compared with the core's bytes.
const PAGES_COMPARED: usize = 4;

/// Does `core` really hold process `pid`'s memory? A `NT_PRSTATUS` note naming the PID is 476
/// bytes anyone can write, so the core's segments are held against the live process's
/// `/proc/PID/maps`: every readable anonymous mapping that a dump writes (heap, stacks,
/// arenas; not `VM_DONTDUMP`, `VM_IO` or `[vsyscall]`, which gcore and the kernel leave out)
/// must meet a segment of the core, and where the core holds bytes of a read-only file
/// mapping (the program's code), the first pages must be the process's own bytes. `None`
/// when it does, else why not, in both languages. What it cannot tell apart from a dump is a
/// copy of the process's memory: which is a dump.
pub fn covers_victim(core: &CoreFile, pid: i32) -> Option<Texts> {
    let maps = match crate::procfs::maps::read_smaps(pid) {
        Ok(m) => m,
        Err(e) => {
            return Some(Texts::new(
                format!(
                "the memory map of pid {pid} could not be read to compare the core with it ({e})"
            ),
                format!("コアと比べるための pid {pid} のメモリマップを読めなかった（{e}）。"),
            ))
        }
    };
    let regions = core.regions();
    let meets = |m: &crate::procfs::maps::Mapping| {
        regions
            .iter()
            .any(|r| r.span.start < m.span.end && m.span.start < r.span.end)
    };
    let missing: Vec<String> = maps
        .iter()
        .filter(|m| m.read && m.inode == 0 && !m.has_flag("dd") && !m.has_flag("io"))
        .filter(|m| m.name != "[vsyscall]" && !m.name.starts_with("[v"))
        .filter(|m| !meets(m))
        .map(|m| format!("{:#x}-{:#x} {}", m.span.start, m.span.end, m.display_name()))
        .collect();
    if !missing.is_empty() {
        let shown = missing
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let n = missing.len();
        return Some(Texts::new(
            format!("this core does not hold pid {pid}'s memory: {n} of its mappings are in no segment of the core ({shown}); dump the process itself (gcore {pid})"),
            format!("このコアには pid {pid} のメモリが入っていない。{n} 個のマッピングがコアのどのセグメントにもない（{shown}）。プロセスそのものをダンプすること（gcore {pid}）。"),
        ));
    }
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok();
    let page = crate::procfs::PAGE_SIZE;
    let read_only_files = maps
        .iter()
        .filter(|m| m.read && !m.write && !m.shared && m.is_file_backed())
        .filter(|m| {
            regions.iter().any(|r| {
                r.kind == RegionKind::Readable
                    && r.span.start <= m.span.start
                    && m.span.start.saturating_add(page) <= r.span.end
            })
        })
        .take(PAGES_COMPARED);
    for m in read_only_files {
        let Some(mem) = &mem else { break };
        let mut live = vec![0u8; usize::try_from(page).unwrap_or(4096)];
        let mut dumped = live.clone();
        // A page the live process will not give (it is no proof either way) is not compared.
        if std::os::unix::fs::FileExt::read_exact_at(mem, &mut live, m.span.start).is_err() {
            continue;
        }
        if core.read_exact_at(m.span.start, &mut dumped).is_err() {
            continue;
        }
        if live != dumped {
            return Some(Texts::new(
                format!("this core does not hold pid {pid}'s memory: its bytes at {:#x} ({}) are not the process's", m.span.start, m.display_name()),
                format!("このコアには pid {pid} のメモリが入っていない。{:#x}（{}）のバイトがプロセスのものと違う。", m.span.start, m.display_name()),
            ));
        }
    }
    None
}

/// A core proves "it cannot be read" when it is a core of the victim, lists the protected
/// region as refused or left out, and holds the secret nowhere.
fn check_proof(record: &Record, running: Option<&Running>, core: &CoreFile) -> Outcome {
    let Some(run) = running else {
        return Outcome::Rejected(Texts::new(
            "no victim of this exercise is running: `confidump lab start` it first, then dump it",
            "この演習の標的プロセスが動いていない。先に confidump lab start で始めてから、ダンプすること。",
        ));
    };
    if !core.threads().iter().any(|t| t.tid == run.pid) {
        let pids: Vec<String> = core.threads().iter().map(|t| t.tid.to_string()).collect();
        let threads = |unknown: &str| {
            if pids.is_empty() {
                unknown.to_string()
            } else {
                pids.join(", ")
            }
        };
        return Outcome::Rejected(Texts::new(
            format!(
                "this is not a core of the victim (pid {}): its threads are {}",
                run.pid,
                threads("unknown")
            ),
            format!(
                "標的プロセス（pid {}）のコアではない。このコアのスレッドは {}。",
                run.pid,
                threads("不明")
            ),
        ));
    }
    if let Some(why) = covers_victim(core, run.pid) {
        return Outcome::Rejected(why);
    }
    let Some(start) = parse_hex_addr(&run.region_start) else {
        return Outcome::Rejected(Texts::new(
            "the lab state lost the protected region",
            "ラボの状態から保護された領域の記録が失われている。",
        ));
    };
    let how = match core.region_at(start) {
        Some(r) => match &r.kind {
            // The reader's reasons are English sentences after the errno's name
            // (`EIO (5): I/O error`): the Japanese text keeps the name only.
            RegionKind::Unreadable(why) => Texts::new(
                format!("the read was refused ({why})"),
                format!(
                    "読み取りを拒否された（{}）",
                    why.split([' ', ':']).next().unwrap_or_default()
                ),
            ),
            RegionKind::Absent(why) => Texts::new(
                format!("the tool left it out ({why})"),
                "ツールが除外した".to_string(),
            ),
            RegionKind::Readable => {
                return Outcome::Rejected(Texts::new(
                    format!(
                        "the protected region {}-{} is in this core as readable bytes: that does not show it cannot be read",
                        run.region_start, run.region_end
                    ),
                    format!(
                        "保護された領域 {}-{} がこのコアに読めるバイトとして入っている。これでは読めないことの証明にならない。",
                        run.region_start, run.region_end
                    ),
                ))
            }
        },
        None => Texts::new(
            "no segment of the core covers it (left out)",
            "コアのどのセグメントにも含まれない（除外）",
        ),
    };
    if source_holds_secret(record, core) {
        return Outcome::Rejected(Texts::new(
            "the secret IS in this core: it was readable after all (submit it as the answer)",
            "このコアに秘密がある。結局は読めたということだ（答えとして提出すること）。",
        ));
    }
    Outcome::Accepted(Texts::new(
        format!(
            "a core of pid {}; the protected region {}-{}: {}; the secret is in none of its bytes",
            run.pid, run.region_start, run.region_end, how.en
        ),
        format!(
            "pid {} のコア。保護された領域 {}-{} は{}。どのバイトにも秘密はない。",
            run.pid, run.region_start, run.region_end, how.ja
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::state::salted;
    use sha2::{Digest, Sha256};

    fn record(secret: &[u8]) -> Record {
        let d: [u8; 32] = Sha256::digest(secret).into();
        Record {
            salt: "aa55".into(),
            check: salted(&[0xaa, 0x55], &d),
            ..Record::default()
        }
    }

    #[test]
    fn a_truncated_core_is_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.1");
        // An ELF header that promises program headers the file does not have.
        let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
        elf.resize(64, 0);
        elf[16] = 4;
        elf[18] = 62;
        elf[32] = 64;
        elf[54] = 56;
        elf[56] = 3;
        std::fs::write(&path, &elf).unwrap();
        let e = check_file(&record(b"x"), None, &path, Want::UnreadableProof)
            .unwrap_err()
            .to_string();
        let name = path.display().to_string();
        assert_eq!(e.matches(&name).count(), 1, "{e}");
    }

    #[test]
    fn finds_the_secret_among_other_windows_ascii_and_utf16() {
        let s = b"CONFIDUMP-0123456789abcdef01234567";
        let r = record(s);
        let mut text = b"noise CONFIDUMP-ffffffffffffffffffffffff more ".to_vec();
        assert!(!bytes_hold_secret(&r, &text));
        text.extend_from_slice(s);
        assert!(bytes_hold_secret(&r, &text));
        let wide: Vec<u8> = s.iter().flat_map(|&b| [b, 0]).collect();
        assert!(bytes_hold_secret(&r, &wide));
        assert!(bytes_hold_secret(
            &r,
            b"  CONFIDUMP-0123456789abcdef01234567\n"
        ));
        assert_eq!(
            check_answer(&r, "CONFIDUMP-0123456789abcdef01234568"),
            Outcome::Rejected(Texts::default())
        );
    }
}
