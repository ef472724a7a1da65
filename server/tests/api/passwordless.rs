//! Accounts with no password: signed up with a passkey, signed in with it, a first
//! password set later, and the last way in kept. The passkeys are made by the webauthn-rs
//! project's software authenticator, so every ceremony here is a real one, verified by
//! the server as a browser's would be.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::{
    helpers::{PASSWORD, TestApp, Tokens, error_code, spawn_app_with, tokens_of},
    mailbox::SmtpServer,
    recovery::spawn_with_mail,
};

/// The relying party's origin in these tests (the server's own port does not matter to
/// WebAuthn: the origin is configured, and the authenticator is told the same one).
pub(crate) const ORIGIN: &str = "http://localhost:3000";
/// Past the default re-authentication window of 300 seconds.
const STALE: i64 = 301;

async fn spawn() -> TestApp {
    spawn_app_with(|config| config.passkey_origin = Some(ORIGIN.into())).await
}

pub(crate) fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

async fn start_signup(app: &TestApp, body: Value) -> Response {
    app.post_json("/auth/signup/passkey/start", &body).await
}

/// The authenticator's answer to a started ceremony: (ceremony id, credential).
pub(crate) async fn register_with(
    authenticator: &mut SoftPasskey,
    started: Response,
) -> (String, Value) {
    assert_eq!(started.status(), StatusCode::OK);
    let body: Value = started.json().await.unwrap();
    // The software authenticator stores no credentials of its own (no resident keys), so
    // it is not asked for one; a server cannot tell either way (`residentKey` is a wish
    // to the client, and nothing the authenticator signs says where the key lives).
    let mut options = body["options"].clone();
    options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("discouraged");
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(false);
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let credential = authenticator.do_registration(origin(), options).unwrap();
    (
        body["ceremony"].as_str().unwrap().to_owned(),
        serde_json::to_value(credential).unwrap(),
    )
}

async fn finish_signup(app: &TestApp, ceremony: &str, credential: &Value) -> Response {
    app.post_json(
        "/auth/signup/passkey/finish",
        &json!({"ceremony": ceremony, "name": "laptop", "credential": credential}),
    )
    .await
}

/// Signs `username` up with a new passkey on `authenticator`: the tokens it answers and
/// the passkey's credential id.
async fn passkey_account(
    app: &TestApp,
    authenticator: &mut SoftPasskey,
    username: &str,
) -> (Tokens, String) {
    let started = start_signup(app, json!({"username": username})).await;
    let (ceremony, credential) = register_with(authenticator, started).await;
    let created = finish_signup(app, &ceremony, &credential).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["user"]["username"], username);
    (
        tokens_of(body),
        credential["id"].as_str().unwrap().to_owned(),
    )
}

