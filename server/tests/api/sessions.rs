//! Multi-device sessions: list, revoke one, revoke the others, log out everywhere.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_user_sees_each_login_as_a_session_and_which_one_is_current() {
    let app = spawn_app().await;
    let laptop = app.signup_and_login("ada").await;
    let _phone = app.login("ada").await;
    let body: Value = app
        .get("/auth/sessions", Some(&laptop.access))
        .await
        .json()
        .await
        .unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["user_agent"], "gatehouse-api-tests");
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn revoking_another_session_logs_that_device_out() {
    let app = spawn_app().await;
    let laptop = app.signup_and_login("ada").await;
    let phone = app.login("ada").await;
    let body: Value = app
        .get("/auth/sessions", Some(&laptop.access))
        .await
        .json()
        .await
        .unwrap();
    let phone_session = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = app
        .client
        .delete(app.url(&format!("/auth/sessions/{phone_session}")))
        .bearer_auth(&laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/me", Some(&phone.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&phone.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/auth/me", Some(&laptop.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn nobody_can_revoke_someone_elses_session() {
    let app = spawn_app().await;
    let ada = app.signup_and_login("ada").await;
    let bob = app.signup_and_login("bob").await;
    let body: Value = app
        .get("/auth/sessions", Some(&bob.access))
        .await
        .json()
        .await
        .unwrap();
    let bobs_session = body["sessions"][0]["id"].as_str().unwrap().to_owned();
    let attempt = app
        .client
        .delete(app.url(&format!("/auth/sessions/{bobs_session}")))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(attempt.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/auth/me", Some(&bob.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_all_other_sessions_keeps_this_one() {
    let app = spawn_app().await;
    let here = app.signup_and_login("ada").await;
    let others = [app.login("ada").await, app.login("ada").await];
    let response = app
        .client
        .delete(app.url("/auth/sessions"))
        .bearer_auth(&here.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sessions_ended"], 2);
    for other in &others {
        assert_eq!(
            app.get("/auth/me", Some(&other.access)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.get("/auth/me", Some(&here.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_including_this_one() {
    let app = spawn_app().await;
    let here = app.signup_and_login("ada").await;
    let other = app.login("ada").await;
    let response = app.post_bearer("/auth/logout-all", &here.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    for tokens in [&here, &other] {
        assert_eq!(
            app.get("/auth/me", Some(&tokens.access)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
