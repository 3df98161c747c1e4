//! A progress indicator on stderr, only on a terminal. (Interface stub.)

/// Shows what is happening when a step takes over a second; silent when not enabled.
#[derive(Debug, Default)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// `enabled` is usually "stderr is a terminal".
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }
    /// A new step began.
    pub fn step(&mut self, _msg: &str) {
        let _ = self.enabled;
    }
    /// Clears the line.
    pub fn finish(&mut self) {}
}
