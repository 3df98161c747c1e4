//! `confidump lab`: every built-in exercise solved for real by its reference solution, answers
//! checked by hash, the answer never on disk, victims stopped by `reset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::lab::Lab;

use std::path::Path;
use std::process::Command;

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The secret of a running plain victim, found the way a trainee would: gcore and a search.
fn find_with_gcore(pid: i64, dir: &Path) -> String {
    let out = Command::new("gcore")
        .arg("-o")
        .arg(dir.join("core"))
        .arg(pid.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let core = std::fs::read(dir.join(format!("core.{pid}"))).unwrap();
    let needle = b"CONFIDUMP-";
    let mut found = Vec::new();
    for (i, w) in core.windows(34).enumerate() {
        if w.starts_with(needle) && w[10..].iter().all(|b| b.is_ascii_hexdigit()) {
            found.push(String::from_utf8(w.to_vec()).unwrap());
            let _ = i;
        }
    }
    found.sort();
    found.dedup();
    assert_eq!(found.len(), 1, "one secret in the core: {found:?}");
    found.remove(0)
}

fn solve(lab: &Lab, name: &str) {
    let before = lab
        .dir()
        .join("state.json")
        .exists()
        .then(|| lab.state()["exercises"][name]["running"].clone());
    let o = lab.run(&["solve", name]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "lab solve {name} failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains('✓'), "{out}");
    // The solution gives no credit (its target was its own, in a scratch state): the
    // trainee's state only says it was shown.
    let st = lab.state();
    assert!(st["exercises"][name]["shown"].is_u64(), "{st}");
    assert!(st["exercises"][name]["solved"].is_null(), "{st}");
    // The trainee's own target, if one runs, is left as it was.
    let running = &st["exercises"][name]["running"];
    assert_eq!(
        running,
        before.as_ref().unwrap_or(&serde_json::Value::Null),
        "{st}"
    );
}

#[test]
fn every_process_exercise_is_solved_by_its_reference_solution() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    for name in [
        "find-it",
        "dontdump",
        "argv",
        "secretmem",
        "residue",
        "same-uid",
    ] {
        // The same-uid exercise's victim and attacker run as nobody; without it, the
        // exercises after it stay locked, so the check below has nothing to check.
        if name == "same-uid" && !common::require(common::Need::RunsAsNobody) {
            return;
        }
        solve(&lab, name);
    }
    // Solutions shown unlock nothing.
    let list = lab.json(&["list"]);
    let vm = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["exercise"] == "vm")
        .unwrap();
    assert_eq!(vm["state"], "locked", "{list}");
}

#[test]
fn the_vm_exercise_is_solved_from_the_host() {
    if !common::require(common::Need::Qemu) || !common::require(common::Need::GuestKernel) {
        return;
    }
    let lab = Lab::new();
    solve(&lab, "vm");
}

