//! A trainee's lab for the lab tests: a private state directory (XDG_STATE_HOME) per test, the
//! real `confidump lab`, every target stopped (`lab reset`) when it is dropped.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A private state directory per test, reset (targets stopped) on drop.
pub struct Lab {
    home: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `confidump lab ARGS` in this lab, in the C locale.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(super::bin())
            .arg("lab")
            .args(args)
            .env("XDG_STATE_HOME", self.home.path())
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .output()
            .unwrap()
    }

    /// The standard output of `lab ARGS`, which must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Exit code and standard output, then standard error, of `lab ARGS`.
    pub fn out(&self, args: &[&str]) -> (Option<i32>, String) {
        let o = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code(), text)
    }

    /// `lab ARGS --format json`, which must succeed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let o = self.run(&a);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The lab's state directory.
    pub fn dir(&self) -> PathBuf {
        self.home.path().join("confidump/lab")
    }

    /// The state file as it is on disk.
    pub fn state(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir().join("state.json")).unwrap()).unwrap()
    }

    /// The state `lab status` gives exercise `name` (`solved`, `shown`, `locked`…).
    pub fn state_of(&self, name: &str) -> String {
        let st = self.json(&["status"]);
        st["exercises"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["exercise"] == name)
            .map(|e| e["state"].as_str().unwrap().to_string())
            .unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run(&["reset"]);
    }
}
