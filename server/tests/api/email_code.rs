//! Signing in with a code sent by email, through a real SMTP server: what is mailed, to
//! whom, and every way a code is refused.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, TestApp, error_code, tokens_of},
    mailbox::{Delivered, SmtpServer},
    recovery::{signup_with_email, spawn_with_mail, verified_account},
    two_step::code_at,
};

const PAGE: &str = "/login/email-code";

pub(crate) async fn ask(app: &TestApp, login: &str) -> Response {
    app.post_json("/auth/login/email-code/start", &json!({ "login": login }))
        .await
}

pub(crate) async fn finish(app: &TestApp, login: &str, code: &str) -> Response {
    app.post_json(
        "/auth/login/email-code/finish",
        &json!({ "login": login, "code": code }),
    )
    .await
}

/// The code in a mail, read from its link (which carries it, with the username).
fn code_in(mail: &Delivered, username: &str) -> String {
    let link = mail.link_for(PAGE);
    let (_, query) = link.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert!(pairs.contains(&("login".into(), username.into())), "{link}");
    let code = pairs
        .iter()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.clone())
        .unwrap();
    assert_eq!(code.len(), 8);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    // Typed from the mail's text, as people do: with the space it shows.
    let spaced = format!("{} {}", &code[..4], &code[4..]);
    assert!(mail.text.contains(&spaced), "{}", mail.text);
    assert!(mail.subject.contains(&spaced), "{}", mail.subject);
    code
}

/// Asks a code for `login` and returns it from the mail that arrives (the server has
/// delivered `already` mails before).
pub(crate) async fn mailed_code(
    app: &TestApp,
    smtp: &SmtpServer,
    login: &str,
    username: &str,
    already: usize,
) -> String {
    assert_eq!(ask(app, login).await.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(already + 1).await;
    code_in(&mails[already], username)
}

fn other_than(code: &str) -> String {
    if code == "00000000" {
        "11111111".into()
    } else {
        "00000000".into()
    }
}

#[tokio::test]
async fn a_mailed_code_signs_in_once_by_username_or_by_address() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;

    let code = mailed_code(&app, &smtp, "ada", "ada", 1).await;
    assert_eq!(
        smtp.delivered()[1].to,
        "ada <ada@example.org>",
        "only to the account's verified address"
    );
    let signed_in = finish(&app, "ada", &code).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(signed_in.headers()["cache-control"], "no-store");
    let tokens = tokens_of(signed_in.json().await.unwrap());
    let me: Value = app
        .get("/auth/me", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "ada");
    // Once.
    let again = finish(&app, "ada", &code).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(again).await, "invalid_code");

    // Named by the address, in any case, and typed with its space.
    let code = mailed_code(&app, &smtp, "ADA@example.org", "ada", 2).await;
    let spaced = format!("{} {}", &code[..4], &code[4..]);
    assert_eq!(
        finish(&app, "Ada@Example.org", &spaced).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_request_is_answered_alike_and_only_a_verified_address_gets_a_code() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    signup_with_email(&app, "bob", "bob@example.org").await;
    assert_eq!(app.signup("cyd").await.status(), StatusCode::CREATED);
    let before = smtp.wait_for(2).await.len();

    let mut answers = Vec::new();
    for login in ["nobody", "nobody@example.org", "bob", "cyd", "ada"] {
        let answer = ask(&app, login).await;
        answers.push((answer.status(), answer.text().await.unwrap()));
    }
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    let mails = smtp.settled().await;
    assert_eq!(mails.len(), before + 1, "one code, to ada alone: {mails:?}");
    assert_eq!(mails[before].to, "ada <ada@example.org>");

    // A guess for an account that does not exist is refused like a wrong code.
    let unknown = finish(&app, "nobody", "12345678").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(unknown).await, "invalid_code");
    // Bob's address is not verified: no code of his can exist, and none is accepted.
    let bob = finish(&app, "bob", &code_in(&mails[before], "ada")).await;
    assert_eq!(bob.status(), StatusCode::UNAUTHORIZED);

    for (login, code, field) in [
        ("ada", "1234567", "code"),
        ("ada", "12345678x", "code"),
        ("ada", "", "code"),
        ("", "12345678", "login"),
        ("a b c", "12345678", "login"),
    ] {
        let refused = finish(&app, login, code).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{login:?} {code:?}"
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let garbage = ask(&app, "not a name!").await;
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_password_lockout_and_an_expired_code_is_dead() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |config| {
        config.throttle.login_failures_per_account = 3;
    })
    .await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let code = mailed_code(&app, &smtp, "ada", "ada", 1).await;
    let wrong = other_than(&code);
    // Named by the address or by the name, the guesses count against one account.
    for login in ["ada@example.org", "ada", "ADA"] {
        let refused = finish(&app, login, &wrong).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{login}");
    }
    let locked = finish(&app, "ada", &code).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(app.login_response("ada", PASSWORD).await).await,
        "throttled",
        "the password waits too"
    );

    // Past its ten minutes (and the lockout), the code is dead.
    app.clock.shift(601);
    let expired = finish(&app, "ada", &code).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(expired).await, "invalid_code");
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn parallel_uses_of_one_code_sign_in_once_and_a_newer_code_ends_with_it() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let older = mailed_code(&app, &smtp, "ada", "ada", 1).await;
    let code = mailed_code(&app, &smtp, "ada", "ada", 2).await;
    let uses = (0..6).map(|_| finish(&app, "ada", &code));
    let statuses: Vec<StatusCode> = futures::future::join_all(uses)
        .await
        .iter()
        .map(Response::status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        5,
        "{statuses:?}"
    );
    // A sign-in with one code ends the others sent before it.
    assert_eq!(
        finish(&app, "ada", &older).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn with_an_app_the_code_is_the_first_step_and_the_sign_in_says_so() {
    let smtp = SmtpServer::start();
    let app = spawn_with_mail(&smtp, |_| {}).await;
    let admin = app.admin("root").await;
    verified_account(&app, &smtp, "ada", "ada@example.org", 0).await;
    let tokens = app.login("ada").await;
    let enrolled = app.enrol(&tokens).await;

    // Turning the app on was mailed to ada as well.
    let already = smtp.settled().await.len();
    let code = mailed_code(&app, &smtp, "ada", "ada", already).await;
    let first: Value = finish(&app, "ada", &code).await.json().await.unwrap();
    assert_eq!(first["mfa_required"], true, "{first}");
    assert!(first.get("access_token").is_none(), "{first}");
    let ticket = first["ticket"].as_str().unwrap();
    let second = app
        .second_step(ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let logins = app.audit_events(&admin.access, "login").await;
    assert_eq!(logins[0]["detail"], "email code, totp", "{logins:?}");
}
