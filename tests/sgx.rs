//! The SGX context, checked with what this host has. The enclave image, its measurement and
//! its signature are recomputed here independently of confidump's code (our own SHA-256 over
//! the SGXS records as the SDM defines ECREATE/EADD/EEXTEND, our own RSA check of SIGSTRUCT),
//! the kernel UAPI is compared with `asm/sgx.h`'s numbers, a host without SGX gets exit 2 with
//! the reason, and the `sgx-sim` victim is attacked for real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::Path;

use common::{code_out_err, run, start_victim};
use num_bigint_dig::BigUint;
use sha2::{Digest, Sha256};

const PAGE: usize = 4096;

/// One parsed SGXS record.
#[allow(clippy::enum_variant_names)] // named after the SGXS tags
enum Record {
    ECreate { ssaframesize: u32, size: u64 },
    EAdd { offset: u64, flags: u64 },
    EExtend { offset: u64, data: Vec<u8> },
}

/// Parses an SGXS stream by hand: 64-byte records, tag first; EEXTEND followed by 256 bytes.
fn parse_sgxs(bytes: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rec = &bytes[i..i + 64];
        let tag = &rec[..8];
        let u64_at = |o: usize| u64::from_le_bytes(rec[o..o + 8].try_into().unwrap());
        i += 64;
        match tag {
            b"ECREATE\0" => out.push(Record::ECreate {
                ssaframesize: u32::from_le_bytes(rec[8..12].try_into().unwrap()),
                size: u64_at(12),
            }),
            b"EADD\0\0\0\0" => out.push(Record::EAdd {
                offset: u64_at(8),
                flags: u64_at(16),
            }),
            b"EEXTEND\0" => {
                out.push(Record::EExtend {
                    offset: u64_at(8),
                    data: bytes[i..i + 256].to_vec(),
                });
                i += 256;
            }
            other => panic!("unexpected SGXS tag {other:?}"),
        }
    }
    out
}

/// MRENCLAVE as the SDM defines it: SHA-256 over 64-byte blocks built from the fields.
fn mrenclave(records: &[Record]) -> [u8; 32] {
    let mut h = Sha256::new();
    for r in records {
        let mut block = [0u8; 64];
        match r {
            Record::ECreate { ssaframesize, size } => {
                block[..8].copy_from_slice(b"ECREATE\0");
                block[8..12].copy_from_slice(&ssaframesize.to_le_bytes());
                block[12..20].copy_from_slice(&size.to_le_bytes());
                h.update(block);
            }
            Record::EAdd { offset, flags } => {
                block[..8].copy_from_slice(b"EADD\0\0\0\0");
                block[8..16].copy_from_slice(&offset.to_le_bytes());
                // SECINFO's first 48 bytes: FLAGS, then reserved zeros.
                block[16..24].copy_from_slice(&flags.to_le_bytes());
                h.update(block);
            }
            Record::EExtend { offset, data } => {
                block[..8].copy_from_slice(b"EEXTEND\0");
                block[8..16].copy_from_slice(&offset.to_le_bytes());
                h.update(block);
                h.update(data);
            }
        }
    }
    h.finalize().into()
}

/// Pages reassembled from the EEXTEND records: (offset, SECINFO flags, bytes).
fn pages(records: &[Record]) -> Vec<(u64, u64, Vec<u8>)> {
    let mut out: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    for r in records {
        match r {
            Record::EAdd { offset, flags } => out.push((*offset, *flags, vec![0; PAGE])),
            Record::EExtend { offset, data } => {
                let page = out.last_mut().unwrap();
                let at = (offset - page.0) as usize;
                page.2[at..at + 256].copy_from_slice(data);
            }
            Record::ECreate { .. } => {}
        }
    }
    out
}

fn emit(dir: &Path, debug: bool) -> (Vec<u8>, Vec<u8>) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["victim", "--emit-enclave", d];
    if debug {
        args.push("--debug-enclave");
    }
    let o = run(&args);
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 0, "--emit-enclave failed: {err}");
    assert!(err.contains("MRENCLAVE"), "{err}");
    let sgxs = std::fs::read(dir.join("enclave.sgxs")).unwrap();
    let sig = std::fs::read(dir.join("enclave.sig")).unwrap();
    (sgxs, sig)
}

