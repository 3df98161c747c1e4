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

    match confidump::sgx::unavailable_reason(&confidump::sgx::prerequisites()) {
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
