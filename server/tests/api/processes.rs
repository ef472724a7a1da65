//! The real binary as a separate process: for what only a process shows (a kill -9, several
//! instances on one store).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Process {
    child: Child,
    pub address: String,
}

/// Starts the binary on a free loopback port with `env` on top of a clean environment
/// for the store (no MongoDB unless `env` names one), and waits until it listens.
pub fn start(env: &[(&str, String)]) -> Process {
    start_binary(Path::new(env!("CARGO_BIN_EXE_gatehouse")), None, env)
}

/// `start` for a copy of the binary elsewhere, optionally run from `working_dir`.
pub fn start_binary(binary: &Path, working_dir: Option<&Path>, env: &[(&str, String)]) -> Process {
    let mut command = Command::new(binary);
    if let Some(working_dir) = working_dir {
        command.current_dir(working_dir);
    }
    command
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env_remove("MONGODB_URI")
        .env_remove("GATEHOUSE_DATABASE_URL")
        // Where the site is comes from where the binary is, unless a test says.
        .env_remove("LEPTOS_SITE_ROOT")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in stdout.lines().map_while(Result::ok) {
        if let Some(address) = line.split("listening on ").nth(1) {
            return Process {
                child,
                address: address.trim().to_owned(),
            };
        }
        if Instant::now() > deadline {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start listening");
}

impl Process {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// SIGKILL: no shutdown, nothing flushed.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    /// A failed test still leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
