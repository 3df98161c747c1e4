//! `confidump victim`: the victim of the context asked for. Each context's victim lives in its
//! folder (`process/`, `sgx/`, `vm/`, `container/`, `service/`); this file picks one for a
//! request and refuses, naming the flags to use, the options that do not apply to it.

use std::io::Write;
use std::path::PathBuf;

use crate::container::victim::{ContainerVictimError, ContainerVictimOptions};
use crate::container::Runtime;
use crate::process::victim::ProcessVictimError;
use crate::scenario::Context;
use crate::service::victim::{ServiceVictimError, ServiceVictimOptions};
use crate::service::Store;
use crate::sgx::victim::{Asked, SgxVictimError};
use crate::sgx::SgxVictimConfig;
use crate::victim::{Generator, Mode, SecretSource, VictimConfig};
use crate::vm::victim::{DryRunFormat, VmVictimError, VmVictimOptions};
use crate::vm::VmOptions;

/// What `confidump victim` was asked for, its flags as plain values (the guest's options
/// aside: [`run`] is handed a maker for them, as they need the mode).
#[derive(Debug)]
pub struct VictimRequest {
    /// Where the victim runs.
    pub context: Context,
    /// The victim mode (a service takes a store instead).
    pub mode: Option<Mode>,
    /// Where the secret comes from ([`secret_source`]).
    pub source: SecretSource,
    /// Also write the ready line here (0600, atomically).
    pub ready_file: Option<PathBuf>,
    /// Also stop at end of stdin.
    pub until_eof: bool,
    /// (sgx) A debug enclave.
    pub debug_enclave: bool,
    /// (vm) Print the QEMU command line in this format instead of running it.
    pub dry_run: Option<DryRunFormat>,
    /// (container) What makes the container.
    pub runtime: Runtime,
    /// (service) How the client stores the secret.
    pub store: Option<Store>,
    /// (service) The server logs every statement with its parameters (the pitfall).
    pub statement_log: bool,
    /// (service) PostgreSQL's bin directory.
    pub pg_bindir: Option<PathBuf>,
}

