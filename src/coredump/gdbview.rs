//! What gdb itself says about an address of a core file.
//!
//! `show` (and the presenter) draw refused bytes as `??` from our own reader; quoting gdb's
//! answer for the same address beside them lets the audience hear the refusal from a reader
//! that is not ours. Our cores give refused ranges no `PT_LOAD`, so gdb answers `Cannot access
//! memory at address …` there, as it does on gcore's cores and on a live process.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::model::hex_addr;

/// What gdb printed for one `x/NNxb ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbAnswer {
    /// The command as typed at gdb's prompt: `x/16xb 0x7f…`.
    pub command: String,
    /// gdb's answer, one line: `Cannot access memory at address 0x7f…`, or the first row of
    /// bytes (`0x7f…:` then the bytes, tab-separated) when it could read them.
    pub line: String,
    /// True when gdb said it cannot access the memory.
    pub refused: bool,
}

/// Errors asking gdb.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    /// gdb could not be started.
    #[error("running gdb (is it installed?): {0}")]
    Run(#[source] std::io::Error),
    /// gdb ran but printed neither bytes nor a refusal for the address.
    #[error("gdb gave no answer for {addr}: {last}")]
    NoAnswer {
        /// The address asked about.
        addr: String,
        /// gdb's last line of output, for the reader.
        last: String,
    },
}

/// Largest `x` count asked: one row of a hex view is what is quoted.
const MAX_BYTES: u64 = 16;

/// Runs `gdb -batch -nx -ex 'x/16xb ADDR' [EXE] -c CORE` and returns gdb's line about `addr`.
/// `exe` is optional: gdb reads a core's memory without the executable.
pub fn examine(
    core: &Path,
    exe: Option<&Path>,
    addr: u64,
    len: u64,
) -> Result<GdbAnswer, GdbError> {
    let count = len.clamp(1, MAX_BYTES);
    let at = hex_addr(addr);
    let command = format!("x/{count}xb {at}");
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx"])
        // Never reach out to a debuginfod server from a demo (older gdbs ignore this line).
        .args(["-iex", "set debuginfod enabled off"])
        .args(["-ex", &command]);
    if let Some(exe) = exe {
        cmd.arg("-e").arg(exe);
    }
    let out = cmd
        .arg("-c")
        .arg(core)
        .stdin(Stdio::null())
        .output()
        .map_err(GdbError::Run)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    answer_from(&command, &at, &stdout, &stderr).ok_or_else(|| {
        let last = stderr
            .lines()
            .chain(stdout.lines())
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        GdbError::NoAnswer { addr: at, last }
    })
}

/// Finds gdb's answer about `at` in its output: the refusal (on stderr) first, else the row of
/// bytes that starts with the address (on stdout).
fn answer_from(command: &str, at: &str, stdout: &str, stderr: &str) -> Option<GdbAnswer> {
    let refusal = format!("Cannot access memory at address {at}");
    if let Some(l) = stderr
        .lines()
        .chain(stdout.lines())
        .find(|l| l.contains(&refusal))
    {
        return Some(GdbAnswer {
            command: command.to_string(),
            line: l.trim().to_string(),
            refused: true,
        });
    }
    let row = stdout.lines().find(|l| {
        l.strip_prefix(at)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|bytes| !bytes.trim().is_empty())
    })?;
    Some(GdbAnswer {
        command: command.to_string(),
        line: row.trim().to_string(),
        refused: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_and_bytes_are_told_apart() {
        let a = answer_from(
            "x/16xb 0x1000",
            "0x1000",
            "[New LWP 1]\n0x1000:\t",
            "warning: x\nCannot access memory at address 0x1000\n",
        )
        .unwrap();
        assert!(a.refused);
        assert_eq!(a.line, "Cannot access memory at address 0x1000");
        let b = answer_from("c", "0x1000", "0x1000:\t0x68\t0x65\n0x1008:\t0x00\n", "").unwrap();
        assert!(!b.refused);
        assert_eq!(b.line, "0x1000:\t0x68\t0x65");
        // An answer about another address, or none, is no answer.
        assert!(answer_from("c", "0x1000", "0x10000:\t0x00\n", "").is_none());
        assert!(answer_from("c", "0x1000", "0x1000:\t", "").is_none());
    }
}