fn le(bytes: &[u8]) -> BigUint {
    BigUint::from_bytes_le(bytes)
}

/// Checks a SIGSTRUCT field by field (offsets from the SDM) and returns ATTRIBUTES.FLAGS.
fn check_sigstruct(sig: &[u8], enclavehash: &[u8; 32]) -> u64 {
    assert_eq!(sig.len(), 1808);
    assert_eq!(
        &sig[0..16],
        &[6, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        "HEADER"
    );
    assert_eq!(
        &sig[24..40],
        &[1, 1, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 1, 0, 0, 0],
        "HEADER2"
    );
    assert_eq!(
        u32::from_le_bytes(sig[16..20].try_into().unwrap()),
        0,
        "VENDOR"
    );
    assert_eq!(&sig[960..992], enclavehash, "ENCLAVEHASH = MRENCLAVE");
    // RSA-3072, e = 3, PKCS#1 v1.5 over SHA-256 of bytes 0..128 and 900..1028.
    let m = le(&sig[128..512]);
    assert_eq!(m.bits(), 3072, "modulus size");
    assert_eq!(
        u32::from_le_bytes(sig[512..516].try_into().unwrap()),
        3,
        "EXPONENT"
    );
    let s = le(&sig[516..900]);
    assert!(s < m);
    let digest: [u8; 32] = Sha256::new()
        .chain_update(&sig[0..128])
        .chain_update(&sig[900..1028])
        .finalize()
        .into();
    let mut em = vec![0x00, 0x01];
    let t_prefix = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    em.resize(384 - t_prefix.len() - 32 - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&t_prefix);
    em.extend_from_slice(&digest);
    assert_eq!(em.len(), 384);
    let got = s.modpow(&BigUint::from(3u8), &m).to_bytes_be();
    let mut got_padded = vec![0u8; 384 - got.len()];
    got_padded.extend_from_slice(&got);
    assert_eq!(
        got_padded, em,
        "S^3 mod M is the PKCS#1 v1.5 encoding of the digest"
    );
    // Q1 = floor(S^2 / M), Q2 = floor((S^3 - Q1*S*M) / M).
    let q1 = le(&sig[1040..1424]);
    let q2 = le(&sig[1424..1808]);
    assert_eq!(q1, (&s * &s) / &m, "Q1");
    assert_eq!(q2, (&s * &s * &s - &q1 * &s * &m) / &m, "Q2");
    // ATTRIBUTES (928) and ATTRIBUTEMASK (944): MODE64BIT, XFRM 3, DEBUG bound by the mask.
    let flags = u64::from_le_bytes(sig[928..936].try_into().unwrap());
    let xfrm = u64::from_le_bytes(sig[936..944].try_into().unwrap());
    let mask = u64::from_le_bytes(sig[944..952].try_into().unwrap());
    assert_ne!(flags & 0b100, 0, "MODE64BIT");
    assert_eq!(flags & 0b1, 0, "INIT is never set in SIGSTRUCT");
    assert_eq!(xfrm, 0x3);
    assert_ne!(mask & 0b10, 0, "ATTRIBUTEMASK binds DEBUG");
    flags
}

#[test]
fn emitted_enclave_is_measured_and_signed_correctly() {
    for debug in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (sgxs, sig) = emit(dir.path(), debug);
        let records = parse_sgxs(&sgxs);

        // Layout: ECREATE, then TCS, SSA, code, two data pages, each fully measured.
        let Record::ECreate { ssaframesize, size } = records[0] else {
            panic!("first record is not ECREATE");
        };
        assert_eq!((ssaframesize, size), (1, 0x8000));
        let pages = pages(&records);
        let layout: Vec<(u64, u64)> = pages.iter().map(|(o, f, _)| (*o, *f)).collect();
        // SECINFO.FLAGS: R=1 W=2 X=4, page type in bits 8..16 (TCS 1, REG 2).
        assert_eq!(
            layout,
            [
                (0x0000, 0x100),     // TCS, no permissions
                (0x1000, 0x200 | 3), // SSA: REG, RW
                (0x2000, 0x200 | 5), // code: REG, RX
                (0x3000, 0x200 | 3), // data: REG, RW
                (0x4000, 0x200 | 3), // data: REG, RW
            ]
        );
        let extends = records
            .iter()
            .filter(|r| matches!(r, Record::EExtend { .. }))
            .count();
        assert_eq!(extends, 16 * pages.len(), "every chunk is measured");
        // TCS fields (SDM layout): FLAGS 8, OSSA 16, CSSA 24, NSSA 28, OENTRY 32, OFSBASGX 48,
        // OGSBASGX 56, FSLIMIT 64, GSLIMIT 68.
        let tcs = &pages[0].2;
        let u64_at = |o: usize| u64::from_le_bytes(tcs[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(tcs[o..o + 4].try_into().unwrap());
        assert_eq!(u64_at(8), 0, "TCS.FLAGS (no DBGOPTIN)");
        assert_eq!(u64_at(16), 0x1000, "OSSA");
        assert_eq!(u32_at(24), 0, "CSSA");
        assert_eq!(u32_at(28), 1, "NSSA");
        assert_eq!(u64_at(32), 0x2000, "OENTRY");
        assert_eq!((u32_at(64), u32_at(68)), (0xfff, 0xfff), "FS/GS limits");
        // The SSA frames (OSSA + NSSA * SSAFRAMESIZE pages) are the RW pages added for them.
        assert_eq!(
            0x1000 + u64::from(u32_at(28)) * u64::from(ssaframesize) * 4096,
            0x2000
        );
        // No secret in the image: data and SSA pages are zero; the code ends in EEXIT.
        for (o, _, bytes) in &pages {
            if *o == 0x1000 || *o >= 0x3000 {
                assert!(bytes.iter().all(|&b| b == 0), "page {o:#x} is not zero");
            }
        }
        let code = &pages[2].2;
        assert!(
            code.windows(3).any(|w| w == [0x0f, 0x01, 0xd7]),
            "ENCLU in code"
        );

        let mr = mrenclave(&records);
        let flags = check_sigstruct(&sig, &mr);
        assert_eq!(
            flags & 0b10 != 0,
            debug,
            "DEBUG set only with --debug-enclave"
        );

        // Both files 0600, nothing else left in the directory.
        use std::os::unix::fs::PermissionsExt;
        for f in ["enclave.sgxs", "enclave.sig"] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}

#[test]
fn emit_does_not_follow_a_planted_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"do not overwrite").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&target, out.join("enclave.sig")).unwrap();
    // Every file confidump writes refuses a link at its final name: neither followed nor
    // replaced, and the run says why.
    let o = run(&["victim", "--emit-enclave", out.to_str().unwrap()]);
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"do not overwrite");
    let meta = std::fs::symlink_metadata(out.join("enclave.sig")).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the planted link was left alone"
    );
}

