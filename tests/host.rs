//! Doctor and the demo read the same host facts and say the same thing: for every fact, a fake
//! host that lacks it makes doctor's line fail and the matrix's row or cell `n/a`, with the
//! same sentence.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use confidump::doctor;
use confidump::host::{self, CvmProfile, HostFacts, Requirement};
use confidump::model::Outcome;
use confidump::runner::matrix::{self, RunEnv, Scenario};
use confidump::scenario;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_confidump"))
}

fn env_over(facts: HostFacts) -> RunEnv {
    RunEnv::with_host(exe(), Arc::new(facts))
}

/// Every scenario of `demo/scenarios`, as the demo prepares them on the fake host.
fn rows(env: &RunEnv) -> Vec<Scenario> {
    matrix::for_host(scenario::load_all(None).unwrap(), env)
}

fn row<'a>(rows: &'a [Scenario], name: &str) -> &'a Scenario {
    rows.iter()
        .find(|s| s.info.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// Doctor's detail for `check`, which must be failing.
fn doctor_says(facts: &HostFacts, check: &str) -> String {
    let r = doctor::evaluate(facts);
    let c = r
        .get(check)
        .unwrap_or_else(|| panic!("no doctor check {check}"));
    assert!(!c.ok, "doctor accepts {check}: {}", c.detail);
    assert_eq!(r.summary[check].reason, c.detail);
    c.detail.clone()
}

#[test]
fn a_fine_host_runs_every_row_it_has_the_hardware_for() {
    let facts = HostFacts::sample();
    let report = doctor::evaluate(&facts);
    let env = env_over(facts);
    let rows = rows(&env);
    for name in ["plain", "secretmem", "dumpable", "vm-plain", "vm-secretmem"] {
        assert_eq!(row(&rows, name).info.unavailable, None, "{name}");
    }
    for (check, name) in [
        ("sgx", "sgx"),
        ("sev_snp", "cvm-sev-snp"),
        ("tdx", "cvm-tdx"),
    ] {
        assert_eq!(
            row(&rows, name).info.unavailable.as_deref(),
            Some(report.get(check).unwrap().detail.as_str()),
            "{name}"
        );
    }
    assert_eq!(env.kernel_unusable(), None);
    assert_eq!(env.gcore_missing(), None);
}

#[test]
fn each_missing_row_fact_gives_doctor_and_the_row_the_same_reason() {
    type Break = fn(&mut HostFacts);
    let cases: [(&str, &str, Break); 8] = [
        ("memfd_secret", "secretmem", |f| {
            f.memfd_secret =
                Err("memfd_secret is not available (ENOSYS): boot with secretmem.enable=1".into())
        }),
        ("qemu", "vm-plain", |f| {
            f.qemu = Err("no executable qemu-system-x86_64 on PATH".into())
        }),
        ("guest_kernel", "vm-secretmem", |f| {
            f.guest_kernel = Err("nothing in /nonexistent".into())
        }),
        ("sgx", "sgx", |f| f.sgx.cpu_sgx = false),
        ("sgx", "sgx", |f| {
            // Everything but the vDSO entry: still not available, and it says which.
            f.sgx.cpu_sgx = true;
            f.sgx.cpu_sgx_lc = true;
            f.sgx.dev_enclave = Some(Ok(()));
            f.sgx.vdso_enter = Some(false);
        }),
        ("sgx", "sgx", |f| {
            // The device is there but this user cannot open it read-write (as an enclave
            // needs): not available, and it says why, as the victim would find out.
            f.sgx.cpu_sgx = true;
            f.sgx.cpu_sgx_lc = true;
            f.sgx.dev_enclave = Some(Err("Permission denied (os error 13)".into()));
            f.sgx.vdso_enter = Some(true);
            f.sgx.epc_bytes = Some(64 << 20);
        }),
        ("sev_snp", "cvm-sev-snp", |f| f.kvm = Err("ENOENT".into())),
        ("tdx", "cvm-tdx", |f| f.cvm.kvm_intel_tdx = Some("N".into())),
    ];
    for (check, name, break_it) in cases {
        let mut facts = HostFacts::sample();
        break_it(&mut facts);
        let said = doctor_says(&facts, check);
        let env = env_over(facts);
        let rows = rows(&env);
        assert_eq!(
            row(&rows, name).info.unavailable.as_deref(),
            Some(said.as_str()),
            "{check} / {name}"
        );
        // A row checked at run time (not prepared by for_host) says the same.
        let mut bare = row(&rows, name).clone();
        bare.info.unavailable = None;
        assert_eq!(matrix::unavailable(&bare, &env), Some(said), "{name}");
    }
}

#[test]
fn requirements_without_rows_yet_say_what_doctor_says() {
    let mut f = HostFacts::sample();
    f.runc = None;
    f.crun = None;
    f.postgres = Err("no initdb".into());
    f.unprivileged = Err::<host::User, _>(confidump::model::Texts::same(
        "no unprivileged user: \"nobody\" is not in /etc/passwd",
    ))
    .into();
    for (check, req) in [
        ("container_runtime", Requirement::ContainerRuntime),
        ("postgresql", Requirement::Postgres),
        ("unprivileged_user", Requirement::UnprivilegedUser),
        ("memfd_secret", Requirement::MemfdSecret),
    ] {
        if check == "memfd_secret" {
            f.memfd_secret = Err("ENOSYS".into());
        }
        assert_eq!(
            confidump::runner::contexts::requirement_missing(req, &f).map(|t| t.en),
            Some(doctor_says(&f, check)),
            "{check}"
        );
    }
    // Inside a guest: doctor's line names both guest kinds with the requirements' words.
    let cvm = doctor_says(&f, "cvm_guest");
    for (req, p) in [
        (Requirement::SevSnp, CvmProfile::SevSnp),
        (Requirement::Tdx, CvmProfile::Tdx),
    ] {
        let why = confidump::runner::contexts::requirement_missing(req, &f).unwrap();
        assert_eq!(
            Some(why.clone()),
            confidump::vm::facts::cvm_guest_missing(p, &f)
        );
        assert!(cvm.contains(&why.en), "{cvm} / {why:?}");
    }
    // Facts that make no row n/a but change how it runs: same words as doctor's line.
    f.cap_eff = Some(0);
    f.yama_ptrace_scope = Some("3".into());
    assert_eq!(
        host::ptrace_unusable(&f).map(|t| t.en),
        Some(doctor_says(&f, "ptrace"))
    );
    f.kvm = Err("Permission denied (os error 13)".into());
    assert_eq!(
        confidump::vm::facts::kvm_unusable(&f).map(|t| t.en),
        Some(doctor_says(&f, "kvm"))
    );
}

/// A real victim on a fake host whose kernel pipes cores to systemd-coredump, whose gcore is
/// gone and whose unprivileged user cannot be used: the kernel, gcore and same-uid cells are
/// `n/a` with doctor's words, and the other columns still attack for real.
#[test]
fn a_piped_core_pattern_makes_doctor_and_the_kernel_column_agree() {
    let mut facts = HostFacts::sample();
    facts.core_pattern = Some("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h".into());
    facts.gcore = None;
    facts.unprivileged = Err::<host::User, _>(confidump::model::Texts::same(
        "no unprivileged user: \"nobody\" has uid 0",
    ))
    .into();
    let core = doctor_says(&facts, "core_pattern");
    let gcore = doctor_says(&facts, "gdb");
    let user = doctor_says(&facts, "unprivileged_user");
    assert!(core.contains("systemd-coredump"), "{core}");
    let env = env_over(facts);
    assert_eq!(env.kernel_unusable().as_deref(), Some(core.as_str()));
    assert_eq!(env.gcore_missing().as_deref(), Some(gcore.as_str()));
    assert!(env.gcore.is_none());

    let rows = rows(&env);
    let dumpable = row(&rows, "dumpable");
    assert_eq!(dumpable.info.unavailable, None);
    let cells = matrix::run_scenario(dumpable, &env, &mut |_| {});
    let cell = |attack: &str| {
        cells
            .iter()
            .find(|c| c.attack == attack)
            .unwrap_or_else(|| panic!("no {attack} cell"))
    };
    for (attack, why) in [("kernel", &core), ("gcore", &gcore), ("same-uid", &user)] {
        let c = cell(attack);
        assert_eq!(c.observed, Outcome::NotApplicable, "{attack}: {c:?}");
        assert_eq!(&c.reason, why, "{attack}");
    }
    // root's own attacks ran on the real victim.
    assert_eq!(cell("dump").observed, Outcome::Leak, "{:?}", cell("dump"));
    assert_eq!(cell("live").observed, Outcome::Leak, "{:?}", cell("live"));
}