#[test]
fn answers_are_checked_by_hash_and_never_stored() {
    let lab = Lab::new();
    let work = tempfile::tempdir().unwrap();
    let first = lab.json(&["start", "find-it"]);
    let pid = first["pids"][0].as_i64().unwrap();
    assert!(alive(pid));
    assert_eq!(first["secret_shape"], "CONFIDUMP- + 24 hex digits");
    let old = find_with_gcore(pid, work.path());
    // The state directory holds neither the secret nor its plain SHA-256.
    let plain_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(old.as_bytes()));
    for entry in std::fs::read_dir(lab.dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&old) && !text.contains(&plain_sha), "{text}");
    }
    // A second start: a new victim with a different secret; the old answer is now wrong.
    let second = lab.json(&["start", "find-it"]);
    let pid2 = second["pids"][0].as_i64().unwrap();
    assert_ne!(pid, pid2);
    assert!(!alive(pid), "the first victim was stopped");
    let o = lab.run(&["check", &old]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("Not the secret"));
    let wrong = lab.run(&["check", "CONFIDUMP-000000000000000000000000"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("attempts: 2"));
    let new = find_with_gcore(pid2, work.path());
    assert_ne!(old, new, "start twice gives two different secrets");
    // The bytes found, in a file, are accepted too.
    let f = work.path().join("found.txt");
    std::fs::write(&f, format!("grep said:\n{new}\n")).unwrap();
    let o = lab.run(&["check", "--file", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(!alive(pid2), "a solved exercise's victim is stopped");
}

#[test]
fn a_proof_must_be_a_core_of_the_victim_without_the_secret() {
    if !common::require(common::Need::MemfdSecret) {
        return;
    }
    let lab = Lab::new();
    let work = tempfile::tempdir().unwrap();
    // A core of another process is no proof.
    let other = common::start_victim(&["--mode", "plain"], None);
    let other_core = work.path().join("other.core");
    let st = Command::new(common::bin())
        .args(["dump", &other.ready.pid.to_string(), "-o"])
        .arg(&other_core)
        .status()
        .unwrap();
    assert!(st.success());
    let s = lab.json(&["start", "secretmem", "--any-order"]);
    let pid = s["pids"][0].as_i64().unwrap();
    let o = lab.run(&["check", "--file", other_core.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not a core of the victim"));
    // A typed answer is not a proof.
    let o = lab.run(&["check", "CONFIDUMP-000000000000000000000000"]);
    assert_eq!(o.status.code(), Some(1));
    // gcore's core of the victim: the region is left out, the secret nowhere: a proof.
    let out = Command::new("gcore")
        .arg("-o")
        .arg(work.path().join("core"))
        .arg(pid.to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    let core = work.path().join(format!("core.{pid}"));
    let o = lab.run(&["check", "--file", core.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("Proof accepted") && text.contains("left out"),
        "{text}"
    );
}

/// Issue 23 item 5: one exercise at a time. Starting another exercise stops the previous
/// one's target and says so; the header names the target's context and what makes it this
/// exercise; hints come in order; `reset` stops the target.
#[test]
fn one_exercise_at_a_time_hints_in_order_and_reset_stops_the_victim() {
    let lab = Lab::new();
    let a = lab.json(&["start", "find-it"]);
    let first = a["pids"][0].as_i64().unwrap();
    assert!(alive(first));
    assert_eq!(
        (&a["restarted"], &a["stopped"]),
        (&serde_json::json!(false), &serde_json::json!([]))
    );
    let o = lab.run(&["start", "argv", "--any-order"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.starts_with("Stopped the target of find-it: the lab runs one exercise at a time."),
        "{text}"
    );
    assert!(
        !alive(first),
        "find-it's target {first} outlived the start of argv"
    );
    assert!(
        text.contains("(process, secret given on its command line, dontdump)"),
        "{text}"
    );
    let second = lab.state()["exercises"]["argv"]["running"]["pid"]
        .as_i64()
        .unwrap();
    let pids = [second];
    assert!(alive(second));
    // `argv` is current: its hints, in order.
    let h1 = lab.json(&["hint"]);
    let h2 = lab.json(&["hint"]);
    assert_eq!(
        (h1["hint"].as_u64(), h2["hint"].as_u64()),
        (Some(1), Some(2))
    );
    assert_ne!(h1["text"], h2["text"]);
    let last = lab.run(&["hint"]);
    assert!(String::from_utf8_lossy(&last.stdout).contains("No more hints"));
    assert_eq!(lab.state()["exercises"]["argv"]["hints"], 2);
    // A locked exercise refuses to start without --any-order.
    let o = lab.run(&["start", "vm"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("locked"));
    let o = lab.run(&["reset"]);
    assert!(o.status.success());
    for p in pids {
        // Gone, not a zombie waiting for its parent: `kill -0` fails as soon as reset returns.
        let pid = nix::unistd::Pid::from_raw(i32::try_from(p).unwrap());
        assert!(
            nix::sys::signal::kill(pid, None).is_err(),
            "pid {p} still exists after reset (kill -0 finds it)"
        );
    }
    assert!(!lab.dir().exists());
}

#[test]
fn japanese_task_and_status_report() {
    let lab = Lab::new();
    let o = lab.run(&["start", "find-it", "--lang", "ja"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        text.contains("標的プロセス") && text.contains("gcore"),
        "{text}"
    );
    let status = lab.run(&["status", "--format", "json"]);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    std::fs::write(&a, &status.stdout).unwrap();
    let o = lab.run(&["report", a.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("1 trainee,") && text.contains("find-it"),
        "{text}"
    );
    let html = dir.path().join("s.html");
    assert!(lab
        .run(&["status", "--html", html.to_str().unwrap()])
        .status
        .success());
    assert!(std::fs::read_to_string(&html).unwrap().contains("find-it"));
}

#[test]
fn the_container_exercise_is_solved_from_the_host() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    solve(&lab, "container");
}

#[test]
fn the_database_exercise_finds_the_secret_in_the_server() {
    if !common::require(common::Need::Postgres) {
        return;
    }
    let lab = Lab::new();
    let started = lab.json(&["start", "database", "--any-order"]);
    let pids = started["pids"].as_array().unwrap();
    assert!(
        pids.len() > 2,
        "the client and the server processes: {started}"
    );
    assert!(started["task"].as_str().unwrap().contains("backend is pid"));
    solve(&lab, "database");
}

#[test]
fn the_client_encrypted_database_exercise_needs_both_parts() {
    if !common::require(common::Need::Postgres) || !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    let started = lab.json(&["start", "database-client", "--any-order"]);
    assert_eq!(started["goal"], "prove-absent-then-answer", "{started}");
    let run = &lab.state()["exercises"]["database-client"]["running"];
    let (client, backend) = (
        run["pid"].as_i64().unwrap(),
        run["backend"].as_i64().unwrap(),
    );
    let work = tempfile::tempdir().unwrap();

    // The secret found in the client (the answer part) does not solve the exercise alone.
    let secret = find_with_gcore(client, work.path());
    let v = lab.json(&["check", &secret]);
    assert_eq!(
        (
            v["verdict"].as_str(),
            v["part"].as_str(),
            v["solved"].as_bool()
        ),
        (Some("right"), Some("answer"), Some(false)),
        "{v}"
    );
    assert!(v["still_to_do"].as_str().unwrap().contains("prove"), "{v}");

    // A core of the backend is the proof: the server never held the secret. Both parts done.
    let g = Command::new("gcore")
        .arg("-o")
        .arg(work.path().join("backend"))
        .arg(backend.to_string())
        .output()
        .unwrap();
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let backend_core = work.path().join(format!("backend.{backend}"));
    let o = lab.run(&["check", "--file", backend_core.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Both parts done"), "{out}");
    let st = lab.state();
    assert!(
        st["exercises"]["database-client"]["solved"].is_u64(),
        "{st}"
    );
    assert!(!alive(client), "the victim is stopped once solved");
}

#[test]
fn the_client_encrypted_database_exercise_is_solved_by_its_reference_solution() {
    if !common::require(common::Need::Postgres) || !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    solve(&lab, "database-client");
}

/// Issue 25 item 9: a `--labs-dir` holds code (`solve` runs its steps as root), so a file
/// that someone other than its owner could have written, or that someone else owns, is
/// refused before it is parsed; so is a directory others may write; and two files naming
/// the same exercise are refused at the second one's name.
#[test]
fn labs_dir_files_are_refused_unless_only_their_owner_may_write_them() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let builtin = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/labs/01-find-it.toml"),
    )
    .unwrap();
    let text = builtin.replacen("name = \"find-it\"", "name = \"my-find-it\"", 1);
    assert_ne!(text, builtin);
    let a = dir.path().join("a.toml");
    std::fs::write(&a, &text).unwrap();
    let d = dir.path().to_str().unwrap();
    let chmod = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let refused = |what: &str| {
        let o = lab.run(&["list", "--labs-dir", d]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("exercise files are code"), "{what}: {err}");
        err
    };

    chmod(&a, 0o664);
    let err = refused("group-writable file");
    assert!(
        err.contains(&format!(
            "{}: it is writable by its group (mode 0664)",
            a.display()
        )),
        "{err}"
    );
    chmod(&a, 0o646);
    assert!(refused("world-writable file").contains("writable by everyone"));
    chmod(&a, 0o644);
    let listed = lab.json(&["list", "--labs-dir", d]);
    assert!(listed.to_string().contains("\"my-find-it\""), "{listed}");

    chmod(dir.path(), 0o777);
    let err = refused("world-writable directory");
    assert!(
        err.contains(&format!("{d}: it is writable by its group and everyone")),
        "{err}"
    );
    chmod(dir.path(), 0o700);

    if nix::unistd::geteuid().is_root() && std::env::var("SUDO_UID").as_deref() != Ok("65534") {
        std::os::unix::fs::chown(&a, Some(65534), None).unwrap();
        let err = refused("a file owned by another user");
        assert!(
            err.contains("it is owned by uid 65534, not by you or root"),
            "{err}"
        );
        std::os::unix::fs::chown(&a, Some(0), None).unwrap();
    }

    // Two files, one name: refused at the second file's `name`, naming the first file.
    let b = dir.path().join("b.toml");
    std::fs::write(&b, &text).unwrap();
    let o = lab.run(&["list", "--labs-dir", d]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:1:8: exercise name \"my-find-it\" is already defined by {}",
            b.display(),
            a.display()
        )),
        "{err}"
    );
}

/// Start time (clock ticks since boot, `/proc/PID/stat` field 22) of `pid`.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    // Field 3 (the state) is the first after the command name.
    rest.split_whitespace()
        .nth(22 - 3)
        .unwrap()
        .parse()
        .unwrap()
}

/// Issue 25 item 10: `reset` signals only the victims the lab started. A PID written into
/// state.json by hand, with its right start time (a `sleep`, in an old-format record without a
/// boot id), is left alone; the lab's own victim, recorded with this boot's id, is stopped.
#[test]
fn reset_leaves_a_hand_added_process_alone() {
    let lab = Lab::new();
    let started = lab.json(&["start", "find-it"]);
    let victim = started["pids"][0].as_i64().unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let mut st = lab.state();
    assert_eq!(
        st["exercises"]["find-it"]["running"]["boot_id"],
        boot.trim(),
        "{st}"
    );
    let sleep = common::KillOnDrop(Command::new("sleep").arg("300").spawn().unwrap());
    let pid = sleep.id();
    st["exercises"]["dontdump"] = serde_json::json!({
        "salt": "00", "check": "", "first_started": 0, "started": 0, "attempts": 0,
        "hints": 0, "solved": null,
        "running": {
            "victim_pid": pid, "victim_start": start_time(pid), "pid": pid,
            "region_start": "0x0", "region_end": "0x0"
        }
    });
    std::fs::write(
        lab.dir().join("state.json"),
        serde_json::to_vec_pretty(&st).unwrap(),
    )
    .unwrap();
    // Not even shown as running.
    let listed = lab.json(&["list"]);
    let state_of = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["exercise"] == name)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state_of("find-it"), "running", "{listed}");
    assert_ne!(state_of("dontdump"), "running", "{listed}");
    let o = lab.run(&["reset"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!alive(victim), "the lab's victim {victim} survived reset");
    assert!(
        alive(i64::from(pid)),
        "reset signalled the hand-added sleep {pid}"
    );
}

/// Issue 23 items 4 and 5: starting again says the secret changed, and a secret of the start
/// before is refused with why; an answer not shaped like a secret says the shape and is not
/// an attempt; hints taken stay counted across a restart, and hints read after solving are
/// not counted; a hint of an exercise that is not running names no raw `{pid}` and says how
/// to start it; `lab check` alone names `--file`.
#[test]
fn restarts_shapes_and_hint_counts_say_what_happened() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    let work = tempfile::tempdir().unwrap();
    let o = lab.run(&["check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Usage: confidump lab check <ANSWER|--file <PATH>>"),
        "{err}"
    );

    let first = lab.json(&["start", "find-it"]);
    assert_eq!(first["restarted"], false);
    let old = find_with_gcore(first["pids"][0].as_i64().unwrap(), work.path());
    assert_eq!(lab.json(&["hint"])["hint"], 1);
    let record = |k: &str| lab.state()["exercises"]["find-it"][k].clone();

    let second = lab.json(&["start", "find-it"]);
    assert_eq!(second["restarted"], true, "{second}");
    assert_eq!(record("hints"), 1, "a restart keeps the hints taken");
    let o = lab.run(&["start", "find-it"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("Started again: a new target process with a new secret."),
        "{text}"
    );
    let pid = lab.state()["exercises"]["find-it"]["running"]["pid"]
        .as_i64()
        .unwrap();
    let o = lab.run(&["check", &old]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("The secret changed when the exercise was started again"),
        "{text}"
    );
    assert_eq!(record("attempts"), 1);

    for bad in [
        "hello",
        "CONFIDUMP-123",
        "confidump-00112233445566778899aabb",
    ] {
        let o = lab.run(&["check", bad]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("CONFIDUMP- + 24 hex digits"), "{bad}: {err}");
        assert!(err.contains("not counted as an attempt"), "{bad}: {err}");
    }
    assert_eq!(record("attempts"), 1, "a wrong-shaped answer is no attempt");

    assert_eq!(
        lab.json(&["hint"])["hint"],
        2,
        "the next hint after a restart"
    );
    let new = find_with_gcore(pid, work.path());
    assert!(lab.run(&["check", &new]).status.success());
    assert_eq!(record("hints"), 2);
    // Read after solving: not counted. The target is stopped: no raw {pid}, and how to start.
    let h = lab.json(&["hint", "3"]);
    assert_eq!(
        (&h["hint"], &h["running"]),
        (&serde_json::json!(3), &serde_json::json!(false))
    );
    assert_eq!(record("hints"), 2, "a hint read after solving counts not");
    let o = lab.run(&["hint", "1"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text.contains("{pid}") && text.contains("gcore PID"),
        "{text}"
    );
    assert!(
        text.contains("find-it is not running") && text.contains("confidump lab start find-it"),
        "{text}"
    );
}

/// Issue 23 item 5: starting another exercise stops the database exercise's target, its
/// PostgreSQL server processes included; its header names the service and its store.
#[test]
fn starting_another_exercise_stops_the_database_server() {
    if !common::require(common::Need::Postgres) {
        return;
    }
    let lab = Lab::new();
    let o = lab.run(&["start", "database", "--any-order"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("(database service, server-encrypted)"),
        "{text}"
    );
    let run = lab.state()["exercises"]["database"]["running"].clone();
    let server: Vec<i64> = run["server"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert!(
        !server.is_empty() && server.iter().all(|&p| alive(p)),
        "{run}"
    );
    let next = lab.json(&["start", "find-it"]);
    assert_eq!(next["stopped"], serde_json::json!(["database"]), "{next}");
    let left: Vec<i64> = server.into_iter().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "PostgreSQL processes {left:?} outlived the switch"
    );
}