/// A sign-in with the passkey `credential_id` that `authenticator` holds for `user_id`.
/// The software authenticator keeps no resident credentials, so it is told which one to
/// use, and the user handle a resident credential returns (not signed) is filled in; the
/// server verifies the signature over everything else as it does a browser's.
pub(crate) async fn passkey_sign_in(
    app: &TestApp,
    authenticator: &mut SoftPasskey,
    credential_id: &str,
    user_id: &str,
) -> Response {
    let started: Value = app
        .post_json("/auth/passkeys/sign-in/start", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let mut options = started["options"].clone();
    options["publicKey"]["allowCredentials"] = json!([{"type": "public-key", "id": credential_id}]);
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let mut assertion =
        serde_json::to_value(authenticator.do_authentication(origin(), options).unwrap()).unwrap();
    let handle = base64_url(uuid::Uuid::parse_str(user_id).unwrap().as_bytes());
    assertion["response"]["userHandle"] = json!(handle);
    app.post_json(
        "/auth/passkeys/sign-in/finish",
        &json!({"ceremony": started["ceremony"], "credential": assertion}),
    )
    .await
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn me(app: &TestApp, access: &str) -> Value {
    let answer = app.get("/auth/me", Some(access)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

async fn passkey_ids(app: &TestApp, access: &str) -> Vec<String> {
    let listed: Value = app
        .get("/auth/passkeys", Some(access))
        .await
        .json()
        .await
        .unwrap();
    listed["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|passkey| passkey["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn remove_passkey(app: &TestApp, access: &str, id: &str) -> Response {
    app.post_json_bearer(&format!("/auth/passkeys/{id}/remove"), access, &json!({}))
        .await
}

#[tokio::test]
async fn sign_up_with_a_passkey_only_then_sign_in_with_it_and_never_with_a_password() {
    let app = spawn().await;
    let mut authenticator = SoftPasskey::new(true);
    let started = start_signup(&app, json!({"username": "ada"})).await;
    assert_eq!(started.headers()["cache-control"], "no-store");
    let (ceremony, credential) = register_with(&mut authenticator, started).await;
    let credential_id = credential["id"].as_str().unwrap().to_owned();
    let created = finish_signup(&app, &ceremony, &credential).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let tokens = tokens_of(created.json().await.unwrap());
    let ada = me(&app, &tokens.access).await;
    assert_eq!(ada["username"], "ada");
    assert_eq!(ada["role"], "user");
    assert_eq!(passkey_ids(&app, &tokens.access).await.len(), 1);
    let user_id = ada["id"].as_str().unwrap().to_owned();

    // No password signs this account in, not even an empty one.
    for password in [PASSWORD, ""] {
        let refused = app.login_response("ada", password).await;
        assert!(
            matches!(refused.status().as_u16(), 401 | 422),
            "{password:?}: {}",
            refused.status()
        );
    }
    // Its passkey does, and the session says so.
    let signed_in = passkey_sign_in(&app, &mut authenticator, &credential_id, &user_id).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let again = tokens_of(signed_in.json().await.unwrap());
    assert_eq!(me(&app, &again.access).await["id"], user_id);

    let events = app
        .audit_events(&app.admin("root").await.access, "signup")
        .await;
    let ada_signup = events
        .iter()
        .find(|event| event["user_id"] == user_id.as_str())
        .expect("a signup event");
    assert_eq!(ada_signup["detail"], "passkey");
}

#[tokio::test]
async fn a_passkey_sign_up_checks_its_fields_first_and_its_ceremony_serves_once() {
    let app = spawn().await;
    app.signup("taken").await;
    for (body, status, code) in [
        (json!({"username": ""}), 422, "invalid_input"),
        (json!({"username": "a b"}), 422, "invalid_input"),
        (
            json!({"username": "ada", "email": "not an address"}),
            422,
            "invalid_input",
        ),
        (json!({"username": "TAKEN"}), 409, "username_taken"),
        (
            json!({"username": "ada", "password": "x"}),
            422,
            "invalid_input",
        ),
    ] {
        let refused = start_signup(&app, body.clone()).await;
        assert_eq!(refused.status().as_u16(), status, "{body}");
        assert_eq!(error_code(refused).await, code, "{body}");
    }
    let not_json = app.post_raw("/auth/signup/passkey/start", "{").await;
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    let started: Value = start_signup(&app, json!({"username": "ada"}))
        .await
        .json()
        .await
        .unwrap();
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["name"], "ada");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );

    // Garbage is refused before the ceremony is spent; a forged credential spends it.
    let ceremony = started["ceremony"].as_str().unwrap();
    let garbage = finish_signup(&app, ceremony, &json!("text")).await;
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let forged = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}
    });
    let refused = finish_signup(&app, ceremony, &forged).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(refused).await, "invalid_passkey");
    let spent = finish_signup(&app, ceremony, &forged).await;
    assert_eq!(error_code(spent).await, "invalid_ceremony");
    assert_eq!(
        error_code(app.login_response("ada", PASSWORD).await).await,
        "invalid_credentials",
        "no account was made"
    );
}

