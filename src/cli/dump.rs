//! `confidump dump`: a gcore-style ELF core of a live process.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::coredump::policy::Policy;
use crate::coredump::writer::{dump_process_with_progress, DumpOptions, Engine, Progress};
use crate::render::progress::Transfer;

/// `--engine`: which program writes the core.
#[rustfmt::skip]
const ENGINES: &[(Engine, &str, &str)] = &[
    (Engine::Ours, "ours", "confidump's own streaming writer"),
    (Engine::Gdb, "gdb", "gdb's `gcore`, with gdb's default behaviour (no `-a`), for side-by-side comparison"),
];

const DUMP_HELP: &str = "\
By default the core holds everything root can read: MADV_DONTDUMP (dd) and PROT_NONE (---p)
mappings included. Pages that cannot be read (memfd_secret, [vvar], SGX enclaves) get no
PT_LOAD in the core, so gdb says \"Cannot access memory\" there as it does live, and are listed,
with their errno, in a CONFIDUMP note (`confidump show` draws them as ??).
Never-touched anonymous pages take no room in the file (a PT_LOAD's zero tail, which gdb reads
as zeros), so the core's size follows the process's resident size, not its address space.

Freeze: by default the threads stay stopped while all memory is copied (about as long as
writing the core), which touches nothing in the victim. --short-freeze stops them only while
one thread is made to fork, as gdb's `checkpoint` does, and while shared, MADV_DONTFORK and
MADV_WIPEONFORK memory (which a fork does not snapshot) is copied; the rest is read from the
stopped child as the victim runs on. Its costs: the victim's memory use grows by each page it
writes during the dump (copy on write); the child exists for the dump's length; and the victim
is stopped a second time, briefly, to reap it (it gets no SIGCHLD and keeps no zombie). Not
done under seccomp (a filter could kill the victim for a clone): the dump then says so and
keeps the threads stopped.

Examples:
  confidump dump 1234 -o victim.core
  gdb -batch -ex 'info threads' -ex bt /path/to/victim-exe victim.core
  confidump dump 1234 -o victim.core --force --like-gcore   what gcore would keep
  confidump dump 1234 -o victim.core --short-freeze         stopped for milliseconds
  confidump dump 1234 -o gdb.core --engine gdb              gdb's own gcore, for comparison";

/// Options of `confidump dump`.
#[derive(Debug, clap::Args)]
#[command(after_help = DUMP_HELP)]
pub struct DumpArgs {
    /// PID of the process to dump (its threads are stopped only while memory is copied).
    pub pid: i32,
    /// Core file to write (created 0600 under a temporary name, renamed when complete).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Leave out what gdb's gcore leaves out: dd mappings and what /proc/PID/coredump_filter
    /// excludes (they are listed as absent in the CONFIDUMP note).
    #[arg(long)]
    pub like_gcore: bool,
    /// Who writes the core: `ours`, or `gdb` (runs gcore with its default behaviour).
    #[arg(long, default_value = "ours", value_parser = super::choices(ENGINES))]
    pub engine: Engine,
    /// Stop the threads only while the process forks a copy-on-write snapshot, then read
    /// the snapshot while it runs on (see below for what it costs).
    #[arg(long, conflicts_with = "engine")]
    pub short_freeze: bool,
}

/// Runs `confidump dump`.
pub fn run(args: DumpArgs) -> anyhow::Result<ExitCode> {
    let mut opts = DumpOptions::new(&args.output);
    opts.force = args.force;
    opts.policy = if args.like_gcore {
        Policy::LikeGcore
    } else {
        Policy::Attacker
    };
    opts.short_freeze = args.short_freeze;
    opts.engine = args.engine;
    // Only for dumps that take a while, and only for a human watching.
    let mut bar = Transfer::new(
        std::io::stderr().is_terminal(),
        &format!("dumping PID {}", args.pid),
    );
    let mut progress = |p: Progress| bar.update(p.done, p.total);
    let result = dump_process_with_progress(args.pid, &opts, &mut progress);
    bar.finish();
    let summary = result?;
    eprintln!("{summary}");
    Ok(ExitCode::from(super::EXIT_OK))
}