/// Errors of `confidump victim`: an option that does not apply, or the victim's own failure.
#[derive(Debug, thiserror::Error)]
pub enum VictimRunError {
    /// Service options outside `--context service`.
    #[error("--store and --statement-log apply to --context service only")]
    ServiceOnly,
    /// No mode, where one is needed.
    #[error("--mode is required (except with --context service, or --emit-enclave)")]
    NoMode,
    /// `--debug-enclave` outside `--context sgx`.
    #[error("--debug-enclave needs --context sgx (or --emit-enclave)")]
    DebugNeedsSgx,
    /// `--dry-run` outside `--context vm`.
    #[error("--dry-run shows a QEMU command line: it needs --context vm")]
    DryRunNeedsVm,
    /// The process victim failed.
    #[error(transparent)]
    Process(#[from] ProcessVictimError),
    /// The enclave victim failed.
    #[error(transparent)]
    Sgx(#[from] SgxVictimError),
    /// The VM victim failed.
    #[error(transparent)]
    Vm(#[from] VmVictimError),
    /// The container victim failed.
    #[error(transparent)]
    Container(#[from] ContainerVictimError),
    /// The service victim failed.
    #[error(transparent)]
    Service(#[from] ServiceVictimError),
}

/// The secret source the flags name: the command line (the pitfall), a file, stdin, else a
/// generator (the canary unless another is named). At most one is given.
pub fn secret_source(
    arg: Option<String>,
    file: Option<PathBuf>,
    stdin: bool,
    generate: Option<Generator>,
) -> SecretSource {
    match (arg, file) {
        // The parsed copy is moved into a zeroizing buffer; argv itself stays (the pitfall).
        (Some(arg), _) => SecretSource::Arg(zeroize::Zeroizing::new(arg.into_bytes())),
        (None, Some(path)) => SecretSource::File(path),
        (None, None) if stdin => SecretSource::Stdin,
        (None, None) => SecretSource::Generate(generate.unwrap_or(Generator::Canary)),
    }
}

/// Checks `req` before anything starts: the refusals, in the order the flags are judged.
fn check(req: &VictimRequest) -> Result<Mode, VictimRunError> {
    if req.store.is_some() || req.statement_log {
        return Err(VictimRunError::ServiceOnly);
    }
    let mode = req.mode.ok_or(VictimRunError::NoMode)?;
    if req.debug_enclave && req.context != Context::Sgx {
        return Err(VictimRunError::DebugNeedsSgx);
    }
    Ok(mode)
}

/// Runs the victim `req` asks for until it stops (or prints its dry run); `vm` makes the
/// guest's options for a mode. A VM or container victim first finds the static confidump it
/// runs ([`crate::isolate::init::prepare_saying`]). The ready line goes to `out`, what
/// happens to `log` (stderr).
pub fn run(
    req: VictimRequest,
    vm: impl FnOnce(Mode) -> VmOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), VictimRunError> {
    // The source is moved, never copied: an `Arg` holds the secret itself.
    if req.context == Context::Service {
        let opts = ServiceVictimOptions {
            source: req.source,
            mode: req.mode,
            store: req.store,
            bindir: req.pg_bindir,
            statement_log: req.statement_log,
            ready_file: req.ready_file,
            until_eof: req.until_eof,
        };
        crate::service::victim::run(&opts, out, log)?;
        return Ok(());
    }
    let mode = check(&req)?;
    if req.context == Context::Sgx || mode == Mode::SgxSim {
        let asked = match req.context {
            Context::Sgx => Asked::Sgx,
            Context::Process => Asked::Process,
            _ => Asked::Other,
        };
        let kind = crate::sgx::victim::kind(asked, mode, req.debug_enclave)?;
        let config = SgxVictimConfig {
            kind,
            source: req.source,
            ready_file: req.ready_file,
            until_eof: req.until_eof,
        };
        crate::sgx::victim::run(&config, out)?;
        return Ok(());
    }
    if let Some(format) = req.dry_run {
        if req.context != Context::Vm {
            return Err(VictimRunError::DryRunNeedsVm);
        }
        crate::vm::victim::dry_run(&vm(mode), format, out, log)?;
        return Ok(());
    }
    if matches!(req.context, Context::Vm | Context::Container) {
        // Started by a demo or a lab, this finds what the run already prepared.
        crate::isolate::init::prepare_saying(crate::i18n::detect_lang(), |line| {
            let _ = writeln!(log, "confidump: {line}");
        });
    }
    match req.context {
        Context::Vm => {
            let vm = vm(mode);
            let opts = VmVictimOptions {
                vm,
                source: req.source,
                ready_file: req.ready_file,
                until_eof: req.until_eof,
            };
            crate::vm::victim::run(&opts, out, log)?;
        }
        Context::Container => {
            let opts = ContainerVictimOptions {
                runtime: req.runtime,
                mode,
                source: req.source,
                ready_file: req.ready_file,
                until_eof: req.until_eof,
            };
            crate::container::victim::run(&opts, out, log)?;
        }
        _ => {
            let config = VictimConfig {
                mode,
                source: req.source,
                ready_file: req.ready_file,
                until_eof: req.until_eof,
            };
            crate::process::victim::run(&config, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(context: Context, mode: Option<Mode>) -> VictimRequest {
        VictimRequest {
            context,
            mode,
            source: SecretSource::Generate(Generator::Canary),
            ready_file: None,
            until_eof: false,
            debug_enclave: false,
            dry_run: None,
            runtime: Runtime::Namespaces,
            store: None,
            statement_log: false,
            pg_bindir: None,
        }
    }

    #[test]
    fn the_first_flag_given_names_the_source() {
        let file = || Some(PathBuf::from("s.txt"));
        assert!(matches!(
            secret_source(Some("x".into()), file(), true, None),
            SecretSource::Arg(a) if a.as_slice() == b"x"
        ));
        assert_eq!(
            secret_source(None, file(), true, None),
            SecretSource::File("s.txt".into())
        );
        assert_eq!(secret_source(None, None, true, None), SecretSource::Stdin);
        assert_eq!(
            secret_source(None, None, false, Some(Generator::Pan)),
            SecretSource::Generate(Generator::Pan)
        );
        assert_eq!(
            secret_source(None, None, false, None),
            SecretSource::Generate(Generator::Canary)
        );
    }

    #[test]
    fn options_that_do_not_apply_are_refused_in_order() {
        let mut r = request(Context::Process, None);
        r.statement_log = true;
        assert!(matches!(check(&r), Err(VictimRunError::ServiceOnly)));
        r.statement_log = false;
        assert!(matches!(check(&r), Err(VictimRunError::NoMode)));
        r.mode = Some(Mode::Plain);
        r.debug_enclave = true;
        assert_eq!(
            check(&r).unwrap_err().to_string(),
            "--debug-enclave needs --context sgx (or --emit-enclave)"
        );
        r.context = Context::Sgx;
        assert_eq!(check(&r).unwrap(), Mode::Plain);
    }

    #[test]
    fn a_dry_run_needs_a_vm_and_starts_nothing() {
        let mut r = request(Context::Container, Some(Mode::Plain));
        r.dry_run = Some(DryRunFormat::Text);
        let (mut out, mut log) = (Vec::new(), Vec::new());
        let e = run(r, VmOptions::new, &mut out, &mut log).unwrap_err();
        assert!(matches!(e, VictimRunError::DryRunNeedsVm));
        assert!(out.is_empty() && log.is_empty());
    }
}
