//! A progress indicator on stderr, only on a terminal.
//!
//! Most steps of the demo take a few hundred milliseconds; a spinner flashing for each of them
//! would be noise on a projector. So a step only shows up once it has run for over a second
//! (a kernel core dump, gdb starting): a small background thread wakes every 100 ms and draws
//! `⠹ dumping pid 4242 with gcore… 2.3s` on one line, which [`Progress::finish`] clears.
//!
//! When not enabled (stderr is a pipe or a file), nothing is ever written and no thread is
//! started: logs and CI output stay clean.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A step is shown only after it has run this long.
const SHOW_AFTER: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// Longest message drawn, in characters: the line must not wrap, or `\r` cannot clear it.
const MAX_MSG: usize = 60;

#[derive(Debug, Default)]
struct State {
    /// The current step and when it began; `None` between steps.
    step: Option<(String, Instant)>,
    /// Something is on the line and must be cleared.
    drawn: bool,
    stop: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// Shows what is happening when a step takes over a second; silent when not enabled.
#[derive(Debug, Default)]
pub struct Progress {
    enabled: bool,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// `enabled` is usually "stderr is a terminal".
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            shared: Arc::default(),
            thread: None,
        }
    }

    /// A new step began (the previous one, if any, ended).
    pub fn step(&mut self, msg: &str) {
        if !self.enabled {
            return;
        }
        let msg: String = msg
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_MSG)
            .collect();
        if let Ok(mut st) = self.shared.state.lock() {
            st.step = Some((msg, Instant::now()));
        }
        if self.thread.is_none() {
            let shared = Arc::clone(&self.shared);
            // If the thread cannot start, the demo runs on without a spinner.
            self.thread = std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || ticker(&shared))
                .ok();
        }
    }

    /// The work is done: stops the ticker and clears the line.
    pub fn finish(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.stop = true;
            st.step = None;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Ready for another round of steps.
        if let Ok(mut st) = self.shared.state.lock() {
            st.stop = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn ticker(shared: &Shared) {
    let mut frame = 0usize;
    let Ok(mut st) = shared.state.lock() else {
        return;
    };
    loop {
        if st.stop {
            break;
        }
        let line = match &st.step {
            Some((msg, since)) if since.elapsed() >= SHOW_AFTER => {
                frame = frame.wrapping_add(1);
                Some(format!(
                    "\r{} {msg}… {:.1}s\x1b[K",
                    SPINNER[frame % SPINNER.len()],
                    since.elapsed().as_secs_f64()
                ))
            }
            _ => None,
        };
        match line {
            Some(l) => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(l.as_bytes());
                let _ = err.flush();
                st.drawn = true;
            }
            // A new, still-short step: take the old one's line away.
            None if st.drawn => {
                clear_line();
                st.drawn = false;
            }
            None => {}
        }
        st = match shared.wake.wait_timeout(st, TICK) {
            Ok((g, _)) => g,
            Err(_) => return,
        };
    }
    if st.drawn {
        clear_line();
        st.drawn = false;
    }
}

fn clear_line() {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"\r\x1b[K");
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_never_starts_a_thread() {
        let mut p = Progress::new(false);
        p.step("dumping");
        assert!(p.thread.is_none());
        p.finish();
    }

    #[test]
    fn enabled_starts_and_stops() {
        let mut p = Progress::new(true);
        p.step("short step");
        assert!(p.thread.is_some());
        p.finish();
        assert!(p.thread.is_none());
        // Usable again after finish.
        p.step("again");
        p.finish();
    }
}
