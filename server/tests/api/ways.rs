//! The ways in an account's owner allows (`/auth/ways`), and what an admin's session must
//! have signed in with (`GATEHOUSE_ADMIN_SIGN_IN`).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use server::config::AdminSignIn;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::{
    email_code::{ask, finish, mailed_code},
    helpers::{PASSWORD, TestApp, error_code, spawn_app_with, tokens_of},
    mailbox::SmtpServer,
    passwordless::{ORIGIN, passkey_sign_in, register_with},
    recovery::{forgot, reset, spawn_with_mail, verified_account},
    two_step::code_at,
};

async fn ways(app: &TestApp, access: &str) -> Value {
    let answer = app.get("/auth/ways", Some(access)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

async fn set_ways(app: &TestApp, access: &str, on: [bool; 3], password: &str) -> Response {
    let [password_on, passkey_on, email_code_on] = on;
    app.send_json_bearer(
        Method::PUT,
        "/auth/ways",
        access,
        Some(&json!({
            "password": password_on,
            "passkey": passkey_on,
            "email_code": email_code_on,
            "current_password": password,
        })),
    )
    .await
}

fn on_of(view: &Value) -> [bool; 3] {
    ["password", "passkey", "email_code"].map(|way| view[way]["on"].as_bool().unwrap())
}

#[tokio::test]
async fn a_way_turned_off_is_refused_only_after_its_proof_and_the_other_ways_still_sign_in() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let here = app.login("ada").await;
    let elsewhere = app.login("ada").await;
    assert_eq!(
        ways(&app, &here.access).await,
        json!({
            "password": {"on": true, "ready": true},
            "passkey": {"on": true, "ready": false},
            "email_code": {"on": true, "ready": true},
        })
    );

    // The current password is checked, as for every change to the ways in.
    let wrong = set_ways(&app, &here.access, [false, true, true], "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(wrong).await, "invalid_input");
    let missing = set_ways(&app, &here.access, [false, true, true], "").await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let garbage = app
        .send_json_bearer(
            Method::PUT,
            "/auth/ways",
            &here.access,
            Some(&json!({"password": "no", "passkey": true, "email_code": true})),
        )
        .await;
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(on_of(&ways(&app, &here.access).await), [true, true, true]);

    let off = set_ways(&app, &here.access, [false, true, true], PASSWORD).await;
    assert_eq!(off.status(), StatusCode::OK);
    assert_eq!(on_of(&off.json().await.unwrap()), [false, true, true]);
    // This session goes on; the other one, perhaps opened with a leaked password, ended.
    assert_eq!(
        app.get("/auth/me", Some(&here.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.refresh(&elsewhere.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The right password is refused as a way turned off; a wrong one as any wrong one.
    let right = app.login_response("ada", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(right).await, "way_off");
    let guess = app.login_response("ada", "a wrong guess here").await;
    assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(guess).await, "invalid_credentials");

    // The owner is told at the verified address; a code by email still signs in.
    let mails = smtp.settled().await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(
        mails[1].subject,
        "The ways to sign in to your Gatehouse account were changed"
    );
    let code = mailed_code(&app, &smtp, "ada", "ada", 2).await;
    assert_eq!(finish(&app, "ada", &code).await.status(), StatusCode::OK);

    // No way the account can use would be left: refused, and nothing changes.
    let none_left = set_ways(&app, &here.access, [false, true, false], PASSWORD).await;
    assert_eq!(none_left.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(none_left).await, "last_factor");
    assert_eq!(on_of(&ways(&app, &here.access).await), [false, true, true]);

    // Codes off, the password back on: a code is no longer sent (the answer is the same).
    let swapped = set_ways(&app, &here.access, [true, true, false], PASSWORD).await;
    assert_eq!(swapped.status(), StatusCode::OK);
    let before = smtp.settled().await.len();
    assert_eq!(ask(&app, "ada").await.status(), StatusCode::ACCEPTED);
    assert_eq!(
        smtp.settled().await.len(),
        before,
        "no code for a way turned off"
    );
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::OK
    );

    let admin = app.admin("root").await;
    let refused = app
        .audit_events(&admin.access, "login_refused_way_off")
        .await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["detail"], "password");
    let changes = app
        .audit_events(&admin.access, "sign_in_ways_changed")
        .await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    let not_sent = app
        .audit_events(&admin.access, "sign_in_code_not_sent")
        .await;
    assert!(
        not_sent
            .iter()
            .any(|event| event["detail"] == "codes by email turned off by the owner"),
        "{not_sent:?}"
    );
}

#[tokio::test]
async fn a_password_set_through_a_reset_link_signs_in_again() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let tokens = app.login("ada").await;
    let off = set_ways(&app, &tokens.access, [false, true, true], PASSWORD).await;
    assert_eq!(off.status(), StatusCode::OK);

    let already = smtp.settled().await.len();
    assert_eq!(forgot(&app, "ada").await.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(already + 1).await;
    let token = mails[already].token_for("/reset-password");
    assert_eq!(
        reset(&app, &token, "a brand new passphrase").await.status(),
        StatusCode::OK
    );
    let signed_in = app.login_response("ada", "a brand new passphrase").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens = tokens_of(signed_in.json().await.unwrap());
    assert_eq!(on_of(&ways(&app, &tokens.access).await), [true, true, true]);
}

#[tokio::test]
async fn parallel_choices_from_several_tabs_leave_exactly_one_of_them() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let tokens = app.login("ada").await;
    let choices = [[false, true, true], [true, true, false]];
    let answers = futures::future::join_all((0..8).map(|tab| {
        let (app, access) = (&app, tokens.access.clone());
        async move {
            set_ways(app, &access, choices[tab % 2], PASSWORD)
                .await
                .status()
        }
    }))
    .await;
    assert_eq!(answers, vec![StatusCode::OK; 8]);
    let left = on_of(&ways(&app, &tokens.access).await);
    assert!(choices.contains(&left), "a mix of two choices: {left:?}");
    // Whichever won, exactly its ways sign in.
    let by_password = app.login_response("ada", PASSWORD).await.status();
    assert_eq!(by_password == StatusCode::OK, left[0], "{by_password}");
}

#[tokio::test]
async fn an_account_without_a_password_gives_a_recent_sign_in_instead() {
    let app = spawn_app_with(|config| config.passkey_origin = Some(ORIGIN.into())).await;
    let tokens = app.signup_and_login("ada").await;
    // Without a verified address or a passkey, the password is the one way in.
    let alone = set_ways(&app, &tokens.access, [false, true, true], PASSWORD).await;
    assert_eq!(alone.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(alone).await, "last_factor");
    let unknown = app
        .send_json_bearer(
            Method::PUT,
            "/auth/ways",
            &tokens.access,
            Some(&json!({"password": true, "passkey": true, "email_code": true, "extra": 1})),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app.get("/auth/ways", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// Registers a passkey on `authenticator` for the holder of `access`; its credential id.
async fn add_passkey(app: &TestApp, authenticator: &mut SoftPasskey, access: &str) -> String {
    let started = app
        .post_json_bearer("/auth/passkeys/register/start", access, &json!({}))
        .await;
    let (ceremony, credential) = register_with(authenticator, started).await;
    let finished = app
        .post_json_bearer(
            "/auth/passkeys/register/finish",
            access,
            &json!({"ceremony": ceremony, "name": "key", "credential": credential}),
        )
        .await;
    assert_eq!(finished.status(), StatusCode::CREATED);
    credential["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn with_a_passkey_only_ways_the_passkey_can_be_the_one_left_and_passkeys_can_be_turned_off() {
    let app = spawn_app_with(|config| config.passkey_origin = Some(ORIGIN.into())).await;
    let tokens = app.signup_and_login("ada").await;
    let mut authenticator = SoftPasskey::new(true);
    let credential = add_passkey(&app, &mut authenticator, &tokens.access).await;
    let user_id = app.user_id(&tokens.access).await;
    assert_eq!(
        set_ways(&app, &tokens.access, [false, true, false], PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        passkey_sign_in(&app, &mut authenticator, &credential, &user_id)
            .await
            .status(),
        StatusCode::OK
    );
    // The passkey is then the last usable way in: it stays.
    let removal = app
        .post_json_bearer(
            &format!("/auth/passkeys/{credential}/remove"),
            &tokens.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(removal.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(removal).await, "last_factor");

    // Passkeys off: the same passkey's right answer is refused.
    assert_eq!(
        set_ways(&app, &tokens.access, [true, false, true], PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let refused = passkey_sign_in(&app, &mut authenticator, &credential, &user_id).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "way_off");
}

async fn admin_users(app: &TestApp, access: &str) -> Response {
    app.get("/auth/admin/users", Some(access)).await
}

#[tokio::test]
async fn where_admins_must_sign_in_with_a_second_step_a_password_alone_reaches_no_admin_route() {
    let app = spawn_app_with(|config| config.admin_sign_in = AdminSignIn::SecondStep).await;
    let root = app.admin("root").await;
    let refused = admin_users(&app, &root.access).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "stronger_sign_in_required");
    // Their own account still works, so they can add what is needed.
    assert_eq!(
        app.get("/auth/me", Some(&root.access)).await.status(),
        StatusCode::OK
    );
    let enrolled = app.enrol(&root).await;

    let ticket = app.step_up("root").await;
    let second = app
        .second_step(&ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let strong = tokens_of(second.json().await.unwrap());
    assert_eq!(
        admin_users(&app, &strong.access).await.status(),
        StatusCode::OK
    );
    // A user is refused as before: the role comes first.
    let user = app.signup_and_login("bob").await;
    let not_admin = admin_users(&app, &user.access).await;
    assert_eq!(error_code(not_admin).await, "forbidden");
}

#[tokio::test]
async fn where_admins_must_sign_in_with_a_passkey_a_second_step_by_app_is_not_enough() {
    let app = spawn_app_with(|config| {
        config.admin_sign_in = AdminSignIn::Passkey;
        config.passkey_origin = Some(ORIGIN.into());
    })
    .await;
    let root = app.admin("root").await;
    let mut authenticator = SoftPasskey::new(true);
    let credential = add_passkey(&app, &mut authenticator, &root.access).await;
    let enrolled = app.enrol(&root).await;
    let signed_in: Value = app
        .login_response("root", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let ticket = signed_in["ticket"].as_str().unwrap();
    let by_app = app
        .second_step(ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    let by_app = tokens_of(by_app.json().await.unwrap());
    let refused = admin_users(&app, &by_app.access).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "stronger_sign_in_required");

    let user_id = app.user_id(&root.access).await;
    let by_passkey = passkey_sign_in(&app, &mut authenticator, &credential, &user_id).await;
    assert_eq!(by_passkey.status(), StatusCode::OK);
    let by_passkey = tokens_of(by_passkey.json().await.unwrap());
    assert_eq!(
        admin_users(&app, &by_passkey.access).await.status(),
        StatusCode::OK
    );
}
