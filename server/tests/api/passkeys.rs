//! Passkeys over REST and the browser door, up to what needs an authenticator: the
//! ceremony options, their binding, and every refusal. (A real registration and sign-in
//! run in Chromium with its virtual authenticator: `end2end/tests/passkeys.spec.ts`.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, error_code, form_encoded, set_cookies, spawn_app};

/// A credential shaped like a browser's answer, signed by nobody.
fn forged_assertion() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA",
            "userHandle": null
        },
        "clientExtensionResults": {}
    })
}

#[tokio::test]
async fn a_sign_in_ceremony_asks_for_a_verified_discoverable_passkey_of_this_relying_party() {
    let app = spawn_app().await;
    let started = app
        .post_json("/auth/passkeys/sign-in/start", &json!({}))
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    assert_eq!(started.headers()["cache-control"], "no-store");
    let body: Value = started.json().await.unwrap();
    assert!(body["ceremony"].as_str().unwrap().starts_with("pk_"));
    assert_eq!(body["expires_in"], 300);
    let options = &body["options"]["publicKey"];
    // The relying party comes from the configured public URL (loopback: localhost).
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert!(options["challenge"].as_str().unwrap().len() >= 43);
    assert!(
        options
            .get("allowCredentials")
            .is_none_or(|list| list == &json!([]))
    );
    assert!(body["options"].get("mediation").is_none(), "a modal prompt");
}

