//! Plugin load + describe time (goal: under 20 ms; describe must not load ONNX Runtime or a model).
//!
//! `cargo run --release -p ofx-host --example bench_describe [-- RUNS]` — the first run includes
//! mapping the binary (dlopen); later runs repeat setHost → Load → Describe → DescribeInContext
//! (Generator, General) → Unload on the mapped binary, as a host rescanning its plugins does.

use ofx_host::{default_bundle, Context, HostConfig, Session};
use std::time::{Duration, Instant};

fn load_and_describe() -> Duration {
    let start = Instant::now();
    let session =
        Session::load(&default_bundle(), HostConfig::default()).expect("the bundle loads");
    session
        .describe_in_context(Context::Generator)
        .expect("Generator described");
    session
        .describe_in_context(Context::General)
        .expect("General described");
    let elapsed = start.elapsed();
    session.unload().expect("unloads");
    elapsed
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    println!("bundle: {}", default_bundle().display());
    let first = load_and_describe();
    let mut warm: Vec<Duration> = (0..runs).map(|_| load_and_describe()).collect();
    warm.sort();
    let onnx_loaded =
        std::fs::read_to_string("/proc/self/maps").is_ok_and(|m| m.contains("libonnxruntime"));
    println!("first load + describe (with dlopen): {:8.3} ms", ms(first));
    if !warm.is_empty() {
        println!(
            "load + describe, median of {runs}:     {:8.3} ms",
            ms(warm[warm.len() / 2])
        );
        println!(
            "load + describe, slowest:           {:8.3} ms",
            ms(warm[warm.len() - 1])
        );
    }
    println!(
        "ONNX Runtime loaded by describe: {}",
        if onnx_loaded {
            "YES (should not be)"
        } else {
            "no"
        }
    );
    println!(
        "goal < 20 ms: {}",
        if ms(first) < 20.0 && !onnx_loaded {
            "met"
        } else {
            "NOT met"
        }
    );
}
