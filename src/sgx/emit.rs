//! `--emit-enclave DIR`: the enclave as it would be loaded, for third-party tools on any
//! machine: `DIR/enclave.sgxs` (the SGXS measurement stream, which Fortanix's `sgxs-info` and
//! `sgxs-sign` read) and `DIR/enclave.sig` (the 1808-byte SIGSTRUCT). Both 0600, written to a
//! temporary name created without following links, then renamed.

use std::path::{Path, PathBuf};

use super::layout::EnclaveImage;
use super::{measure, sign, SgxError};

/// What was written.
#[derive(Debug, Clone)]
pub struct Emitted {
    /// `DIR/enclave.sgxs`.
    pub sgxs: PathBuf,
    /// `DIR/enclave.sig`.
    pub sig: PathBuf,
    /// MRENCLAVE (= SIGSTRUCT.ENCLAVEHASH).
    pub mrenclave: [u8; 32],
    /// ATTRIBUTES.DEBUG.
    pub debug: bool,
    /// Seconds the key generation took.
    pub keygen_secs: f64,
}

/// Builds, measures and signs the image and writes both files into `dir` (which must exist).
pub fn emit_enclave(dir: &Path, debug: bool) -> Result<Emitted, SgxError> {
    let image = EnclaveImage::build(debug);
    let sgxs = measure::sgxs_bytes(&image)?;
    let mrenclave = measure::mrenclave_of_sgxs(&sgxs)?;
    let t = std::time::Instant::now();
    let key = sign::SigningKey::generate()?;
    let keygen_secs = t.elapsed().as_secs_f64();
    let sig = sign::sign(&image, mrenclave, &key)?;
    create_private_dir(dir)?;
    let paths = (dir.join("enclave.sgxs"), dir.join("enclave.sig"));
    write(&paths.0, &sgxs)?;
    write(&paths.1, &sign::sigstruct_bytes(&sig))?;
    Ok(Emitted {
        sgxs: paths.0,
        sig: paths.1,
        mrenclave,
        debug,
        keygen_secs,
    })
}

/// `dir`, made 0700 (its missing parents too) when it does not exist, as `mkdir -p -m 700`
/// would; an existing one is used as it is.
fn create_private_dir(dir: &Path) -> Result<(), SgxError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(source) => Err(SgxError::Write {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), SgxError> {
    // Never over an existing file (a second emit into the same directory says so).
    crate::secret::write_private(path, bytes, false).map_err(|e| SgxError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}
