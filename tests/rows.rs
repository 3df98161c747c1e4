//! The SGX rows of the demo matrix, run for real: `sgx-sim` (an enclave laid out in ordinary
//! memory, as SDK simulation modes do) must leak on every root path on any host; `sgx` and
//! `sgx-debug` need SGX hardware, and on a host without it every cell is `n/a` with the one
//! reason doctor and `victim --context sgx` give.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use common::{code_out_err, run};

#[test]
fn sgx_rows_are_as_expected_on_this_host() {
    let o = run(&[
        "demo",
        "--scenario",
        "sgx-sim",
        "--scenario",
        "sgx",
        "--scenario",
        "sgx-debug",
        "--format",
        "json",
    ]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "every cell as expected\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["mismatches"], 0, "{out}");
    let cells = v["cells"].as_array().unwrap();
    let cell = |row: &str, attack: &str| -> &serde_json::Value {
        cells
            .iter()
            .find(|c| c["scenario"] == row && c["attack"] == attack)
            .unwrap_or_else(|| panic!("no {row}/{attack} cell in {out}"))
    };

    // A simulation "enclave" is ordinary memory: every root path finds the canary in it.
    for attack in ["dump", "gcore", "kernel", "live"] {
        let c = cell("sgx-sim", attack);
        assert_eq!(c["observed"], "leak", "sgx-sim/{attack}: {c}");
        assert!(c["hits"].as_u64().unwrap() >= 1, "sgx-sim/{attack}: {c}");
    }

    match confidump::sgx::facts::unavailable_reason(&confidump::sgx::facts::prerequisites()) {
        Some(reason) => {
            assert!(reason.starts_with("not available on this host: needs SGX ("));
            for row in ["sgx", "sgx-debug"] {
                for attack in ["dump", "gcore", "kernel", "live"] {
                    let c = cell(row, attack);
                    assert_eq!(c["observed"], "n/a", "{row}/{attack}: {c}");
                    assert_eq!(c["reason"], reason.as_str(), "{row}/{attack}");
                }
            }
            // Doctor says the same words on its sgx line.
            let (_, doctor, _) = code_out_err(&run(&["doctor"]));
            assert!(doctor.contains(&reason), "{doctor}");
        }
        None => {
            // An SGX host: the real enclave's verdicts, as the issue states them.
            for (row, mem) in [("sgx", "unreadable"), ("sgx-debug", "leak")] {
                for attack in ["dump", "live"] {
                    assert_eq!(cell(row, attack)["observed"], mem, "{row}/{attack}");
                }
                for attack in ["gcore", "kernel"] {
                    assert_eq!(cell(row, attack)["observed"], "absent", "{row}/{attack}");
                }
            }
        }
    }
}

#[test]
fn debug_enclave_is_only_for_the_enclave() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "name = \"bad\"\ntitle.en = \"t\"\nholds.en = \"h\"\nlesson.en = \"l\"\nmode = \"plain\"\ndebug_enclave = true\n[expect]\n",
    )
    .unwrap();
    let o = run(&[
        "demo",
        "--list",
        "--scenario-dir",
        dir.path().to_str().unwrap(),
    ]);
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.toml:6:") && err.contains("debug_enclave"),
        "{err}"
    );
}

/// The demo's JSON cells of one run, by (row, attack).
fn demo_json(args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> (i32, serde_json::Value, String) {
    let mut cmd = std::process::Command::new(common::bin());
    cmd.arg("demo")
        .args(args)
        .args(["--format", "json"])
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let (code, out, err) = code_out_err(&o);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    (code, v, err)
}

fn cell<'a>(v: &'a serde_json::Value, row: &str, attack: &str) -> &'a serde_json::Value {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == row && c["attack"] == attack)
        .unwrap_or_else(|| panic!("no {row}/{attack} cell in {v}"))
}

