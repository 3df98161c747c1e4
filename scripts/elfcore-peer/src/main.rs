//! `elfcore-peer PID OUT`: writes a core of PID with the `elfcore` crate, as its README shows
//! (a `BufWriter` over a plain file), so scripts/bench.sh can time it beside confidump and gcore.
use std::io::BufWriter;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pid), Some(out)) = (args.get(1).and_then(|p| p.parse().ok()), args.get(2)) else {
        eprintln!("usage: elfcore-peer PID OUT");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::create(out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("elfcore-peer: {out}: {e}");
            return ExitCode::from(2);
        }
    };
    let result = elfcore::CoreDumpBuilder::new(pid).and_then(|b| b.write(BufWriter::new(file)));
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("elfcore-peer: {e}");
            ExitCode::from(1)
        }
    }
}
