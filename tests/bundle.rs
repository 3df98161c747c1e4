//! `doctor --bundle` and `demo --bundle`: one 0600 `.tar.gz` with the listed files, written
//! whole or not at all, never through a link, and with no secret in it: a real demo's secret
//! (read back from its unredacted `--output`) is searched for in every unpacked file, raw and
//! in every encoding the scanner knows, and must not be there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Need;
use confidump::memory::bytes::BytesSource;
use confidump::model::Encoding;
use confidump::scan::needles::{Needles, Shape};
use confidump::secret::Secret;
use zeroize::Zeroizing;

/// What every bundle holds, beside the demo's files.
const HOST_FILES: &[&str] = &[
    "MANIFEST.txt",
    "doctor.json",
    "host/kernel.txt",
    "host/firmware.txt",
    "host/kernel-config.txt",
    "host/kernel-log.txt",
    "host/cpu.txt",
    "host/qemu.txt",
    "trace.log",
];

/// The archive's entries (name without `confidump-bundle/`, bytes), after checking it is 0600.
fn unpack(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut out = Vec::new();
    for e in tar::Archive::new(gz).entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let name = name
            .strip_prefix("confidump-bundle/")
            .unwrap_or_else(|| panic!("{name} is outside confidump-bundle/"))
            .to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

/// The whole decompressed tar stream (headers too).
fn tar_stream(path: &Path) -> Vec<u8> {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut all = Vec::new();
    gz.read_to_end(&mut all).unwrap();
    all
}

fn needles(secret: &[u8]) -> Needles {
    let mut n = Needles::new();
    n.add_bytes(Secret::new(secret.to_vec()));
    let sha: [u8; 32] = hex::decode(common::sha256_hex(secret))
        .unwrap()
        .try_into()
        .unwrap();
    n.add_hash(Shape::Canary, sha);
    n
}

/// The encodings in which the scanner found `secret` in `bytes`.
fn found(secret: &[u8], what: &str, bytes: &[u8]) -> Vec<Encoding> {
    let source = BytesSource::new(what, what, Zeroizing::new(bytes.to_vec()));
    let report = confidump::scan::scan_source(&source, &needles(secret)).unwrap();
    report.hits.iter().map(|h| h.encoding).collect()
}

/// `secret` in every encoding the scanner knows, each among other bytes: the search must find
/// each of them (so that finding nothing in a bundle means something).
fn control(secret: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let mut c = b"x".repeat(16);
    c.extend_from_slice(secret);
    c.extend_from_slice(b" -- ");
    for b in secret {
        c.extend_from_slice(&[*b, 0]);
    }
    c.extend_from_slice(b" -- ");
    c.extend_from_slice(hex::encode(secret).as_bytes());
    c.extend_from_slice(b" -- ");
    c.extend_from_slice(hex::encode_upper(secret).as_bytes());
    for pad in 0..3 {
        let mut input = b"ab"[..pad.min(2)].to_vec();
        input.extend_from_slice(secret);
        c.extend_from_slice(b" -- ");
        c.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(&input)
                .as_bytes(),
        );
    }
    c
}

/// The demo's secret, from the hex view of a leaking cell of its unredacted JSON (`--output`
/// keeps the bytes): the highlighted bytes of the view, in order.
fn secret_from(result: &Path) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(result).unwrap()).unwrap();
    for c in v["cells"].as_array().unwrap() {
        let Some(rows) = c["view"]["rows"].as_array() else {
            continue;
        };
        let mut s = Vec::new();
        for r in rows {
            let bytes = r["bytes"].as_array().unwrap();
            let hl = r["highlight"].as_array().unwrap();
            for (b, h) in bytes.iter().zip(hl) {
                if h.as_bool() == Some(true) {
                    s.push(u8::try_from(b.as_u64().expect("an unredacted byte")).unwrap());
                }
            }
        }
        if confidump::scan::needles::is_canary(&s) {
            return s;
        }
    }
    panic!(
        "no leaking cell of {} shows the whole secret",
        result.display()
    );
}