#[tokio::test]
async fn a_sign_in_is_refused_for_unknown_used_or_forged_ceremonies_and_credentials() {
    let app = spawn_app().await;
    let unknown = app
        .post_json(
            "/auth/passkeys/sign-in/finish",
            &json!({"ceremony": "pk_not-a-ceremony", "credential": forged_assertion()}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(unknown).await, "invalid_ceremony");

    let started: Value = app
        .post_json("/auth/passkeys/sign-in/start", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let ceremony = started["ceremony"].as_str().unwrap();
    // Garbage is refused before the ceremony is spent.
    for garbage in [json!("text"), json!({"id": 1}), json!([])] {
        let refused = app
            .post_json(
                "/auth/passkeys/sign-in/finish",
                &json!({"ceremony": ceremony, "credential": garbage}),
            )
            .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{garbage}"
        );
        assert_eq!(error_code(refused).await, "invalid_input");
    }
    let forged = app
        .post_json(
            "/auth/passkeys/sign-in/finish",
            &json!({"ceremony": ceremony, "credential": forged_assertion()}),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(forged).await, "invalid_passkey");
    let again = app
        .post_json(
            "/auth/passkeys/sign-in/finish",
            &json!({"ceremony": ceremony, "credential": forged_assertion()}),
        )
        .await;
    assert_eq!(error_code(again).await, "invalid_ceremony", "single use");
    let not_json = app.post_raw("/auth/passkeys/sign-in/finish", "{").await;
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn registering_needs_a_session_and_its_ceremony_serves_only_the_user_who_started_it() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/auth/passkeys/register/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let ada = app.signup_and_login("ada").await;
    let bob = app.signup_and_login("bob").await;
    let started = app
        .post_bearer("/auth/passkeys/register/start", &ada.access)
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let body: Value = started.json().await.unwrap();
    let options = &body["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["name"], "ada");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let finish = |bearer: &str, ceremony: &Value| {
        app.client
            .post(app.url("/auth/passkeys/register/finish"))
            .bearer_auth(bearer)
            .json(&json!({
                "ceremony": ceremony,
                "name": "laptop",
                "credential": {
                    "id": "AAAA", "rawId": "AAAA", "type": "public-key",
                    "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}
                }
            }))
            .send()
    };
    // Bob cannot finish what Ada started, and the attempt spends it.
    let stolen = finish(&bob.access, &body["ceremony"]).await.unwrap();
    assert_eq!(error_code(stolen).await, "invalid_ceremony");
    let spent = finish(&ada.access, &body["ceremony"]).await.unwrap();
    assert_eq!(error_code(spent).await, "invalid_ceremony");
    let fresh: Value = app
        .post_bearer("/auth/passkeys/register/start", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    let forged = finish(&ada.access, &fresh["ceremony"]).await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(forged).await, "invalid_passkey");
    let listed: Value = app
        .get("/auth/passkeys", Some(&ada.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({"passkeys": []}));
}

#[tokio::test]
async fn removing_a_passkey_needs_the_password_and_an_own_passkey() {
    let app = spawn_app().await;
    let ada = app.signup_and_login("ada").await;
    let remove = |password: &str| {
        app.client
            .post(app.url("/auth/passkeys/AAAA/remove"))
            .bearer_auth(&ada.access)
            .json(&json!({"current_password": password}))
            .send()
    };
    let wrong = remove("not the password").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let missing = remove(PASSWORD).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn renaming_needs_a_session_an_own_passkey_and_a_printable_name() {
    let app = spawn_app().await;
    let ada = app.signup_and_login("ada").await;
    let rename = |token: Option<&str>, body: Value| {
        let request = app
            .client
            .post(app.url("/auth/passkeys/AAAA/rename"))
            .json(&body);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    let anonymous = rename(None, json!({"name": "laptop"})).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let control = rename(Some(&ada.access), json!({"name": "a\u{0}b"}))
        .await
        .unwrap();
    assert_eq!(control.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(control).await, "invalid_input");
    let long = rename(Some(&ada.access), json!({"name": "x".repeat(65)}))
        .await
        .unwrap();
    assert_eq!(long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let extra = rename(Some(&ada.access), json!({"name": "laptop", "owner": "bob"}))
        .await
        .unwrap();
    assert_eq!(extra.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let missing = rename(Some(&ada.access), json!({"name": "laptop"}))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, "not_found");
}

#[tokio::test]
async fn in_the_browser_the_ceremony_rides_in_a_strict_cookie() {
    let app = spawn_app().await;
    let started = app
        .post_form("/api/passkey/sign_in/start", String::new(), None)
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("gatehouse_passkey=pk_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let options: String = started.json().await.unwrap();
    let options: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    let credential = format!(
        "credential={}",
        form_encoded(&forged_assertion().to_string())
    );
    let without_cookie = app
        .post_form("/api/passkey/sign_in/finish", credential.clone(), None)
        .await;
    assert_eq!(without_cookie.status(), StatusCode::UNAUTHORIZED);
    let pair = cookie.split(';').next().unwrap();
    let forged = app
        .post_form("/api/passkey/sign_in/finish", credential, Some(pair))
        .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let set = set_cookies(&forged);
    assert!(
        set.iter().any(|c| c.starts_with("gatehouse_passkey=;")),
        "cleared: {set:?}"
    );
    assert!(
        !set.iter().any(|c| c.starts_with("gatehouse_access")),
        "{set:?}"
    );
}

#[tokio::test]
async fn a_passkey_second_step_needs_a_live_ticket_an_own_passkey_and_its_own_ceremony() {
    let app = spawn_app().await;
    let app = &app;
    let start = |ticket: &str| {
        let body = json!({"ticket": ticket});
        async move {
            app.post_json("/auth/login/second-factor/passkey/start", &body)
                .await
        }
    };
    let garbage = start("su_nothing").await;
    assert_eq!(error_code(garbage).await, "invalid_step_up");

    let tokens = app.signup_and_login("ada").await;
    let setup: Value = app
        .post_bearer("/auth/two-step/totp", &tokens.access)
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap();
    let code = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(server::clock::Clock::now(app.clock.as_ref()) as u64)
        .to_string();
    let confirmed = app
        .post_json_bearer(
            "/auth/two-step/totp/confirm",
            &tokens.access,
            &json!({"code": code}),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let login: Value = app
        .login_response("ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        login["methods"],
        json!(["totp", "recovery_code"]),
        "no passkey offered"
    );
    let ticket = login["ticket"].as_str().unwrap();
    let none = start(ticket).await;
    assert_eq!(
        none.status(),
        StatusCode::NOT_FOUND,
        "the account has no passkey"
    );

    // A sign-in ceremony is no step-up ceremony.
    let sign_in: Value = app
        .post_json("/auth/passkeys/sign-in/start", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let mixed = app
        .post_json(
            "/auth/login/second-factor/passkey/finish",
            &json!({"ticket": ticket, "ceremony": sign_in["ceremony"], "credential": forged_assertion()}),
        )
        .await;
    assert_eq!(error_code(mixed).await, "invalid_ceremony");
}
