//! In-process cost of one request through reflex's core, jsonrpsee's `RpcModule` and a plain
//! serde_json dispatch (see `reflex_bench` for what each path does and why the comparison is
//! fair), for four requests: a 2.0 `add`, a 1.0 `add`, a batch of ten and
//! `__describe_functions`.
//!
//! Two parts, one run:
//!
//! 1. criterion, one group per request kind with the paths side by side (its usual report,
//!    options and saved baselines in `target/criterion`);
//! 2. a summary of interleaved rounds: every round times every (kind, path) once, in a
//!    rotating order, so drift hits all alike; it prints the median ns per request with the
//!    min–max over rounds and the paired per-round ratios to reflex.
//!
//! ```sh
//! taskset -c 1 cargo bench -p reflex-bench --bench core              # full: about 2 min
//! taskset -c 1 cargo bench -p reflex-bench --bench core -- --quick   # shorter criterion part
//! BENCH_ROUNDS=5 cargo bench ...                                      # rounds of the summary (default 201)
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use reflex_bench::{AnyPath, Kind, Path};

/// Time one measurement of the summary should take.
const MEASUREMENT: Duration = Duration::from_millis(2);

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    for kind in Kind::ALL {
        let mut group = c.benchmark_group(kind.name());
        for path in Path::ALL.into_iter().filter(|p| p.supports(kind)) {
            let mut p = AnyPath::new(path);
            let request = kind.request();
            group.bench_function(path.name(), |b| b.iter(|| p.handle(black_box(request)).len()));
        }
        group.finish();
    }
    c.final_summary();

    // `cargo test --benches` runs this without `--bench`: one short round proves it works.
    let default_rounds = if bench_mode { 201 } else { 1 };
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(default_rounds).max(1);
    summary(rounds, if bench_mode { MEASUREMENT } else { Duration::from_millis(1) });
}

/// One (kind, path) of the summary with its iteration count and its result per round.
struct Case {
    kind: Kind,
    path: Path,
    p: AnyPath,
    iterations: u32,
    ns: Vec<f64>,
}

impl Case {
    /// Nanoseconds per request over `iterations` requests.
    fn time(&mut self, iterations: u32) -> f64 {
        let request = self.kind.request();
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(self.p.handle(black_box(request)).len());
        }
        start.elapsed().as_nanos() as f64 / f64::from(iterations)
    }
}

fn summary(rounds: usize, measurement: Duration) {
    let mut cases: Vec<Case> = Kind::ALL
        .into_iter()
        .flat_map(|kind| {
            Path::ALL.into_iter().filter(move |p| p.supports(kind)).map(move |path| Case {
                kind,
                path,
                p: AnyPath::new(path),
                iterations: 1,
                ns: Vec::new(),
            })
        })
        .collect();
    // Calibrate: warm each case up, then pick the iterations that fill one measurement.
    for case in &mut cases {
        let warm = case.time(100);
        case.iterations = ((measurement.as_nanos() as f64 / warm.max(1.0)) as u32).clamp(10, 10_000_000);
    }
    for round in 0..rounds {
        let n = cases.len();
        for i in 0..n {
            let case = &mut cases[(i + round) % n];
            let ns = case.time(case.iterations);
            case.ns.push(ns);
        }
    }

    println!();
    println!(
        "summary: {rounds} interleaved rounds of about {} ms per case; ns per request, median (min-max over rounds)",
        measurement.as_millis()
    );
    println!(
        "ratio = other path's time / reflex's time in the same round (above 1: reflex is faster), median (min-max)"
    );
    println!();
    println!("  {:<22} {:<11} {:>10} {:>21}   {:>22}", "request", "path", "ns median", "min-max", "ratio to reflex");
    for kind in Kind::ALL {
        let reflex: Vec<f64> =
            cases.iter().find(|c| c.kind == kind && c.path == Path::Reflex).map(|c| c.ns.clone()).unwrap_or_default();
        for case in cases.iter().filter(|c| c.kind == kind) {
            let (med, lo, hi) = stats(&case.ns);
            let ratio = if case.path == Path::Reflex {
                String::from("1")
            } else {
                let ratios: Vec<f64> = case.ns.iter().zip(&reflex).map(|(o, r)| o / r).collect();
                let (m, l, h) = stats(&ratios);
                format!("{m:.2} ({l:.2}-{h:.2})")
            };
            println!(
                "  {:<22} {:<11} {:>10.1} {:>21}   {:>22}",
                kind.label(),
                case.path.name(),
                med,
                format!("({lo:.1}-{hi:.1})"),
                ratio
            );
        }
        if kind == Kind::V1 {
            println!("  {:<22} {:<11} {:>10}", kind.label(), "jsonrpsee", "n/a (speaks JSON-RPC 2.0 only)");
        }
    }
}

/// Median, min and max.
fn stats(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (median, v[0], v[n - 1])
}
