//! Summarises interleaved benchmark rounds (`bench/servers.sh`): medians with min–max over
//! rounds, and paired per-round ratios.
//!
//! Usage: `bench-stats FILE [--unit UNIT] [--ratio 'A|B[|TARGET]']...`. FILE holds lines
//! `ROUND<TAB>NAME<TAB>VALUE`. Prints every NAME (in order of first appearance) with the median,
//! min and max of its values; then, for each `--ratio`, A/B taken within each round that has
//! both, with its median and min–max, and, given a TARGET, whether the median reaches it
//! (reported only: the exit code says whether the file could be read).

use std::collections::BTreeMap;
use std::process::ExitCode;

fn stats(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (median, v[0], v[n - 1])
}

/// Thousands separators for a rounded value.
fn group(x: f64) -> String {
    let s = format!("{:.0}", x);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: bench-stats FILE [--unit UNIT] [--ratio 'A|B[|TARGET]']...");
        return ExitCode::from(2);
    };
    let mut unit = String::from("req/s");
    let mut ratios = Vec::new();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--unit", Some(u)) => unit = u,
            ("--ratio", Some(r)) => ratios.push(r),
            _ => {
                eprintln!("bench-stats: bad argument {a}");
                return ExitCode::from(2);
            }
        }
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench-stats: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut names: Vec<String> = Vec::new();
    // name -> round -> value
    let mut data: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split('\t');
        let (Some(round), Some(name), Some(Ok(value))) = (f.next(), f.next(), f.next().map(str::parse::<f64>)) else {
            eprintln!("bench-stats: {file}: bad line {line:?}");
            return ExitCode::FAILURE;
        };
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        data.entry(name.to_string()).or_default().insert(round.to_string(), value);
    }
    let width = names.iter().map(String::len).max().unwrap_or(6).max(6);
    println!("  {:<width$} {:>12} {:>25} {:>7}", "config", format!("{unit} median"), "min-max", "rounds");
    for name in &names {
        let values: Vec<f64> = data[name].values().copied().collect();
        let (m, lo, hi) = stats(&values);
        println!(
            "  {:<width$} {:>12} {:>25} {:>7}",
            name,
            group(m),
            format!("{}-{}", group(lo), group(hi)),
            values.len()
        );
    }
    if !ratios.is_empty() {
        println!();
        println!("  paired ratios (A / B within each round)");
        for spec in &ratios {
            let parts: Vec<&str> = spec.split('|').collect();
            let (Some(a), Some(b)) = (parts.first(), parts.get(1)) else {
                eprintln!("bench-stats: bad ratio {spec:?}: use 'A|B[|TARGET]'");
                return ExitCode::from(2);
            };
            let target = parts.get(2).and_then(|t| t.parse::<f64>().ok());
            let (Some(da), Some(db)) = (data.get(*a), data.get(*b)) else {
                println!("  {a} / {b}: no data");
                continue;
            };
            let r: Vec<f64> = da.iter().filter_map(|(round, va)| db.get(round).map(|vb| va / vb)).collect();
            if r.is_empty() {
                println!("  {a} / {b}: no round has both");
                continue;
            }
            let (m, lo, hi) = stats(&r);
            let verdict = match target {
                Some(t) if m >= t => format!("   target >= {t}: met"),
                Some(t) => format!("   target >= {t}: not met"),
                None => String::new(),
            };
            println!("  {a} / {b}: {m:.2} ({lo:.2}-{hi:.2}){verdict}");
        }
    }
    ExitCode::SUCCESS
}
