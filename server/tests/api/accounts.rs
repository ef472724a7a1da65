//! Sign-up and login through both ancestors' paths, and what they refuse.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn signup_creates_a_user_and_login_returns_the_documented_pair() {
    let app = spawn_app().await;

    let created = app.signup("Ada").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["user"]["username"], "Ada");
    assert_eq!(created["user"]["role"], "user");
    assert!(created["user"].get("password_hash").is_none());

    let login = app.login_response("ada", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.headers()["cache-control"], "no-store");
    let body: Value = login.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(
        body["user"],
        json!({"id": created["user"]["id"], "username": "Ada", "role": "user"})
    );
}

#[tokio::test]
async fn the_dashboard_needs_a_bearer_access_token() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;

    let dashboard = app.get("/auth/dashboard", Some(&tokens.access)).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    let body: Value = dashboard.json().await.unwrap();
    assert_eq!(body["logged_in_as"], "ada");

    let anonymous = app.get("/auth/dashboard", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(anonymous).await, "missing_token");
}

/// The routes that answer about the caller write their JSON themselves (sized for it,
/// not grown by `realloc`): they must still say it is JSON, carry every header the API's
/// answers carry, and hold the whole answer.
#[tokio::test]
async fn a_callers_own_answers_are_whole_json_with_the_apis_headers() {
    let app = spawn_app().await;
    let address = format!("{}@example.com", "a".repeat(60));
    let signup = app
        .post_json(
            "/auth/signup",
            &json!({"username": "ada", "email": address, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let created: Value = signup.json().await.unwrap();
    let id = created["user"]["id"].as_str().unwrap().to_owned();
    let tokens = app.login("ada").await;

    for (path, expected) in [
        (
            "/auth/dashboard",
            json!({
                "message": "Welcome to your dashboard, ada",
                "logged_in_as": "ada",
                "user": {"id": id, "username": "ada", "role": "user"},
            }),
        ),
        ("/auth/me", created["user"].clone()),
        ("/market/api/profile", created["user"].clone()),
    ] {
        let response = app.get(path, Some(&tokens.access)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], "application/json", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, expected, "{path}");
    }
}

#[tokio::test]
async fn the_market_paths_answer_as_their_document_says() {
    let app = spawn_app().await;
    let register = app
        .post_json(
            "/market/api/register",
            &json!({"username": "somchai", "password": PASSWORD}),
        )
        .await;
    assert_eq!(register.status(), StatusCode::CREATED);

    let login = app
        .post_json(
            "/market/api/login",
            &json!({"username": "somchai", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["message"], "Login successful");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let protected = app.get("/market/api/protected", Some(&access)).await;
    assert_eq!(protected.status(), StatusCode::OK);
    let protected: Value = protected.json().await.unwrap();
    assert_eq!(protected["logged_in_as"], "somchai");
    let profile: Value = app
        .get("/market/api/profile", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["username"], "somchai");

    let refreshed = app.post_bearer("/market/api/refresh", &refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let new_access = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);

    let logout = app.post_bearer("/market/api/logout", &new_refresh).await;
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(
        app.post_bearer("/market/api/refresh", &new_refresh)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The session is over, so its access tokens are too.
    assert_eq!(
        app.get("/market/api/protected", Some(&new_access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_self_assigned_admin_role_is_refused_and_user_is_fine() {
    let app = spawn_app().await;
    let admin = app
        .post_json(
            "/auth/signup",
            &json!({"username": "mallory", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    let body: Value = admin.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"));

    let user = app
        .post_json(
            "/auth/signup",
            &json!({"username": "mallory", "password": PASSWORD, "role": "user"}),
        )
        .await;
    assert_eq!(user.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively() {
    let app = spawn_app().await;
    assert_eq!(app.signup("Ada").await.status(), StatusCode::CREATED);
    let twin = app.signup("aDA").await;
    assert_eq!(twin.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(twin).await, "username_taken");
}

#[tokio::test]
async fn fifty_parallel_signups_of_one_name_create_exactly_one_user() {
    let app = spawn_app().await;
    let attempts = (0..50).map(|_| app.signup("racer"));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|response| response.status())
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 49), "{statuses:?}");
}

#[tokio::test]
async fn invalid_fields_get_422_naming_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"username": "ab", "password": PASSWORD}), "username"),
        (
            json!({"username": "a b c", "password": PASSWORD}),
            "username",
        ),
        (json!({"username": "ada", "password": "short"}), "password"),
        (
            json!({"username": "ada", "password": "password123"}),
            "password",
        ),
        (
            json!({"username": "ada", "password": PASSWORD, "email": "nope"}),
            "email",
        ),
        (
            json!({"username": "ada", "password": PASSWORD, "role": "root"}),
            "role",
        ),
    ] {
        let response = app.post_json("/auth/signup", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_input");
        assert_eq!(error["error"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn operator_objects_where_strings_belong_are_invalid_input() {
    let app = spawn_app().await;
    app.signup("ada").await;
    for body in [
        json!({"username": {"$ne": null}, "password": {"$ne": null}}),
        json!({"username": "ada", "password": {"$gt": ""}}),
        json!({"username": ["ada"], "password": PASSWORD}),
    ] {
        let response = app.post_json("/auth/login", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(error_code(response).await, "invalid_input");
    }
}

#[tokio::test]
async fn malformed_json_is_400_and_an_oversized_body_is_413() {
    let app = spawn_app().await;
    let malformed = app.post_raw("/auth/login", "{\"username\": ").await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(malformed).await, "malformed_json");

    let huge = format!(
        "{{\"username\": \"ada\", \"password\": \"{}\"}}",
        "x".repeat(64 * 1024)
    );
    let oversized = app.post_raw("/auth/signup", huge).await;
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(oversized).await, "body_too_large");

    let not_json = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "text/plain")
        .body("username=ada")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(not_json).await, "unsupported_media_type");
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.signup("ada").await;
    let wrong_password = app.login_response("ada", "not the password at all").await;
    let unknown_user = app
        .login_response("nobody-here", "not the password at all")
        .await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
    let wrong_password: Value = wrong_password.json().await.unwrap();
    let unknown_user: Value = unknown_user.json().await.unwrap();
    assert_eq!(wrong_password, unknown_user);
}

#[tokio::test]
async fn brute_force_on_an_account_reaches_429_with_retry_after_whether_or_not_it_exists() {
    let app = spawn_app_with(|config| config.throttle.login_failures_per_account = 3).await;
    app.signup("ada").await;
    for name in ["ada", "ghost-account"] {
        let mut last = None;
        for _ in 0..4 {
            last = Some(app.login_response(name, "wrong guess number").await);
        }
        let throttled = last.unwrap();
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        let retry_after: u64 = throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1);
        assert_eq!(error_code(throttled).await, "throttled");
        if name == "ada" {
            // While locked, even the right password waits: guessing gains nothing.
            // Asked at once: the first lockout lasts only two seconds.
            assert_eq!(
                app.login_response("ada", PASSWORD).await.status(),
                StatusCode::TOO_MANY_REQUESTS
            );
        }
    }
}

#[tokio::test]
async fn signups_are_limited_per_client_address() {
    let app = spawn_app_with(|config| config.throttle.signups_per_ip = 2).await;
    assert_eq!(app.signup("first").await.status(), StatusCode::CREATED);
    assert_eq!(app.signup("second").await.status(), StatusCode::CREATED);
    let third = app.signup("third").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let here = app.signup_and_login("ada").await;
    let elsewhere = app.login("ada").await;

    let wrong = app
        .client
        .post(app.url("/auth/password"))
        .bearer_auth(&here.access)
        .json(&json!({"current_password": "not my password", "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let changed = app
        .client
        .post(app.url("/auth/password"))
        .bearer_auth(&here.access)
        .json(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);

    assert_eq!(
        app.get("/auth/me", Some(&here.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/auth/me", Some(&elsewhere.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("ada", "a brand new passphrase")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_same_lockout_as_logins() {
    let app = spawn_app_with(|config| config.throttle.login_failures_per_account = 3).await;
    let tokens = app.signup_and_login("Ada").await;
    for _ in 0..3 {
        let wrong = app
            .client
            .post(app.url("/auth/password"))
            .bearer_auth(&tokens.access)
            .json(&json!({"current_password": "not my password", "new_password": "a brand new passphrase"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The account is locked for sign-in too, however the name is written.
    let login = app.login_response("ADA", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(login).await, "throttled");
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_with_retry_after_not_an_endless_wait() {
    let app = spawn_app_with(|config| {
        config.max_concurrent_hashes = 1;
        config.max_queued_hashes = 1;
    })
    .await;
    assert_eq!(app.signup("ada").await.status(), StatusCode::CREATED);
    let attempts = (0..12).map(|_| app.login_response("ada", PASSWORD));
    let (mut signed_in, mut busy) = (0, 0);
    for response in futures::future::join_all(attempts).await {
        match response.status() {
            StatusCode::OK => signed_in += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                let retry_after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(retry_after >= 1);
                assert_eq!(error_code(response).await, "busy");
                busy += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // One hashing and one waiting at a time: twelve at once cannot all be taken.
    assert!(signed_in >= 1, "nobody signed in");
    assert!(busy >= 1, "nothing was refused: the queue is not bounded");
    assert_eq!(signed_in + busy, 12);
    // Once the queue has drained, a login is served again.
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::OK
    );
}