#[tokio::test]
async fn parallel_finishes_make_one_account_and_one_name_goes_to_one_of_two_ceremonies() {
    let app = spawn().await;
    let mut authenticator = SoftPasskey::new(true);
    // One ceremony finished six times at once (a retried request, several tabs).
    let started = start_signup(&app, json!({"username": "ada"})).await;
    let (ceremony, credential) = register_with(&mut authenticator, started).await;
    let finishes = (0..6).map(|_| finish_signup(&app, &ceremony, &credential));
    let answers = futures::future::join_all(finishes).await;
    let created = answers
        .iter()
        .filter(|answer| answer.status() == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    for answer in answers {
        if answer.status() != StatusCode::CREATED {
            assert_eq!(error_code(answer).await, "invalid_ceremony");
        }
    }

    // Two people start with the same free name; whoever finishes second is told.
    let mut first = SoftPasskey::new(true);
    let mut second = SoftPasskey::new(true);
    let one = register_with(
        &mut first,
        start_signup(&app, json!({"username": "bob"})).await,
    )
    .await;
    let two = register_with(
        &mut second,
        start_signup(&app, json!({"username": "BOB"})).await,
    )
    .await;
    let (one, two) = futures::join!(
        finish_signup(&app, &one.0, &one.1),
        finish_signup(&app, &two.0, &two.1)
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let loser = if one.status() == StatusCode::CONFLICT {
        one
    } else {
        two
    };
    assert_eq!(error_code(loser).await, "username_taken");
}

#[tokio::test]
async fn a_first_password_needs_a_fresh_sign_in_and_then_signs_in_like_any_other() {
    let app = spawn().await;
    let mut authenticator = SoftPasskey::new(true);
    let (tokens, credential_id) = passkey_account(&app, &mut authenticator, "ada").await;
    let user_id = me(&app, &tokens.access).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = |access: String, body: Value| {
        let app = &app;
        async move { app.post_json_bearer("/auth/password", &access, &body).await }
    };

    // An hour later the same session cannot: it must sign in again.
    app.clock.shift(STALE);
    let stale = set(
        tokens.access.clone(),
        json!({"new_password": "a new passphrase 1"}),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(stale).await, "reauthentication_required");
    // A password typed is no proof for an account that has none.
    let guessed = set(
        tokens.access.clone(),
        json!({"current_password": PASSWORD, "new_password": "a new passphrase 1"}),
    )
    .await;
    assert_eq!(error_code(guessed).await, "reauthentication_required");

    let fresh = tokens_of(
        passkey_sign_in(&app, &mut authenticator, &credential_id, &user_id)
            .await
            .json()
            .await
            .unwrap(),
    );
    let weak = set(fresh.access.clone(), json!({"new_password": "short"})).await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let first = set(
        fresh.access.clone(),
        json!({"new_password": "a new passphrase 1"}),
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        app.login_response("ada", "a new passphrase 1")
            .await
            .status(),
        StatusCode::OK
    );
    // Set once, it is a password like any other: changing it needs it.
    let without = set(
        fresh.access.clone(),
        json!({"new_password": "another one 22"}),
    )
    .await;
    assert_eq!(without.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The other sessions ended with the change, as after any password change.
    assert_eq!(
        app.get("/auth/me", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let admin = app.admin("root").await;
    assert_eq!(
        app.audit_events(&admin.access, "password_set").await.len(),
        1
    );
}

#[tokio::test]
async fn the_last_passkey_of_an_account_without_a_password_stays() {
    let app = spawn().await;
    let mut authenticator = SoftPasskey::new(true);
    let (tokens, first) = passkey_account(&app, &mut authenticator, "ada").await;
    assert_eq!(
        passkey_ids(&app, &tokens.access).await,
        std::slice::from_ref(&first)
    );

    let refused = remove_passkey(&app, &tokens.access, &first).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(refused).await, "last_factor");
    let unknown = remove_passkey(&app, &tokens.access, "AAAA").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // A second passkey (a recent sign-in suffices: there is no password to give).
    let started = app
        .post_bearer("/auth/passkeys/register/start", &tokens.access)
        .await;
    let (ceremony, credential) = register_with(&mut authenticator, started).await;
    let added = app
        .post_json_bearer(
            "/auth/passkeys/register/finish",
            &tokens.access,
            &json!({"ceremony": ceremony, "name": "phone", "credential": credential}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let both = passkey_ids(&app, &tokens.access).await;
    assert_eq!(both.len(), 2);

    // Two tabs removing both at once: one may go, never both.
    let (one, two) = futures::join!(
        remove_passkey(&app, &tokens.access, &both[0]),
        remove_passkey(&app, &tokens.access, &both[1])
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort();
    assert!(
        statuses == [200, 409] || statuses == [409, 409],
        "{statuses:?}"
    );
    assert_eq!(
        passkey_ids(&app, &tokens.access).await.len(),
        if statuses == [200, 409] { 1 } else { 2 }
    );

    // Out of the window, removing any passkey needs a fresh sign-in.
    app.clock.shift(STALE);
    let stale = remove_passkey(&app, &tokens.access, &both[0]).await;
    assert_eq!(error_code(stale).await, "reauthentication_required");
}

#[tokio::test]
async fn a_verified_address_is_a_way_in_a_reset_sets_the_first_password_and_the_address_stays() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| {
        config.passkey_origin = Some(ORIGIN.into());
    })
    .await;
    let mut authenticator = SoftPasskey::new(true);
    let started = start_signup(&app, json!({"username": "ada", "email": "ada@example.org"})).await;
    let (ceremony, credential) = register_with(&mut authenticator, started).await;
    let tokens = tokens_of(
        finish_signup(&app, &ceremony, &credential)
            .await
            .json()
            .await
            .unwrap(),
    );
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, "ada <ada@example.org>");
    let verified = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": mails[0].token_for("/verify-email") }),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);

    // With a verified address, the last passkey may go …
    let only = passkey_ids(&app, &tokens.access).await.remove(0);
    assert_eq!(
        remove_passkey(&app, &tokens.access, &only).await.status(),
        StatusCode::OK
    );
    // … and then the address is the last way in, which stays.
    let removal = app
        .post_json_bearer("/auth/email", &tokens.access, &json!({"email": ""}))
        .await;
    assert_eq!(removal.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(removal).await, "last_factor");

    // A reset link sets the account's first password.
    let forgot = app
        .post_json("/auth/password/forgot", &json!({"login": "ada"}))
        .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    // Mailed besides the notice that a passkey was removed.
    let mails = smtp.wait_for(3).await;
    let reset_mail = mails
        .iter()
        .find(|mail| mail.text.contains("/reset-password"))
        .expect("a reset link");
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({
                "token": reset_mail.token_for("/reset-password"),
                "new_password": "a first passphrase",
            }),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(
        app.login_response("ada", "a first passphrase")
            .await
            .status(),
        StatusCode::OK
    );
}

/// "Confirm it is you" with a passkey: the started ceremony, and the assertion
/// `authenticator` makes for it.
async fn start_confirmation(
    app: &TestApp,
    authenticator: &mut SoftPasskey,
    access: &str,
) -> (Value, Value) {
    let started = app
        .post_json_bearer("/auth/reauthenticate/passkey/start", access, &json!({}))
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let started: Value = started.json().await.unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let assertion =
        serde_json::to_value(authenticator.do_authentication(origin(), options).unwrap()).unwrap();
    (started, assertion)
}

async fn finish_confirmation(
    app: &TestApp,
    access: &str,
    ceremony: &Value,
    assertion: &Value,
) -> Response {
    app.post_json_bearer(
        "/auth/reauthenticate/passkey/finish",
        access,
        &json!({"ceremony": ceremony, "credential": assertion}),
    )
    .await
}

#[tokio::test]
async fn an_account_without_a_password_confirms_it_is_you_with_its_own_passkey() {
    let app = spawn().await;
    let mut ada_key = SoftPasskey::new(true);
    let (ada, ada_credential) = passkey_account(&app, &mut ada_key, "ada").await;
    app.clock.shift(STALE);
    let set_password = |access: String| {
        let app = &app;
        async move {
            app.post_json_bearer(
                "/auth/password",
                &access,
                &json!({"new_password": "a new passphrase 1"}),
            )
            .await
        }
    };
    let stale = set_password(ada.access.clone()).await;
    assert_eq!(error_code(stale).await, "reauthentication_required");

    // The options name ada's passkey and no other.
    let (started, assertion) = start_confirmation(&app, &mut ada_key, &ada.access).await;
    let allowed = started["options"]["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|credential| credential["id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(allowed, vec![ada_credential]);
    let confirmed = finish_confirmation(&app, &ada.access, &started["ceremony"], &assertion).await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    // A ceremony serves once.
    let replayed = finish_confirmation(&app, &ada.access, &started["ceremony"], &assertion).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(replayed).await, "invalid_ceremony");
    assert_eq!(
        set_password(ada.access.clone()).await.status(),
        StatusCode::OK
    );

    // Anonymous, or an account with no passkey: nothing to start.
    let anonymous = app
        .post_json("/auth/reauthenticate/passkey/start", &json!({}))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let bob = app.signup_and_login("bob").await;
    let no_passkey = app
        .post_json_bearer(
            "/auth/reauthenticate/passkey/start",
            &bob.access,
            &json!({}),
        )
        .await;
    assert_eq!(no_passkey.status(), StatusCode::NOT_FOUND);
    let garbage = app
        .post_json_bearer(
            "/auth/reauthenticate/passkey/finish",
            &bob.access,
            &json!({"ceremony": "x", "credential": "not a credential"}),
        )
        .await;
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The admin console tells which accounts have no password (its factor reset would
    // take their passkeys): ada has one now, so a new passkey-only account shows it.
    let mut dan_key = SoftPasskey::new(true);
    passkey_account(&app, &mut dan_key, "dan").await;
    let admin = app.admin("root").await;
    let listed: Value = app
        .get("/auth/admin/users", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    let no_password = |name: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|user| user["username"] == name)
            .unwrap()
            .get("no_password")
            .cloned()
    };
    assert_eq!(no_password("dan"), Some(json!(true)));
    assert_eq!(no_password("ada"), None);
    assert_eq!(no_password("bob"), None);
}

#[tokio::test]
async fn a_confirmation_is_bound_to_its_user_and_to_that_users_passkeys() {
    let app = spawn().await;
    let mut ada_key = SoftPasskey::new(true);
    let mut cy_key = SoftPasskey::new(true);
    let (ada, ada_credential) = passkey_account(&app, &mut ada_key, "ada").await;
    let (cy, _) = passkey_account(&app, &mut cy_key, "cyd").await;
    app.clock.shift(STALE);

    // Ada's ceremony, answered by ada's passkey, finished by cy: refused, and spent.
    let (started, assertion) = start_confirmation(&app, &mut ada_key, &ada.access).await;
    let stolen = finish_confirmation(&app, &cy.access, &started["ceremony"], &assertion).await;
    assert_eq!(error_code(stolen).await, "invalid_ceremony");
    let after = finish_confirmation(&app, &ada.access, &started["ceremony"], &assertion).await;
    assert_eq!(error_code(after).await, "invalid_ceremony");

    // Cy's ceremony answered with ada's passkey: not one of cy's, refused and audited.
    let started = app
        .post_json_bearer("/auth/reauthenticate/passkey/start", &cy.access, &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mut options = started["options"].clone();
    options["publicKey"]["allowCredentials"] =
        json!([{"type": "public-key", "id": ada_credential}]);
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let wrong =
        serde_json::to_value(ada_key.do_authentication(origin(), options).unwrap()).unwrap();
    let refused = finish_confirmation(&app, &cy.access, &started["ceremony"], &wrong).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(refused).await, "invalid_passkey");

    // Neither confirmed anything: both sessions are still too old to add a way in.
    for access in [&ada.access, &cy.access] {
        let stale = app
            .post_json_bearer(
                "/auth/password",
                access,
                &json!({"new_password": "a new passphrase 1"}),
            )
            .await;
        assert_eq!(error_code(stale).await, "reauthentication_required");
    }
    let admin = app.admin("root").await;
    let failed = app
        .audit_events(&admin.access, "reauthentication_failed")
        .await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["username"], "cyd");
}
