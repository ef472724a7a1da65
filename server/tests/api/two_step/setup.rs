//! Setting an authenticator app up, turning it off, and an admin's reset.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::code_at;
use crate::helpers::{PASSWORD, error_code, spawn_app, tokens_of};

#[tokio::test]
async fn setting_up_needs_a_session_and_cannot_start_again_once_on() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/auth/two-step/totp"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let tokens = app.signup_and_login("ada").await;
    let nothing = app
        .post_json_bearer(
            "/auth/two-step/totp/confirm",
            &tokens.access,
            &json!({"code": "123456"}),
        )
        .await;
    assert_eq!(nothing.status(), StatusCode::NOT_FOUND);
    app.enrol(&tokens).await;
    let again = app.post_bearer("/auth/two-step/totp", &tokens.access).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "second_factor_exists");
    let shown = app.get("/auth/two-step/totp", Some(&tokens.access)).await;
    assert_eq!(
        shown.status(),
        StatusCode::NOT_FOUND,
        "no secret is shown once on"
    );
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    let here = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&here).await;
    let elsewhere = app
        .second_step(
            &app.step_up("ada").await,
            &code_at(&enrolled.secret, app.now()),
        )
        .await;
    let elsewhere = tokens_of(elsewhere.json().await.unwrap());
    let wrong = app
        .post_json_bearer(
            "/auth/two-step/remove",
            &here.access,
            &json!({"current_password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let removed = app
        .post_json_bearer(
            "/auth/two-step/remove",
            &here.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    let body: Value = removed.json().await.unwrap();
    assert_eq!(body["sessions_ended"], 1);
    assert_eq!(
        app.get("/auth/me", Some(&elsewhere.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/auth/me", Some(&here.access)).await.status(),
        StatusCode::OK
    );
    // The password alone signs in again.
    app.login("ada").await;
}

#[tokio::test]
async fn an_admin_reset_removes_the_factors_ends_the_sessions_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let ada = app.signup_and_login("ada").await;
    app.enrol(&ada).await;
    let me: Value = app
        .get("/auth/me", Some(&ada.access))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/auth/admin/users/{}/two-step", me["id"].as_str().unwrap());
    let by_user = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(by_user.status(), StatusCode::FORBIDDEN);
    let reset = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(
        app.get("/auth/me", Some(&ada.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login("ada").await;
    let audit: Value = app
        .get(
            "/auth/admin/audit?kind=second_factors_reset",
            Some(&admin.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["items"][0]["detail"], "by root");
    let unknown = app
        .client
        .delete(app.url("/auth/admin/users/nobody/two-step"))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

/// The admin page's reset: offered for accounts with a second factor only, a plain form
/// through the same check as REST.
#[tokio::test]
async fn the_admin_pages_reset_is_offered_where_a_factor_exists_and_checked_like_rest() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let ada = app.signup_and_login("ada").await;
    app.enrol(&ada).await;
    let has_factor = |list: &Value, name: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|user| user["username"] == name)
            .map(|user| user["has_second_factor"].as_bool().unwrap())
            .unwrap()
    };
    let list: Value = app
        .get("/auth/admin/users", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        has_factor(&list, "ada") && !has_factor(&list, "root"),
        "{list}"
    );
    let ada_id = app.user_id(&ada.access).await;

    let reset_by = async |access: &str| {
        let cookie = format!("gatehouse_access={access}");
        app.post_browser_form(
            "/api/admin/users/reset-second-factors",
            format!("user_id={ada_id}"),
            Some(&cookie),
        )
        .await
    };
    let by_ada = reset_by(&ada.access).await;
    let location = by_ada.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("error=forbidden"), "{location}");
    assert_eq!(
        app.get("/auth/me", Some(&ada.access)).await.status(),
        StatusCode::OK
    );

    let by_admin = reset_by(&admin.access).await;
    assert_eq!(by_admin.status(), StatusCode::FOUND);
    assert!(
        !by_admin.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=")
    );
    assert_eq!(
        app.get("/auth/me", Some(&ada.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let list: Value = app
        .get("/auth/admin/users", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert!(!has_factor(&list, "ada"), "{list}");
}

#[tokio::test]
async fn new_recovery_codes_need_an_app_and_a_recent_sign_in_and_end_every_old_code() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/auth/two-step/recovery-codes"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let tokens = app.signup_and_login("ada").await;
    let no_app = app
        .post_bearer("/auth/two-step/recovery-codes", &tokens.access)
        .await;
    assert_eq!(no_app.status(), StatusCode::NOT_FOUND);
    let enrolled = app.enrol(&tokens).await;

    let made = app
        .post_bearer("/auth/two-step/recovery-codes", &tokens.access)
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(made.headers()["cache-control"], "no-store");
    let made: Value = made.json().await.unwrap();
    let fresh: Vec<String> = made["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(
        fresh
            .iter()
            .all(|code| !enrolled.recovery_codes.contains(code))
    );
    let status: Value = app
        .get("/auth/two-step", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status, json!({"totp": "on", "recovery_codes_left": 10}));

    // Every old code is dead; a new one signs in, once; the app is untouched.
    let old = app
        .second_step(&app.step_up("ada").await, &enrolled.recovery_codes[0])
        .await;
    assert_eq!(error_code(old).await, "invalid_code");
    let new = app.second_step(&app.step_up("ada").await, &fresh[0]).await;
    assert_eq!(new.status(), StatusCode::OK);
    let by_app = app
        .second_step(
            &app.step_up("ada").await,
            &code_at(&enrolled.secret, app.now()),
        )
        .await;
    assert_eq!(by_app.status(), StatusCode::OK);

    // An old sign-in needs the password, and a wrong one is a field error.
    app.clock.shift(301);
    let stale = app
        .post_bearer("/auth/two-step/recovery-codes", &tokens.access)
        .await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(stale).await, "reauthentication_required");
    let wrong = app
        .post_json_bearer(
            "/auth/two-step/recovery-codes",
            &tokens.access,
            &json!({"current_password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_field = app
        .post_json_bearer(
            "/auth/two-step/recovery-codes",
            &tokens.access,
            &json!({"current_password": PASSWORD, "codes": 20}),
        )
        .await;
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let with_password = app
        .post_json_bearer(
            "/auth/two-step/recovery-codes",
            &tokens.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(with_password.status(), StatusCode::CREATED);
    let again = app.second_step(&app.step_up("ada").await, &fresh[1]).await;
    assert_eq!(error_code(again).await, "invalid_code");

    let admin = app.admin("root").await;
    let audit: Value = app
        .get(
            "/auth/admin/audit?kind=recovery_codes_regenerated",
            Some(&admin.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["total"], 2, "{audit}");
}
