//! What the firmware tests (QEMU, the simulator) share: their tools, and a release build of a
//! firmware crate that is a workspace of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `name` in the directories of PATH, then in `also`; the first that is a file.
pub fn find_tool(name: &str, also: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(also);
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// `cargo build --release` of the crate in `dir`, from that directory, so cargo reads its
/// `.cargo/config.toml` (target, DEFMT_LOG): it has its own workspace and target directory,
/// and the variables that would redirect or alter the build (the host tests' own target
/// directory, flags) are dropped. Returns `dir/ARTIFACT`, or why there is none; `hint` ends
/// the message of a failed build.
pub fn build_release(dir: &Path, artifact: &str, hint: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building {} failed ({}){hint}:\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let built = dir.join(artifact);
    if built.is_file() {
        Ok(built)
    } else {
        Err(format!("the build of {} left no {}", dir.display(), built.display()))
    }
}
