//! A new way into an account (a passkey, an authenticator app) needs a fresh proof of
//! who is asking, not only a token: the current password in the request, or a sign-in
//! within `GATEHOUSE_REAUTH_SECS` (ASVS 5.0 7.5.1). On REST, on the server functions and
//! on the plain forms.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, Tokens, error_code, form_encoded, set_cookies, spawn_app};

/// Past the default window of 300 seconds.
const STALE: i64 = 301;

async fn begin_passkey(app: &TestApp, access: &str) -> reqwest::Response {
    app.post_bearer("/auth/passkeys/register/start", access)
        .await
}

async fn begin_totp(app: &TestApp, access: &str) -> reqwest::Response {
    app.post_bearer("/auth/two-step/totp", access).await
}

async fn refused_as_stale(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    assert_eq!(
        error_code(response).await,
        "reauthentication_required",
        "{what}"
    );
}

#[tokio::test]
async fn an_old_sign_in_cannot_add_a_passkey_or_an_authenticator_app_without_the_password() {
    let app = spawn_app().await;
    let stale = app.signup_and_login("ada").await;
    app.clock.shift(STALE);

    refused_as_stale(begin_passkey(&app, &stale.access).await, "passkey").await;
    refused_as_stale(begin_totp(&app, &stale.access).await, "totp").await;
    // A refreshed token is the same old sign-in.
    let refreshed: Tokens =
        crate::helpers::tokens_of(app.refresh(&stale.refresh).await.json().await.unwrap());
    refused_as_stale(begin_passkey(&app, &refreshed.access).await, "refreshed").await;

    // A wrong password is refused as a field error.
    let wrong = app
        .post_json_bearer(
            "/auth/passkeys/register/start",
            &refreshed.access,
            &json!({"current_password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["field"], "current_password");

    // The password in the request lets the step through.
    let with_password = app
        .post_json_bearer(
            "/auth/two-step/totp",
            &refreshed.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(with_password.status(), StatusCode::CREATED);

    // A fresh sign-in needs nothing more.
    let fresh = app.login("ada").await;
    assert_eq!(
        begin_passkey(&app, &fresh.access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_reentered_password_counts_for_its_own_session_and_only_within_the_window() {
    let app = spawn_app().await;
    let laptop = app.signup_and_login("ada").await;
    let phone = app.login("ada").await;
    app.clock.shift(STALE);

    let wrong = app
        .post_json_bearer(
            "/auth/reauthenticate",
            &laptop.access,
            &json!({"current_password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    refused_as_stale(begin_totp(&app, &laptop.access).await, "after a wrong one").await;

    let confirmed = app
        .post_json_bearer(
            "/auth/reauthenticate",
            &laptop.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    // The set-up can be started, shown again and it survives a refresh of the token.
    assert_eq!(
        begin_totp(&app, &laptop.access).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.get("/auth/two-step/totp", Some(&laptop.access))
            .await
            .status(),
        StatusCode::OK
    );
    // The other session proved nothing.
    refused_as_stale(begin_passkey(&app, &phone.access).await, "other session").await;
    refused_as_stale(
        app.get("/auth/two-step/totp", Some(&phone.access)).await,
        "the secret, to the other session",
    )
    .await;

    app.clock.shift(STALE);
    refused_as_stale(
        app.get("/auth/two-step/totp", Some(&laptop.access)).await,
        "the secret, after the window",
    )
    .await;
    let confirm = app
        .post_json_bearer(
            "/auth/two-step/totp/confirm",
            &laptop.access,
            &json!({"code": "123456"}),
        )
        .await;
    refused_as_stale(confirm, "the confirmation, after the window").await;

    // Without an access token there is nothing to re-authenticate.
    let anonymous = app
        .post_json(
            "/auth/reauthenticate",
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_empty_body_is_no_password_and_anything_else_must_be_json() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let not_json = app
        .client
        .post(app.url("/auth/two-step/totp"))
        .bearer_auth(&tokens.access)
        .body("current_password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown_field = app
        .post_json_bearer(
            "/auth/two-step/totp",
            &tokens.access,
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        begin_totp(&app, &tokens.access).await.status(),
        StatusCode::CREATED
    );
}

/// The session cookie of a browser that signed in through the plain form.
async fn browser_session(app: &TestApp, username: &str) -> String {
    let response = app
        .post_browser_form(
            "/api/login",
            format!("username={username}&password={}", form_encoded(PASSWORD)),
            None,
        )
        .await;
    set_cookies(&response)
        .into_iter()
        .find(|cookie| cookie.starts_with("gatehouse_access="))
        .and_then(|cookie| cookie.split(';').next().map(str::to_owned))
        .expect("an access cookie")
}

#[tokio::test]
async fn the_pages_ask_for_the_password_in_place_and_go_on_after_it() {
    let app = spawn_app().await;
    app.signup("ada").await;
    let cookie = browser_session(&app, "ada").await;
    app.clock.shift(STALE);

    // The server function a script calls answers with the code.
    let scripted = app
        .post_form("/api/passkey/register/start", String::new(), Some(&cookie))
        .await;
    refused_as_stale(scripted, "server function").await;

    // A plain form comes back to its page, which then asks for the password.
    let begin = app
        .post_browser_form("/api/two_step/begin", String::new(), Some(&cookie))
        .await;
    assert_eq!(
        begin.headers()["location"],
        "/account/two-step?error=reauthentication_required"
    );
    let page = app
        .page_text("/account/two-step?error=reauthentication_required", &cookie)
        .await;
    assert!(page.contains("Confirm it is you"), "{page}");
    assert!(page.contains("/api/account/reauthenticate"), "{page}");

    let wrong = app
        .client
        .post(app.url("/api/account/reauthenticate"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.address)
        .header("accept", "text/html")
        .header(
            "referer",
            app.url("/account/two-step?error=reauthentication_required"),
        )
        .header("cookie", &cookie)
        .body(format!(
            "current_password={}",
            form_encoded("nope nope nope")
        ))
        .send()
        .await
        .unwrap();
    // The prompt stays, saying the password was wrong.
    let back = wrong.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, "/account/two-step?confirm=1&error=invalid_input");
    let page = app.page_text(&back, &cookie).await;
    assert!(page.contains("The password is not correct."), "{page}");
    let confirmed = app
        .client
        .post(app.url("/api/account/reauthenticate"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.address)
        .header("accept", "text/html")
        .header(
            "referer",
            app.url("/account/two-step?error=reauthentication_required"),
        )
        .header("cookie", &cookie)
        .body(format!("current_password={}", form_encoded(PASSWORD)))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.headers()["location"], "/account/two-step");
    let begin = app
        .post_browser_form("/api/two_step/begin", String::new(), Some(&cookie))
        .await;
    assert_eq!(begin.headers()["location"], "/account/two-step");
    let page = app.page_text("/account/two-step", &cookie).await;
    assert!(
        page.contains("recovery-codes"),
        "the set-up is shown: {page}"
    );
}

/// The plain forms of /account that ask for the password say so beside its box when it
/// was wrong, and the email form says which of its two fields it refused: not "some
/// fields are not valid" for either.
#[tokio::test]
async fn the_account_forms_say_which_field_they_refused() {
    let app = spawn_app().await;
    app.signup("ada").await;
    let cookie = browser_session(&app, "ada").await;
    let wrong = form_encoded("nope nope nope");
    let right = form_encoded(PASSWORD);
    let refusals = [
        (
            "/api/email",
            format!("email=ada%40example.test&password={wrong}"),
            "/account?section=email&field=current_password&error=invalid_input",
            "This is not your current password.",
        ),
        (
            "/api/email",
            format!("email=not+an+address&password={right}"),
            "/account?section=email&field=email&error=invalid_input",
            "Enter an email address like name@example.com.",
        ),
        (
            "/api/account/ways/set",
            format!("password=on&confirm_password={wrong}"),
            "/account?section=ways&field=current_password&error=invalid_input",
            "This is not your current password.",
        ),
    ];
    for (path, body, way_back, explanation) in refusals {
        let refused = app.post_browser_form(path, body, Some(&cookie)).await;
        assert_eq!(refused.headers()["location"], way_back, "{path}");
        let page = app.page_text(way_back, &cookie).await;
        assert_eq!(page.matches(explanation).count(), 1, "{way_back}: {page}");
        assert!(
            !page.contains("Some fields are not valid"),
            "{way_back}: {page}"
        );
    }
    // Nothing refused was saved: the address is still unset.
    let tokens = app.login("ada").await;
    let me: serde_json::Value = app
        .get("/auth/me", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], serde_json::Value::Null, "{me}");
}
