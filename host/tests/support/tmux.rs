//! A terminal for the interactive tests: a private tmux server whose pane runs the command
//! under test, typed into and read back as a user would.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::WAIT;

/// A private tmux server (its own socket, no configuration file) running one command in a
/// 200x50 pane; the server and everything in it is killed when dropped.
pub struct Tmux {
    socket: String,
}

static SESSIONS: AtomicUsize = AtomicUsize::new(0);

impl Tmux {
    /// `None` (the test is skipped) when tmux is missing, except under CI, where it must be
    /// there (`ci.sh setup` installs it).
    pub fn start(command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "tmux is missing: run ./ci.sh setup");
            eprintln!("skipping: tmux is not installed");
            return None;
        }
        let socket = format!("reflex-test-{}-{}", std::process::id(), SESSIONS.fetch_add(1, Ordering::Relaxed));
        let tmux = Tmux { socket };
        // The pane stays after the command ends, showing its exit status.
        let script = format!("{command}; echo \"[exit $?]\"; sleep 600");
        let status =
            tmux.cmd(&["new-session", "-d", "-x", "200", "-y", "50", "-s", "t", &script]).status().expect("tmux");
        assert!(status.success(), "tmux new-session failed");
        Some(tmux)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-f", "/dev/null", "-L", &self.socket]).args(args).stdin(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        assert!(self.cmd(&["send-keys", "-t", "t", "-l", text]).status().expect("tmux").success());
    }

    /// Presses keys by tmux name (`Enter`, `Tab`, `Up`, `C-d`).
    pub fn press(&self, key: &str) {
        assert!(self.cmd(&["send-keys", "-t", "t", key]).status().expect("tmux").success());
    }

    /// The pane's text (with `escapes`, its colours as SGR sequences).
    pub fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "t"];
        if escapes {
            args.push("-e");
        }
        let out = self.cmd(&args).output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the pane shows `text`, and returns the pane.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen(false);
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {text:?}; the pane shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

/// `s` as one word for `sh`, single-quoted.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
