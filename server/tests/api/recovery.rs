//! Email verification and password reset, delivered through a real SMTP server.

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::{Config, SmtpUrl};

use crate::{
    helpers::{PASSWORD, TestApp, error_code, spawn_app_with, tokens_of},
    mailbox::{Delivered, SmtpServer},
};

const NEW_PASSWORD: &str = "a brand new passphrase";

pub(crate) async fn spawn_with_mail(
    smtp: &SmtpServer,
    customize: impl FnOnce(&mut Config),
) -> TestApp {
    let url = smtp.url();
    spawn_app_with(move |config| {
        config.mail.smtp = Some(SmtpUrl::new(url));
        config.mail.from = "Gatehouse Tests <auth@gatehouse.test>".into();
        config.throttle.recovery_requests_per_ip = 1_000;
        config.throttle.mails_per_account = 1_000;
        customize(config);
    })
    .await
}

pub(crate) async fn signup_with_email(app: &TestApp, username: &str, email: &str) -> Value {
    let response = app
        .post_json(
            "/auth/signup",
            &json!({ "username": username, "password": PASSWORD, "email": email }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn verify(app: &TestApp, mail: &Delivered) -> reqwest::Response {
    app.post_json(
        "/auth/email/verify",
        &json!({ "token": mail.token_for("/verify-email") }),
    )
    .await
}

/// Signs `username` up with `email` and uses the verification link it is mailed;
/// `already` is how many mails the server has delivered before.
pub(crate) async fn verified_account(
    app: &TestApp,
    smtp: &SmtpServer,
    username: &str,
    email: &str,
    already: usize,
) {
    signup_with_email(app, username, email).await;
    let mails = smtp.wait_for(already + 1).await;
    let verification = &mails[already];
    assert_eq!(verification.to, format!("{username} <{email}>"));
    assert_eq!(verify(app, verification).await.status(), StatusCode::OK);
}

pub(crate) async fn forgot(app: &TestApp, login: &str) -> reqwest::Response {
    app.post_json("/auth/password/forgot", &json!({ "login": login }))
        .await
}

pub(crate) async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/password/reset",
        &json!({ "token": token, "new_password": password }),
    )
    .await
}

#[tokio::test]
async fn a_reset_for_a_verified_account_mails_one_link_that_works_once_and_ends_every_session() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let before = app.login("ada").await;

    let asked = forgot(&app, "ADA@example.org").await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(2).await;
    let mail = &mails[1];
    assert_eq!(mail.subject, "Reset your Gatehouse password");
    assert!(
        mail.from.ends_with("<auth@gatehouse.test>"),
        "{}",
        mail.from
    );
    assert_eq!(mail.to, "ada <ada@example.org>");
    // The link starts with the server's public URL, never a request's Host.
    assert!(mail.link_for("/reset-password").starts_with(&app.address));
    assert!(mail.html.contains(&mail.token_for("/reset-password")));
    let token = mail.token_for("/reset-password");

    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    // Every session of the account is over: its access token and its refresh token.
    assert_eq!(
        app.get("/auth/me", Some(&before.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&before.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("ada", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    // The link worked once.
    let again = reset(&app, &token, "yet another passphrase").await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert_eq!(error_code(again).await, "invalid_link");
    let mails = smtp.settled().await;
    let resets = mails
        .iter()
        .filter(|mail| mail.subject.starts_with("Reset"));
    assert_eq!(resets.count(), 1, "exactly one reset mail: {mails:#?}");
    // And the owner hears that the password changed.
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert_eq!(mails[2].subject, "Your Gatehouse password was changed");
    assert_eq!(mails[2].to, "ada <ada@example.org>");
}

#[tokio::test]
async fn every_reset_request_gets_the_same_answer_and_only_a_verified_address_gets_mail() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    signup_with_email(&app, "bob", "bob@example.org").await; // never verified
    smtp.wait_for(2).await;
    assert_eq!(app.signup("cyrus").await.status(), StatusCode::CREATED); // no address

    let mut answers = Vec::new();
    for login in [
        "ada",
        "nobody",
        "nobody@example.org",
        "bob",
        "bob@example.org",
        "cyrus",
    ] {
        let response = forgot(&app, login).await;
        answers.push((response.status(), response.text().await.unwrap()));
    }
    assert!(
        answers.iter().all(|answer| answer == &answers[0]),
        "answers differ: {answers:#?}"
    );
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    let mails = smtp.settled().await;
    let resets: Vec<_> = mails
        .iter()
        .filter(|mail| mail.subject.starts_with("Reset"))
        .collect();
    assert_eq!(resets.len(), 1, "{mails:#?}");
    assert_eq!(resets[0].to, "ada <ada@example.org>");
}

#[tokio::test]
async fn an_unverified_address_gets_reset_mail_only_when_configured_to() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| {
        config.mail.reset_needs_verified_email = false;
    })
    .await;
    signup_with_email(&app, "bob", "bob@example.org").await;
    smtp.wait_for(1).await;
    assert_eq!(forgot(&app, "bob").await.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(2).await;
    assert!(mails[1].subject.starts_with("Reset"));
}

#[tokio::test]
async fn an_expired_or_garbled_reset_link_is_refused_and_a_verification_link_is_no_reset_link() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    forgot(&app, "ada").await;
    let mails = smtp.wait_for(2).await;
    let token = mails[1].token_for("/reset-password");

    for garbage in [
        "",
        "ml_short",
        "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "' OR 1=1 --",
    ] {
        let response = reset(&app, garbage, NEW_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::GONE, "{garbage:?}");
    }
    // A verification token never resets a password (purpose-bound).
    signup_with_email(&app, "bob", "bob@example.org").await;
    let bob_mail = &smtp.wait_for(3).await[2];
    let verification_token = bob_mail.token_for("/verify-email");
    assert_eq!(
        reset(&app, &verification_token, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::GONE
    );
    // A new password that breaks a rule is a 422 and leaves the link usable.
    let weak = reset(&app, &token, "password").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);

    app.clock.shift(31 * 60);
    let late = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(late.status(), StatusCode::GONE);
    assert_eq!(error_code(late).await, "invalid_link");
    app.clock.shift(-31 * 60);
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn verification_flips_the_flag_that_the_account_and_the_admins_see() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    let created = signup_with_email(&app, "ada", "Ada@Example.org").await;
    assert_eq!(created["user"]["email_verified"], false);
    let ada = app.login("ada").await;
    let me: Value = app
        .get("/auth/me", Some(&ada.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "Ada@Example.org");
    assert_eq!(me["email_verified"], false);

    // Asking again sends a second link; either works, once.
    let again = app
        .post_bearer("/auth/email/verification", &ada.access)
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(2).await;
    let verified = verify(&app, &mails[1]).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let me: Value = app
        .get("/auth/me", Some(&ada.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true);
    assert_eq!(verify(&app, &mails[1]).await.status(), StatusCode::GONE);

    let admin = app.admin("root").await;
    let users: Value = app
        .get("/auth/admin/users?search=ada", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["items"][0]["email_verified"], true);
}

#[tokio::test]
async fn changing_the_address_needs_the_password_makes_it_unverified_and_tells_the_old_one() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    signup_with_email(&app, "bob", "bob@example.org").await;
    smtp.wait_for(2).await;
    let ada = app.login("ada").await;
    let change = |email: &'static str, password: &'static str| {
        app.client
            .post(app.url("/auth/email"))
            .bearer_auth(&ada.access)
            .json(&json!({ "email": email, "current_password": password }))
            .send()
    };

    let wrong = change("ada@new.example.org", "not my password")
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let changed: Value = change("ada@new.example.org", PASSWORD)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["email"], "ada@new.example.org");
    assert_eq!(changed["email_verified"], false);
    let mails = smtp.wait_for(4).await;
    let to_new = mails
        .iter()
        .find(|mail| mail.to == "ada <ada@new.example.org>");
    assert!(to_new.unwrap().subject.starts_with("Confirm"), "{mails:#?}");
    // The old address hears of it, in case the change was not its owner's doing.
    let to_old = mails[2..]
        .iter()
        .find(|mail| mail.to == "ada <ada@example.org>")
        .expect("a notice to the old address");
    assert_eq!(
        to_old.subject,
        "The email address of your Gatehouse account was changed"
    );
    assert!(!to_old.text.contains("new.example.org"), "{}", to_old.text);
    // The old address no longer finds the account.
    forgot(&app, "ada@example.org").await;
    assert_eq!(smtp.settled().await.len(), 4);
}

/// The sign-up (or change) answer for an address, as a comparable shape: everything but
/// the ids and names that differ between accounts.
fn shape(status: StatusCode, mut body: Value) -> (StatusCode, Value) {
    let user = body["user"].as_object_mut().unwrap();
    for field in ["id", "username", "email", "created_at"] {
        user.remove(field);
    }
    let message = body["message"].as_str().unwrap();
    body["message"] = message
        .split(' ')
        .filter(|word| *word != "mallory" && *word != "eve")
        .collect::<Vec<_>>()
        .join(" ")
        .into();
    (status, body)
}

#[tokio::test]
async fn an_address_verified_elsewhere_is_answered_as_a_fresh_one_and_its_owner_is_told() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;

    let squatter = app
        .post_json(
            "/auth/signup",
            &json!({"username": "mallory", "password": PASSWORD, "email": "ADA@example.org"}),
        )
        .await;
    let fresh = app
        .post_json(
            "/auth/signup",
            &json!({"username": "eve", "password": PASSWORD, "email": "ada@example.net"}),
        )
        .await;
    let squatter = shape(squatter.status(), squatter.json().await.unwrap());
    let fresh = shape(fresh.status(), fresh.json().await.unwrap());
    assert_eq!(squatter, fresh, "the answers tell the two apart");
    assert_eq!(squatter.0, StatusCode::CREATED);

    let mails = smtp.wait_for(3).await;
    let to_ada: Vec<&Delivered> = mails[1..]
        .iter()
        .filter(|mail| mail.to.ends_with("<ada@example.org>"))
        .collect();
    assert_eq!(to_ada.len(), 1, "{mails:#?}");
    assert_eq!(
        to_ada[0].to, "ada <ada@example.org>",
        "to its owner, not the squatter"
    );
    assert_eq!(
        to_ada[0].subject,
        "Someone tried to use your email address on Gatehouse"
    );
    assert!(!to_ada[0].text.contains("token="), "no link to verify it");

    // The same through an address change.
    let eve = app.login("eve").await;
    let changed = app
        .post_json_bearer(
            "/auth/email",
            &eve.access,
            &json!({"email": "Ada@Example.org", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["email_verified"], false);
    let mails = smtp.wait_for(4).await;
    assert_eq!(mails[3].to, "ada <ada@example.org>");
    assert_eq!(
        mails[3].subject,
        "Someone tried to use your email address on Gatehouse"
    );
    // A reset asked for by the address reaches its owner's account only.
    forgot(&app, "ada@example.org").await;
    let reset_mail = smtp.wait_for(5).await.pop().unwrap();
    assert!(reset_mail.subject.starts_with("Reset"));
    assert_eq!(reset_mail.to, "ada <ada@example.org>");
    assert_eq!(smtp.settled().await.len(), 5);
}

#[tokio::test]
async fn an_unverified_claim_blocks_nobody_and_the_first_to_verify_owns_the_address() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    // Bob types an address that is not his; its owner signs up with it later.
    signup_with_email(&app, "bob", "zed@example.org").await;
    let bobs_link = smtp.wait_for(1).await.remove(0);
    let bob = app.login("bob").await;
    let again = app
        .post_bearer("/auth/email/verification", &bob.access)
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let bobs_second_link = smtp.wait_for(2).await.remove(1);
    signup_with_email(&app, "zed", "zed@example.org").await;
    let zeds_link = smtp.wait_for(3).await.remove(2);
    assert_eq!(zeds_link.to, "zed <zed@example.org>");

    assert_eq!(verify(&app, &zeds_link).await.status(), StatusCode::OK);
    // Bob's link (had he the mailbox) now fails, and the page says why.
    let too_late = verify(&app, &bobs_link).await;
    assert_eq!(too_late.status(), StatusCode::CONFLICT);
    let body: Value = too_late.json().await.unwrap();
    assert_eq!(body["error"]["code"], "email_taken");
    assert_eq!(
        body["error"]["message"],
        "Another account verified this email address first: use another one."
    );
    let page = app
        .client
        .post(app.url("/api/verify"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.address)
        .header("accept", "text/html")
        .header(
            "referer",
            app.url(&format!(
                "/verify-email?token={}",
                bobs_second_link.token_for("/verify-email")
            )),
        )
        .body(format!(
            "token={}",
            bobs_second_link.token_for("/verify-email")
        ))
        .send()
        .await
        .unwrap();
    let back = page.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.ends_with("error=email_taken"), "{back}");
    let shown = app.client.get(app.url(&back)).send().await.unwrap();
    let shown = shown.text().await.unwrap();
    assert!(
        shown.contains("Another account verified this email address first"),
        "{shown}"
    );
    // Asking for yet another link now mails the address's owner a warning, not a link.
    let again = app
        .post_bearer("/auth/email/verification", &bob.access)
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let warning = smtp.wait_for(4).await.remove(3);
    assert_eq!(warning.to, "zed <zed@example.org>");
    assert_eq!(
        warning.subject,
        "Someone tried to use your email address on Gatehouse"
    );
}

#[tokio::test]
async fn header_injection_through_an_address_is_refused_everywhere() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    let injected = "ada@example.org\r\nBcc: eve@example.org";
    let signup = app
        .post_json(
            "/auth/signup",
            &json!({ "username": "ada", "password": PASSWORD, "email": injected }),
        )
        .await;
    assert_eq!(signup.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = signup.json().await.unwrap();
    assert_eq!(body["error"]["field"], "email");

    let ada = app.signup_and_login("ada").await;
    let change = app
        .client
        .post(app.url("/auth/email"))
        .bearer_auth(&ada.access)
        .json(&json!({ "email": "ada@example.org\nBcc: eve@example.org", "current_password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let asked = forgot(&app, injected).await;
    assert_eq!(asked.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(smtp.settled().await.is_empty());
}

#[tokio::test]
async fn reset_requests_are_throttled_per_name_and_per_client_address() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| {
        config.throttle.mails_per_account = 2;
        config.throttle.recovery_requests_per_ip = 5;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(forgot(&app, "ada").await.status(), StatusCode::ACCEPTED);
    }
    let third = forgot(&app, "ADA").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(error_code(third).await, "throttled");
    // Other names go on until the client address has used its five.
    assert_eq!(forgot(&app, "bob").await.status(), StatusCode::ACCEPTED);
    assert_eq!(forgot(&app, "cyrus").await.status(), StatusCode::ACCEPTED);
    assert_eq!(
        forgot(&app, "diana").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn link_attempts_of_one_client_address_are_throttled_like_reset_requests() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| {
        config.throttle.recovery_requests_per_ip = 3;
    })
    .await;
    let guess = |path: &'static str| {
        let body = match path {
            "/auth/password/reset" => {
                json!({"token": "ml_a-guessed-token", "new_password": NEW_PASSWORD})
            }
            _ => json!({"token": "ml_a-guessed-token"}),
        };
        app.client.post(app.url(path)).json(&body).send()
    };
    assert_eq!(
        guess("/auth/email/verify").await.unwrap().status(),
        StatusCode::GONE
    );
    assert_eq!(
        guess("/auth/password/reset").await.unwrap().status(),
        StatusCode::GONE
    );
    assert_eq!(
        guess("/auth/email/verify").await.unwrap().status(),
        StatusCode::GONE
    );
    for path in ["/auth/email/verify", "/auth/password/reset"] {
        let throttled = guess(path).await.unwrap();
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(throttled.headers().contains_key("retry-after"));
        assert_eq!(error_code(throttled).await, "throttled");
    }
}

#[tokio::test]
async fn a_server_requiring_verified_addresses_refuses_sign_in_until_the_link_is_used() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| config.mail.require_verified_email = true).await;
    let no_address = app.signup("cyrus").await;
    assert_eq!(no_address.status(), StatusCode::UNPROCESSABLE_ENTITY);

    signup_with_email(&app, "ada", "ada@example.org").await;
    let refused = app.login_response("ada", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "email_not_verified");
    // A wrong password still says only that.
    let wrong = app.login_response("ada", "not the password").await;
    assert_eq!(error_code(wrong).await, "invalid_credentials");

    let mails = smtp.wait_for(1).await;
    assert_eq!(verify(&app, &mails[0]).await.status(), StatusCode::OK);
    let signed_in = app.login_response("ada", PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    tokens_of(signed_in.json().await.unwrap());
}

#[tokio::test]
async fn without_smtp_mails_land_in_the_outbox_under_the_data_directory() {
    let app = spawn_app_with(|_| {}).await;
    signup_with_email(&app, "ada", "ada@example.org").await;
    let outbox = app.data_dir.path().join("outbox");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let written = loop {
        let files: Vec<_> = std::fs::read_dir(&outbox)
            .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
            .unwrap_or_default();
        if let Some(file) = files
            .into_iter()
            .find(|path| path.extension().is_some_and(|e| e == "eml"))
        {
            break file;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml in {outbox:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mail = crate::mailbox::parse(&std::fs::read(written).unwrap());
    assert_eq!(mail.to, "ada <ada@example.org>");
    assert_eq!(verify(&app, &mail).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_by_email_lifts_the_cap_of_failed_sign_ins() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| {
        config.throttle.login_failures_per_account = 5;
        config.throttle.login_failure_cap = 6;
    })
    .await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    app.fail_sign_ins("ada", 6).await;
    assert_eq!(
        error_code(app.login_response("ada", PASSWORD).await).await,
        "sign_in_locked"
    );
    assert_eq!(forgot(&app, "ada").await.status(), StatusCode::ACCEPTED);
    let token = smtp.wait_for(2).await[1].token_for("/reset-password");
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_response("ada", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_owner_hears_at_the_verified_address_of_every_change_to_the_ways_in() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let ada = app.login("ada").await;
    app.enrol(&ada).await;
    let removed = app
        .post_json_bearer(
            "/auth/two-step/remove",
            &ada.access,
            &json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    let changed = app
        .post_json_bearer(
            "/auth/password",
            &ada.access,
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let mails = smtp.wait_for(4).await;
    let notices: Vec<(&str, &str)> = mails[1..]
        .iter()
        .map(|mail| (mail.to.as_str(), mail.subject.as_str()))
        .collect();
    assert_eq!(
        notices,
        [
            (
                "ada <ada@example.org>",
                "Two-step sign-in was turned on for your Gatehouse account"
            ),
            (
                "ada <ada@example.org>",
                "Two-step sign-in was turned off for your Gatehouse account"
            ),
            (
                "ada <ada@example.org>",
                "Your Gatehouse password was changed"
            ),
        ]
    );
    assert!(mails[3].text.contains("127.0.0.1"), "{}", mails[3].text);
    assert!(
        mails[3].text.contains("reset your password"),
        "{}",
        mails[3].text
    );

    // An address nobody verified hears nothing: it may not be the owner's.
    signup_with_email(&app, "bob", "bob@example.org").await;
    smtp.wait_for(5).await;
    let bob = app.login("bob").await;
    app.enrol(&bob).await;
    assert_eq!(smtp.settled().await.len(), 5);
}

#[tokio::test]
async fn a_reset_removes_every_factor_unless_asked_to_keep_them() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let ada = app.login("ada").await;
    app.enrol(&ada).await;
    smtp.wait_for(2).await;

    // Kept when asked: the next sign-in still asks for a code.
    forgot(&app, "ada").await;
    let token = smtp.wait_for(3).await[2].token_for("/reset-password");
    let kept = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": NEW_PASSWORD, "remove_factors": false}),
        )
        .await;
    assert_eq!(kept.status(), StatusCode::OK);
    let body: Value = app
        .login_response("ada", NEW_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");

    // By default whoever forced the reset loses the app they may have added.
    forgot(&app, "ada").await;
    let mails = smtp.wait_for(5).await;
    let token = mails
        .iter()
        .rev()
        .find(|mail| mail.subject.starts_with("Reset"))
        .unwrap()
        .token_for("/reset-password");
    assert_eq!(
        reset(&app, &token, "a third passphrase").await.status(),
        StatusCode::OK
    );
    let signed_in = app.login_response("ada", "a third passphrase").await;
    let tokens = tokens_of(signed_in.json().await.unwrap());
    let status: Value = app
        .get("/auth/two-step", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], "off", "{status}");
    let notice = smtp.wait_for(6).await.pop().unwrap();
    assert_eq!(notice.subject, "Your Gatehouse password was changed");
    assert!(
        notice
            .text
            .contains("every passkey and the authenticator app were removed"),
        "{}",
        notice.text
    );
}