#[test]
fn emit_creates_a_missing_directory_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new").join("dir");
    let o = run(&["victim", "--emit-enclave", out.to_str().unwrap()]);
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    for d in [dir.path().join("new"), out.clone()] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    assert!(out.join("enclave.sgxs").is_file() && out.join("enclave.sig").is_file());
}

#[test]
fn ioctl_structs_and_numbers_match_the_kernel_uapi() {
    use confidump::sgx::uapi::*;
    use std::mem::size_of;
    assert_eq!(size_of::<SgxEnclaveCreate>(), 8);
    assert_eq!(size_of::<SgxEnclaveAddPages>(), 48);
    assert_eq!(size_of::<SgxEnclaveInit>(), 8);
    assert_eq!(size_of::<SgxEnclaveRun>(), 256);
    // _IOW(0xA4, 0, 8), _IOWR(0xA4, 1, 48), _IOW(0xA4, 2, 8): dir << 30 | size << 16 | type << 8 | nr.
    assert_eq!(SGX_IOC_ENCLAVE_CREATE, 0x4008_a400);
    assert_eq!(SGX_IOC_ENCLAVE_ADD_PAGES, 0xc030_a401);
    assert_eq!(SGX_IOC_ENCLAVE_INIT, 0x4008_a402);
    assert_eq!(SGX_PAGE_MEASURE, 1);
    // Field offsets of struct sgx_enclave_add_pages and struct sgx_enclave_run.
    assert_eq!(std::mem::offset_of!(SgxEnclaveAddPages, secinfo), 24);
    assert_eq!(std::mem::offset_of!(SgxEnclaveAddPages, count), 40);
    assert_eq!(std::mem::offset_of!(SgxEnclaveRun, function), 8);
    assert_eq!(std::mem::offset_of!(SgxEnclaveRun, exception_addr), 16);
    assert_eq!(std::mem::offset_of!(SgxEnclaveRun, user_handler), 24);
    assert_eq!((EENTER, ERESUME, EEXIT), (2, 3, 4));
}