#[test]
fn container_rows_leak_to_the_hosts_root_except_secretmem() {
    let base = tempfile::tempdir().unwrap();
    let (code, v, err) = demo_json(
        &[
            "--scenario",
            "container",
            "--scenario",
            "container-secretmem",
            "--scenario",
            "container-oci",
        ],
        &[("TMPDIR", base.path().as_os_str())],
    );
    assert_eq!(code, 0, "every cell as expected\n{err}\n{v}");
    assert_eq!(v["mismatches"], 0);
    for attack in ["dump", "gcore", "live"] {
        let c = cell(&v, "container", attack);
        assert_eq!(c["observed"], "leak", "container/{attack}: {c}");
        // The host PID is what was attacked.
        assert!(c["hits"].as_u64().unwrap() >= 1, "{c}");
    }
    if common::require(common::Need::MemfdSecret) {
        assert_eq!(
            cell(&v, "container-secretmem", "dump")["observed"],
            "unreadable"
        );
        assert_eq!(
            cell(&v, "container-secretmem", "live")["observed"],
            "unreadable"
        );
        assert_eq!(
            cell(&v, "container-secretmem", "gcore")["observed"],
            "absent"
        );
    } else {
        // A host without memfd_secret says so for the whole row.
        assert_eq!(cell(&v, "container-secretmem", "dump")["observed"], "n/a");
    }
    for row in ["container", "container-secretmem"] {
        let k = cell(&v, row, "kernel");
        assert_eq!(k["observed"], "n/a");
        assert!(
            k["reason"].as_str().unwrap().contains("PID 1 is ignored"),
            "{k}"
        );
    }
    let oci = cell(&v, "container-oci", "dump");
    if !common::require(common::Need::Runtime(confidump::container::Runtime::Runc)) {
        // No runc here: the row says which package.
        assert_eq!(oci["observed"], "n/a", "{oci}");
        assert!(
            oci["reason"]
                .as_str()
                .unwrap()
                .contains("apt-get install runc"),
            "{oci}"
        );
    } else {
        for attack in ["dump", "gcore", "live"] {
            assert_eq!(cell(&v, "container-oci", attack)["observed"], "leak");
        }
        // CRIU: its own verdict, never a silent skip.
        let ck = cell(&v, "container-oci", "checkpoint");
        let reason = ck["reason"].as_str().unwrap();
        assert!(
            ck["observed"] == "n/a" && (reason.contains("criu") || reason.contains("CRIU")),
            "{ck}"
        );
        // The claim stays (a checkpoint holds the secret); whether it ran here is apart.
        assert_eq!(ck["expected"], "leak", "{ck}");
        match confidump::container::criu::check().unavailable_reason() {
            Some(r) => {
                assert_eq!(reason, r);
                assert_eq!(ck["runnable"], false, "{ck}");
            }
            None => assert_eq!(ck["runnable"], true, "a usable CRIU must not pass silently"),
        }
        // Nothing left in the runtime's state or on disk.
        let list = std::process::Command::new("runc")
            .arg("list")
            .output()
            .unwrap();
        let (_, list, _) = code_out_err(&list);
        let mine: Vec<&str> = list
            .lines()
            .filter(|l| {
                confidump::container::cleanup::parse_name(l.split_whitespace().next().unwrap_or(""))
                    .is_some()
            })
            .collect();
        for l in &mine {
            // Another test may run a container now: only a stopped one is a leftover.
            assert!(!l.contains("stopped"), "left in runc's state: {l}");
        }
    }
    let left: Vec<_> = std::fs::read_dir(base.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// A TMPDIR the server's unprivileged user can enter (tempdir makes 0700 ones).
fn pg_base() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

#[test]
fn db_rows_attack_every_server_process_the_disk_and_the_client() {
    if !common::require(common::Need::Postgres) {
        return;
    }
    let base = pg_base();
    let (code, v, err) = demo_json(
        &[
            "--scenario",
            "db-plaintext",
            "--scenario",
            "db-server-encrypted",
            "--scenario",
            "db-server-logged",
            "--scenario",
            "db-client-encrypted",
            "--scenario",
            "db-enclave",
        ],
        &[("TMPDIR", base.path().as_os_str())],
    );
    assert_eq!(code, 0, "every cell as expected\n{err}\n{v}");
    let want = [
        ("db-plaintext", ["leak", "leak", "leak", "leak", "leak"]),
        (
            "db-server-encrypted",
            ["leak", "leak", "leak", "not-found", "leak"],
        ),
        // The same store with ordinary statement logging: the disk leaks, from the log.
        ("db-server-logged", ["leak", "leak", "leak", "leak", "leak"]),
        (
            "db-client-encrypted",
            ["not-found", "not-found", "not-found", "not-found", "leak"],
        ),
    ];
    let mut data_dirs = Vec::new();
    for (row, outcomes) in want {
        for (attack, o) in ["dump", "gcore", "live", "disk", "client"]
            .iter()
            .zip(outcomes)
        {
            let c = cell(&v, row, attack);
            assert_eq!(c["observed"], o, "{row}/{attack}: {c}");
        }
        let k = cell(&v, row, "kernel");
        assert_eq!(k["observed"], "n/a");
        assert!(!k["reason"].as_str().unwrap().is_empty());
        if row == "db-server-logged" {
            let w = cell(&v, row, "disk")["where"].as_str().unwrap().to_string();
            assert!(w.starts_with("log/postgresql-"), "the statement log: {w}");
        }
        // The server's leak names the process; the key and plaintext are in the backend.
        if row == "db-server-encrypted" {
            for attack in ["dump", "gcore", "live"] {
                let w = cell(&v, row, attack)["where"].as_str().unwrap().to_string();
                assert!(w.contains("backend "), "{row}/{attack}: {w}");
            }
        }
        // Not found means every server process was read.
        if row == "db-client-encrypted" {
            let r = cell(&v, row, "dump")["reason"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(r.contains("each of ") && r.contains(" processes"), "{r}");
        }
        let disk = cell(&v, row, "disk")["command"]
            .as_str()
            .unwrap()
            .to_string();
        let dir = disk.rsplit(' ').next().unwrap().to_string();
        assert!(dir.contains("confidump-pg."), "{disk}");
        data_dirs.push(std::path::PathBuf::from(dir));
    }
    for attack in ["dump", "gcore", "live", "disk", "client"] {
        let c = cell(&v, "db-enclave", attack);
        assert_eq!(c["observed"], "n/a");
        assert_eq!(
            c["reason"],
            "not available on this host: needs an enclave in the database server (Azure SQL Database: a VBS enclave, or an SGX enclave on DC-series hardware)"
        );
    }
    // Nothing of the four servers is left: no process in their directories, no directory.
    for d in &data_dirs {
        assert!(!d.exists(), "{} left behind", d.display());
        let left = confidump::service::instance::processes_in(d);
        assert!(
            left.is_empty(),
            "processes left in {}: {left:?}",
            d.display()
        );
    }
    let left: Vec<_> = std::fs::read_dir(base.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn a_killed_demo_leaves_no_postgres_and_the_next_run_removes_its_directory() {
    use std::time::{Duration, Instant};
    if !common::require(common::Need::Postgres) {
        return;
    }
    let base = pg_base();
    let mut demo = common::KillOnDrop(
        std::process::Command::new(common::bin())
            .args(["demo", "--scenario", "db-plaintext", "--format", "json"])
            .env("TMPDIR", base.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait (bounded) for the row's server to be up: its pid file in the private directory.
    let until = Instant::now() + Duration::from_secs(120);
    let run_dir = loop {
        let found = std::fs::read_dir(base.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("confidump-pg.")
                    && p.join("data/postmaster.pid").exists()
            });
        if let Some(d) = found {
            break d;
        }
        assert!(Instant::now() < until, "the db row's server never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let data = run_dir.join("data");
    demo.0.kill().unwrap();
    demo.0.wait().unwrap();
    // Every process of the server goes with the demo (bounded wait: one that stays fails).
    let until = Instant::now() + Duration::from_secs(30);
    while !confidump::service::instance::processes_in(&data).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = confidump::service::instance::processes_in(&data);
    assert!(
        left.is_empty(),
        "postgres outlived the killed demo: {left:?}"
    );
    assert!(
        run_dir.exists(),
        "a SIGKILLed run cannot clean up: its directory stays"
    );

    // The next demo's db row removes the stale directory, and leaves nothing of its own.
    let (code, v, err) = demo_json(
        &["--scenario", "db-plaintext"],
        &[("TMPDIR", base.path().as_os_str())],
    );
    assert_eq!(code, 0, "{err}\n{v}");
    assert!(!run_dir.exists(), "stale {} not removed", run_dir.display());
    let left: Vec<_> = std::fs::read_dir(base.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn a_missing_runtime_or_postgresql_makes_the_row_na_naming_the_package() {
    use confidump::context::env::RunEnv;
    use confidump::runner::matrix::run_scenario;
    let mut facts = confidump::host::HostFacts::sample();
    facts.runc = None;
    facts.crun = None;
    facts.postgres = Err("no initdb, pg_ctl and postgres together on PATH".into());
    let env = RunEnv::with_host(common::bin().into(), std::sync::Arc::new(facts));
    let all = confidump::scenario::builtin().unwrap();
    for (row, package) in [
        ("container-oci", "apt-get install runc"),
        ("db-plaintext", "apt-get install postgresql"),
        ("db-client-encrypted", "apt-get install postgresql"),
    ] {
        let s = all.iter().find(|s| s.info.name == row).unwrap();
        let cells = run_scenario(s, &env, &mut |_| {});
        assert_eq!(cells.len(), confidump::model::AttackKind::ALL.len());
        for c in &cells {
            assert_eq!(
                c.observed,
                confidump::model::Outcome::NotApplicable,
                "{c:?}"
            );
            assert!(c.reason.contains(package), "{row}: {}", c.reason);
        }
    }
    // The real binary with no runc on its PATH (an empty directory): the OCI row is n/a and
    // names the package, whether or not this host has runc elsewhere.
    let empty = tempfile::tempdir().unwrap();
    let (code, v, err) = demo_json(
        &["--scenario", "container-oci"],
        &[("PATH", empty.path().as_os_str())],
    );
    let c = cell(&v, "container-oci", "dump");
    assert_eq!(c["observed"], "n/a", "{c}");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        c["reason"],
        "not available on this host: needs runc (apt-get install runc)"
    );
}
