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

/// A bytes-done bar for one long transfer (a dump or a scan): done / total, rate and time
/// left, drawn by `indicatif` on stderr. Shown only when enabled (stderr is a terminal and the
/// output is not JSON) and only once the work has run for [`SHOW_AFTER`]; short runs and
/// pipes never see it. [`Transfer::finish`] (or drop) clears the line.
#[derive(Debug)]
pub struct Transfer {
    enabled: bool,
    what: String,
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl Transfer {
    /// `what` is the message before the bar, e.g. `dumping pid 4242`.
    pub fn new(enabled: bool, what: &str) -> Self {
        Self {
            enabled,
            what: what
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_MSG)
                .collect(),
            started: Instant::now(),
            bar: None,
        }
    }

    /// `done` of `total` bytes are through.
    pub fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || total == 0 {
            return;
        }
        if self.bar.is_none() {
            if self.started.elapsed() < SHOW_AFTER {
                return;
            }
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr_with_hz(10),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:24}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta} left",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(self.what.clone());
            // The rate counts from the start, not from when the bar appeared.
            bar.reset_elapsed();
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done.min(total));
        }
    }

    /// Clears the bar (if it was ever shown).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_bar_only_when_enabled_and_slow() {
        let mut t = Transfer::new(false, "x");
        t.started -= Duration::from_secs(5);
        t.update(1, 2);
        assert!(t.bar.is_none());
        let mut t = Transfer::new(true, "x");
        t.update(1, 2);
        assert!(t.bar.is_none(), "a short run shows nothing");
        t.started -= Duration::from_secs(5);
        t.update(1, 2);
        assert!(t.bar.is_some());
        t.finish();
        assert!(t.bar.is_none());
    }

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
