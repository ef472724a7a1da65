//! A write answered with a 2xx survives the process being killed (SIGKILL) right after.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::PASSWORD,
    processes::{Process, start as start_process},
};

/// The embedded store's durability is what this measures, whatever MONGODB_URI says.
fn start(data_dir: &std::path::Path) -> Process {
    start_process(&[("GATEHOUSE_DATA_DIR", data_dir.display().to_string())])
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let data_dir = tempfile::tempdir().unwrap();
    let client = crate::helpers::http_client();

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
