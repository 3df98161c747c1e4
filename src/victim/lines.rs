//! A child's output read line by line, with its last lines kept for error messages: the VM's
//! console and QEMU's stderr, a container's stderr. One reader, so that both bound their
//! lines and drop `\r` alike.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::Mutex;

/// Lines kept for an error message.
pub(crate) const TAIL: usize = 20;
/// Longest line kept (the rest of a longer one is dropped).
const MAX_LINE: usize = 16 * 1024;

/// Reads `r` line by line (bounded lines, `\r` dropped), hands each to `each`, and keeps the
/// last [`TAIL`] of those `each` returns true for in `keep`. Line buffers are zeroized: a line
/// may carry what a guest sent out (a VM's `wire` line), which must reach no log.
pub(crate) fn read_lines(
    mut r: impl Read,
    keep: &Mutex<VecDeque<String>>,
    mut each: impl FnMut(&str) -> bool,
) {
    use zeroize::Zeroize;
    let mut buf = zeroize::Zeroizing::new([0u8; 4096]);
    let mut line = zeroize::Zeroizing::new(Vec::<u8>::new());
    let mut flush = |line: &mut Vec<u8>| {
        let mut text: String = String::from_utf8_lossy(line)
            .chars()
            .filter(|&c| c != '\r')
            .collect();
        line.zeroize();
        if !each(&text) {
            text.zeroize();
            return;
        }
        if let Ok(mut k) = keep.lock() {
            if !text.trim().is_empty() {
                k.push_back(text);
            }
            while k.len() > TAIL {
                k.pop_front();
            }
        }
    };
    loop {
        let n = match r.read(&mut buf[..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in buf.get(..n).unwrap_or(&[]) {
            if b == b'\n' {
                flush(&mut line);
            } else if line.len() < MAX_LINE {
                line.push(b);
            }
        }
    }
    if !line.is_empty() {
        flush(&mut line);
    }
}

/// The kept lines, newline-separated.
pub(crate) fn tail_text(lines: &Mutex<VecDeque<String>>) -> String {
    lines
        .lock()
        .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}
