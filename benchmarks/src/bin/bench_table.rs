//! Combines the figures `scripts/bench.sh` collected into one Markdown table on stdout.
//!
//!     bench_table RESULTS_DIR PACKAGE...
//!
//! RESULTS_DIR holds `engine-PACKAGE.json` and `reference-PACKAGE.json` per package (one JSON line each, from
//! `engine_clip` and `models/bench_reference.py`), `disk.json` (`disk_vs_regen`), and the output of the
//! cache and describe examples as `cache_bench.txt` and `bench_describe.txt`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use benchmarks::setup::exit_with;
use benchmarks::table::{clip_rows, describe_row, disk_row, markdown, memory_row};
use clap::Parser;
use serde_json::Value;

fn read(dir: &Path, name: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(name))
        .map_err(|e| format!("{}: {e}", dir.join(name).display()))
}

/// The last line of a JSON-lines file (the benchmarks print exactly one).
fn json(dir: &Path, name: &str) -> Result<Value, String> {
    let text = read(dir, name)?;
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("{name}: {e} in {last:?}"))
}

/// Combines the figures `scripts/bench.sh` collected into one Markdown table.
#[derive(Parser)]
struct Args {
    /// The folder `scripts/bench.sh` wrote the results to.
    results_dir: PathBuf,
    /// The packages benchmarked, in table order.
    packages: Vec<String>,
}

fn run(args: Args) -> Result<(), String> {
    let dir = args.results_dir.as_path();
    let mut rows = Vec::new();
    for package in args.packages {
        rows.extend(clip_rows(
            &json(dir, &format!("engine-{package}.json"))?,
            &json(dir, &format!("reference-{package}.json"))?,
        )?);
    }
    rows.push(memory_row(&read(dir, "cache_bench.txt")?)?);
    rows.push(disk_row(&json(dir, "disk.json")?)?);
    rows.push(describe_row(&read(dir, "bench_describe.txt")?)?);
    print!("{}", markdown(&rows));
    Ok(())
}

fn main() -> ExitCode {
    exit_with(run(Args::parse()))
}