#[test]
fn context_sgx_without_sgx_exits_2_with_the_reason() {
    let prereqs = confidump::sgx::facts::prerequisites();
    for p in &prereqs {
        eprintln!("{}: {:?}", p.name, p.result);
    }
    // On an SGX host --context sgx does not fail.
    if !common::host_lacks(common::Host::Sgx) {
        return;
    }
    let reason =
        confidump::sgx::facts::unavailable_reason(&prereqs).expect("common::Host::Sgx said no SGX");
    let o = run(&["victim", "--context", "sgx", "--mode", "plain"]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "no ready line: {out}");
    assert!(
        err.contains("not available on this host: needs SGX ("),
        "{err}"
    );
    assert!(err.contains(&reason), "{err} / {reason}");
    // The debug variant says the same, and so does a wrong mode combination with a reason.
    let o = run(&[
        "victim",
        "--context",
        "sgx",
        "--mode",
        "plain",
        "--debug-enclave",
    ]);
    assert_eq!(code_out_err(&o).0, 2);
    let o = run(&["victim", "--context", "sgx", "--mode", "secretmem"]);
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2);
    assert!(err.contains("--mode plain"), "{err}");
}

/// The SDK simulation-mode pitfall: the enclave's data page is ordinary memory, so every path
/// recovers the secret inside the region the victim announced.
#[test]
fn sgx_sim_leaks_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let victim = start_victim(&["--mode", "sgx-sim"], None);
    assert_eq!(victim.ready.mode, "sgx-sim");
    assert_eq!(victim.ready.end - victim.ready.start, 0x8000, "ELRANGE");
    let pid = victim.ready.pid.to_string();
    let mut paths: Vec<(&str, Vec<&str>)> =
        vec![("dump", vec![]), ("like-gcore", vec!["--like-gcore"])];
    if common::require(common::Need::Gdb) {
        paths.push(("gdb", vec!["--engine", "gdb"]));
    }
    let mut results = Vec::new();
    for (name, extra) in &paths {
        let core = dir.path().join(format!("{name}.core"));
        let mut args = vec!["dump", &pid, "-o", core.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let (code, _, err) = code_out_err(&run(&args));
        assert_eq!(code, 0, "dump {name}: {err}");
        let o = run(&[
            "scan",
            core.to_str().unwrap(),
            "--sha256",
            &victim.ready.sha256,
            "--shape",
            "canary",
            "--format",
            "json",
        ]);
        results.push((name.to_string(), o));
    }
    let o = run(&[
        "scan",
        "--pid",
        &pid,
        "--sha256",
        &victim.ready.sha256,
        "--shape",
        "canary",
        "--format",
        "json",
    ]);
    results.push(("live".to_string(), o));
    for (name, o) in results {
        let (code, out, err) = code_out_err(&o);
        assert_eq!(code, 0, "scan {name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["verdict"], "leak", "{name}: {v}");
        let inside = v["hits"].as_array().unwrap().iter().any(|h| {
            let a = common::hex(&h["vaddr"]);
            a >= victim.ready.start + 0x3000 && a < victim.ready.end
        });
        assert!(
            inside,
            "{name}: the secret is found in the simulated data pages: {v}"
        );
    }
}
