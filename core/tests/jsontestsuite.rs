//! Runs the strict scanner over the vendored JSONTestSuite parsing corpus
//! (`tests/vectors/jsontestsuite`, from nst/JSONTestSuite): every `y_` file must be accepted,
//! every `n_` file rejected, and no `i_` file may cause a panic.

use std::fs;
use std::path::Path;

use reflex::scan::{Scanner, MAX_DEPTH};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/jsontestsuite/test_parsing");

/// `y_` files our strict rules reject by design. Empty: the corpus's `y_` files are all
/// plain RFC 8259, and the contested cases (lone surrogates, BOM, deep nesting) are `i_`.
const Y_REJECTED_BY_DESIGN: &[&str] = &[];

/// Every `*.json` file in the corpus, sorted by name, with its contents.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(CORPUS);
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("corpus missing at {}: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("readable directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name").to_owned();
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            (name, bytes)
        })
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    files.sort();
    // Guard against a vacuous pass on a missing or truncated copy of the corpus.
    assert!(files.len() >= 300, "expected at least 300 corpus files in {CORPUS}, found {}", files.len());
    files
}

#[test]
fn jsontestsuite_parsing() {
    let files = corpus();
    let (mut y, mut n, mut i) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut i_accepted = Vec::new();
    for (name, bytes) in &files {
        let result = Scanner::new(bytes, MAX_DEPTH).document();
        if name.starts_with("y_") {
            y += 1;
            let expected = !Y_REJECTED_BY_DESIGN.contains(&name.as_str());
            if result.is_ok() != expected {
                failures.push(format!("{name}: expected {}, got {result:?}", if expected { "Ok" } else { "Err" }));
            }
        } else if name.starts_with("n_") {
            n += 1;
            if let Ok(v) = result {
                failures.push(format!("{name}: expected Err, got Ok({v:?})"));
            }
        } else if name.starts_with("i_") {
            // Reaching here at all means no panic; report what we decided.
            i += 1;
            if result.is_ok() {
                i_accepted.push(name.as_str());
            }
        } else {
            failures.push(format!("{name}: unknown prefix"));
        }
    }
    println!("JSONTestSuite: {y} y_, {n} n_, {i} i_ files");
    println!("i_ files accepted ({}): {i_accepted:?}", i_accepted.len());
    assert!(y > 0 && n > 0 && i > 0, "corpus lacks a category: y={y} n={n} i={i}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
