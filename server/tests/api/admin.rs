//! Roles: the first admin from the CLI, admin-only routes, promotion, disabling, the
//! last-admin rule and the audit log.

use std::{io::Write, process::Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, error_code, spawn_app};

/// `gatehouse admin create --username <username>` on the embedded store in `data_dir`,
/// the password on standard input.
fn create_admin_with_cli(data_dir: &std::path::Path, username: &str) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["admin", "create", "--username", username])
        .env("GATEHOUSE_DATA_DIR", data_dir)
        .env_remove("GATEHOUSE_ADMIN_PASSWORD")
        // The CLI is exercised on the embedded store (the server below uses the same one).
        .env_remove("MONGODB_URI")
        .env_remove("GATEHOUSE_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_cli_creates_an_admin_reading_the_password_from_stdin() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = create_admin_with_cli(data_dir.path(), "root");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created admin root"));

    let app = crate::helpers::spawn_app_with(|config| {
        config.data_dir = data_dir.path().to_path_buf();
        config.database_url = None;
        config.database_name = None;
    })
    .await;
    let login: Value = app
        .login_response("root", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["role"], "admin");
}

/// A failing command says why once, on standard error, and exits non-zero.
#[test]
fn the_cli_says_its_error_once() {
    let data_dir = tempfile::tempdir().unwrap();
    assert!(
        create_admin_with_cli(data_dir.path(), "root")
            .status
            .success()
    );
    let again = create_admin_with_cli(data_dir.path(), "root");
    assert!(!again.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
    let error_lines: Vec<&str> = said.lines().filter(|line| line.contains("taken")).collect();
    assert_eq!(error_lines.len(), 1, "{said}");
    assert!(error_lines[0].starts_with("error: "), "{said}");
}

#[tokio::test]
async fn a_plain_user_gets_403_on_admin_routes() {
    let app = spawn_app().await;
    let user = app.signup_and_login("ada").await;
    for path in ["/auth/admin/users", "/auth/admin/audit"] {
        let response = app.get(path, Some(&user.access)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(error_code(response).await, "forbidden");
    }
    let id = app.user_id(&user.access).await;
    let promote_self = app
        .patch_user(&user.access, &id, json!({"role": "admin"}))
        .await;
    assert_eq!(promote_self.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_admin_lists_and_searches_users_page_by_page() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    for name in ["alice", "alina", "bob"] {
        app.signup(name).await;
    }
    let page: Value = app
        .get("/auth/admin/users?per_page=2&page=1", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let found: Value = app
        .get("/auth/admin/users?search=ali", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 2);
    let bad = app
        .get("/auth/admin/users?page=minus-one", Some(&admin.access))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_page_number_past_the_cap_is_refused_not_overflowed() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    for listing in ["users", "audit"] {
        let huge = app
            .get(
                &format!("/auth/admin/{listing}?page=18446744073709551615&per_page=100"),
                Some(&admin.access),
            )
            .await;
        assert_eq!(huge.status(), StatusCode::UNPROCESSABLE_ENTITY, "{listing}");
        assert_eq!(error_code(huge).await, "invalid_input");
        // The last page allowed is answered (empty), not refused.
        let last = app
            .get(
                &format!("/auth/admin/{listing}?page=1000000&per_page=100"),
                Some(&admin.access),
            )
            .await;
        assert_eq!(last.status(), StatusCode::OK, "{listing}");
        let body: Value = last.json().await.unwrap();
        assert_eq!(body["items"].as_array().map(Vec::len), Some(0));
        assert_eq!(body["page"], 1_000_000);
    }
}

#[tokio::test]
async fn a_promotion_takes_effect_at_once_and_the_last_admin_stays() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let user = app.signup_and_login("ada").await;
    let ada = app.user_id(&user.access).await;

    let promoted = app
        .patch_user(&admin.access, &ada, json!({"role": "admin"}))
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    // The store's role counts, not the one in the token: no new login needed.
    assert_eq!(
        app.get("/auth/admin/users", Some(&user.access))
            .await
            .status(),
        StatusCode::OK
    );

    let root = app.user_id(&admin.access).await;
    assert_eq!(
        app.patch_user(&user.access, &root, json!({"role": "user"}))
            .await
            .status(),
        StatusCode::OK
    );
    let last = app
        .patch_user(&user.access, &ada, json!({"role": "user"}))
        .await;
    assert_eq!(last.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(last).await, "last_admin");
    // And the demoted root has lost admin rights at once.
    assert_eq!(
        app.get("/auth/admin/users", Some(&admin.access))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let unknown = app
        .patch_user(&user.access, "no-such-user", json!({"disabled": true}))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let bad_role = app
        .patch_user(&user.access, &root, json!({"role": "superuser"}))
        .await;
    assert_eq!(bad_role.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_refuses_their_logins() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let user = app.signup_and_login("ada").await;
    let ada = app.user_id(&user.access).await;

    let disabled = app
        .patch_user(&admin.access, &ada, json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(
        app.get("/auth/me", Some(&user.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&user.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let login = app.login_response("ada", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(login).await, "account_disabled");
    let refused = app
        .audit_events(&admin.access, "login_refused_disabled")
        .await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["username"], "ada");
    // A wrong password for a disabled account says only "wrong credentials".
    assert_eq!(
        app.login_response("ada", "definitely not it")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    app.patch_user(&admin.access, &ada, json!({"disabled": false}))
        .await;
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_audit_log_records_logins_failures_and_reuse() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let user = app.signup_and_login("ada").await;
    app.login_response("ada", "a wrong password").await;
    app.refresh(&user.refresh).await;
    // Past the grace for racing tabs, the second use is reuse.
    app.clock
        .shift(app.config.refresh_grace.as_secs() as i64 + 1);
    app.refresh(&user.refresh).await;

    let log: Value = app
        .get("/auth/admin/audit?per_page=100", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    for kind in ["signup", "login", "login_failed", "refresh_token_reuse"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let failures: Value = app
        .get("/auth/admin/audit?kind=login_failed", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failures["total"], 1);
    assert_eq!(failures["items"][0]["username"], "ada");
}