/// The bytes a JSON document carries as arrays of numbers (a hex view's `bytes`), one after
/// the other: what a search of the text alone would miss.
fn json_bytes(doc: &[u8]) -> Vec<u8> {
    fn walk(v: &serde_json::Value, out: &mut Vec<u8>) {
        match v {
            serde_json::Value::Array(a) => {
                let bytes: Vec<u8> = a
                    .iter()
                    .filter_map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
                    .collect();
                // No separator: a view's rows are consecutive memory, and a secret may span
                // two of them.
                out.extend_from_slice(&bytes);
                a.iter().for_each(|x| walk(x, out));
            }
            serde_json::Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(doc) {
        walk(&v, &mut out);
    }
    out
}

fn assert_no_secret(secret: &[u8], bundle: &Path) {
    for (name, bytes) in unpack(bundle) {
        let mut hits = found(secret, &name, &bytes);
        hits.extend(found(secret, &name, &json_bytes(&bytes)));
        assert!(
            hits.is_empty(),
            "{}: {name} holds the secret ({hits:?})",
            bundle.display()
        );
    }
    let hits = found(secret, "the tar stream", &tar_stream(bundle));
    assert!(hits.is_empty(), "{}: {hits:?}", bundle.display());
}

fn names(bundle: &Path) -> Vec<String> {
    unpack(bundle).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn demo_and_doctor_bundles_list_their_files_and_hold_no_secret() {
    if !common::require(Need::Root) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (full, b2, b) = (
        dir.path().join("full.json"),
        dir.path().join("b2.tgz"),
        dir.path().join("b.tgz"),
    );
    let out = common::run(&[
        "demo",
        "--scenario",
        "plain",
        "--format",
        "json",
        "--output",
        full.to_str().unwrap(),
        "--bundle",
        b2.to_str().unwrap(),
    ]);
    let (code, _, err) = common::code_out_err(&out);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote the bundle"), "{err}");

    let secret = secret_from(&full);
    // The search finds the secret in each encoding it knows, in the unredacted result too
    // (JSON holds the view's bytes as numbers, so not there: its `command`s and the hash
    // shape are what a real leak would look like; the control below is the proof).
    let mut seen = found(&secret, "control", &control(&secret));
    seen.sort_by_key(|e| e.as_str());
    seen.dedup();
    assert_eq!(
        seen,
        [
            Encoding::Base64,
            Encoding::Hex,
            Encoding::Raw,
            Encoding::Utf16le
        ],
        "the control must be found in every encoding"
    );

    // The unredacted result holds the secret as a view's numbers: the search sees it there.
    let full_bytes = json_bytes(&std::fs::read(&full).unwrap());
    assert!(!found(&secret, "full.json", &full_bytes).is_empty());

    let listed = names(&b2);
    for f in HOST_FILES.iter().chain(&["demo.json", "demo.junit.xml"]) {
        assert!(listed.iter().any(|n| n == f), "{f} not in {listed:?}");
    }
    assert_no_secret(&secret, &b2);

    // doctor --bundle, handed the unredacted result (it holds the secret's bytes) to pack.
    let out = common::run(&[
        "doctor",
        "--bundle",
        b.to_str().unwrap(),
        "--demo-result",
        full.to_str().unwrap(),
    ]);
    let (code, _, err) = common::code_out_err(&out);
    assert_eq!(code, 0, "{err}");
    let listed = names(&b);
    for f in HOST_FILES.iter().chain(&["demo.json", "demo.junit.xml"]) {
        assert!(listed.iter().any(|n| n == f), "{f} not in {listed:?}");
    }
    assert_no_secret(&secret, &b);
    // The packed result is the run's, verdicts kept: the cells are there, the views are not.
    let demo = unpack(&b)
        .into_iter()
        .find(|(n, _)| n == "demo.json")
        .unwrap()
        .1;
    let demo: serde_json::Value = serde_json::from_slice(&demo).unwrap();
    let cells = demo["cells"].as_array().unwrap();
    assert!(cells.iter().any(|c| c["observed"] == "leak"), "{demo}");
    assert!(cells.iter().all(|c| c.get("view").is_none()), "{demo}");
}

#[test]
fn doctor_bundle_alone_and_what_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.tgz");
    let (code, _, err) =
        common::code_out_err(&common::run(&["doctor", "--bundle", b.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    let listed = names(&b);
    assert_eq!(listed, HOST_FILES, "in this order, nothing else");
    let config = unpack(&b)
        .into_iter()
        .find(|(n, _)| n == "host/kernel-config.txt")
        .unwrap()
        .1;
    let config = String::from_utf8(config).unwrap();
    let has_config =
        Path::new("/proc/config.gz").exists() || config.starts_with("from /boot/config-");
    if has_config {
        assert!(config.contains("CONFIG_X86_SGX"), "{config}");
        assert!(config.contains("CONFIG_TSM_REPORTS"), "{config}");
    } else {
        assert!(
            config.starts_with("no kernel configuration here"),
            "{config}"
        );
    }

    // An existing bundle is kept without --force; replaced with it.
    let before = std::fs::read(&b).unwrap();
    let (code, _, err) =
        common::code_out_err(&common::run(&["doctor", "--bundle", b.to_str().unwrap()]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&b).unwrap(), before);
    let (code, _, err) = common::code_out_err(&common::run(&[
        "doctor",
        "--bundle",
        b.to_str().unwrap(),
        "--force",
    ]));
    assert_eq!(code, 0, "{err}");

    // A link is never written through, even with --force, and nothing is left behind.
    let target = dir.path().join("elsewhere");
    let link = dir.path().join("link.tgz");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, _, err) = common::code_out_err(&common::run(&[
        "doctor",
        "--bundle",
        link.to_str().unwrap(),
        "--force",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!target.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "only b.tgz and the link: {left:?}");
}

#[test]
fn a_vm_run_bundles_the_trace_of_its_qemu_start() {
    if !common::require(Need::Root)
        || !common::require(Need::Qemu)
        || !common::require(Need::GuestKernel)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("vm.tgz");
    let out = common::run(&[
        "demo",
        "--scenario",
        "vm-plain",
        "--bundle",
        b.to_str().unwrap(),
    ]);
    let (code, _, err) = common::code_out_err(&out);
    assert_eq!(code, 0, "{err}");
    let trace = unpack(&b)
        .into_iter()
        .find(|(n, _)| n == "trace.log")
        .unwrap()
        .1;
    let trace = String::from_utf8(trace).unwrap();
    // The QEMU start with its command line and its result, from the victim process that ran
    // it, and what became of the guest.
    assert!(trace.contains("QEMU start"), "{trace}");
    assert!(trace.contains("-append"), "{trace}");
    assert!(trace.contains("result=Ok("), "{trace}");
    assert!(trace.contains("guest after QEMU start"), "{trace}");
    assert!(trace.contains("result=ready"), "{trace}");
}
