//! A write answered with a 2xx survives the process being killed (SIGKILL) right after.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::PASSWORD;

struct Process {
    child: Child,
    address: String,
}

/// Starts the real binary on a free port and waits until it says where it listens.
fn start(data_dir: &Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("GATEHOUSE_DATA_DIR", data_dir)
        // The embedded store's durability is what this measures, whatever MONGODB_URI says.
        .env_remove("MONGODB_URI")
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
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
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let server = start(data_dir.path());
    let signup = client
        .post(format!("{}/auth/signup", server.address))
        .json(&json!({"username": "durable", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    server.kill_9();

    let server = start(data_dir.path());
    let login = client
        .post(format!("{}/auth/login", server.address))
        .json(&json!({"username": "durable", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK, "the sign-up was lost");
    let tokens: Value = login.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let logout = client
        .post(format!("{}/auth/logout", server.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    server.kill_9();

    let server = start(data_dir.path());
    let dashboard = client
        .get(format!("{}/auth/dashboard", server.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        dashboard.status(),
        StatusCode::UNAUTHORIZED,
        "the revocation was lost"
    );
    let refreshed = client
        .post(format!("{}/auth/refresh", server.address))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refreshed.status(),
        StatusCode::UNAUTHORIZED,
        "the session end was lost"
    );
    server.kill_9();
}
