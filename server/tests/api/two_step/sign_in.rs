//! Signing in with a code or a recovery code, and every way to get it wrong.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::{ada_with_an_app_locked_after_three_failures, code_at};
use futures::future::join_all;

use crate::helpers::{PASSWORD, error_code, set_cookies, spawn_app, spawn_app_with, tokens_of};

/// Longer than the first lockouts, shorter than a ticket's five minutes.
const STEP_UP_LOCKOUT_WAITED: i64 = 70;

#[tokio::test]
async fn once_an_app_is_confirmed_a_password_alone_gets_a_ticket_and_the_code_gets_tokens() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    // Set up but unconfirmed: the password alone still signs in.
    app.post_bearer("/auth/two-step/totp", &tokens.access).await;
    app.login("ada").await;
    let enrolled = app.enrol(&tokens).await;

    let ticket = app.step_up("ada").await;
    let signed_in = app
        .second_step(&ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(signed_in.headers()["cache-control"], "no-store");
    let fresh = tokens_of(signed_in.json().await.unwrap());
    let me = app.get("/auth/me", Some(&fresh.access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let status: Value = app
        .get("/auth/two-step", Some(&fresh.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], "on");
}

#[tokio::test]
async fn a_code_is_accepted_once_and_a_replay_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let code = code_at(&enrolled.secret, app.now());
    let first = app.second_step(&app.step_up("ada").await, &code).await;
    assert_eq!(first.status(), StatusCode::OK);
    // Seen over the shoulder and typed again within its 30 seconds: refused.
    let replayed = app.second_step(&app.step_up("ada").await, &code).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(replayed).await, "invalid_code");
    // So is the code the app showed one step earlier, though still within the drift.
    let earlier = code_at(&enrolled.secret, app.now() - 30);
    let stale = app.second_step(&app.step_up("ada").await, &earlier).await;
    assert_eq!(error_code(stale).await, "invalid_code");
    app.clock.shift(30);
    let next = app
        .second_step(
            &app.step_up("ada").await,
            &code_at(&enrolled.secret, app.now()),
        )
        .await;
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_ticket_completes_one_sign_in_and_dies_after_five_minutes() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let ticket = app.step_up("ada").await;
    // A wrong code leaves the ticket usable.
    let wrong = app.second_step(&ticket, "000000").await;
    if code_at(&enrolled.secret, app.now()) != "000000" {
        assert_eq!(error_code(wrong).await, "invalid_code");
    }
    let used = app
        .second_step(&ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(used.status(), StatusCode::OK);
    app.clock.shift(30);
    let reused = app
        .second_step(&ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(reused).await, "invalid_step_up");

    let late = app.step_up("ada").await;
    app.clock.shift(301);
    let expired = app
        .second_step(&late, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(error_code(expired).await, "invalid_step_up");
    for garbage in [
        "",
        "su_short",
        "rt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "'; --",
    ] {
        let refused = app.second_step(garbage, "123456").await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{garbage:?}");
        assert_eq!(error_code(refused).await, "invalid_step_up");
    }
}

#[tokio::test]
async fn parallel_completions_of_one_ticket_sign_in_exactly_once() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let ticket = app.step_up("ada").await;
    let code = code_at(&enrolled.secret, app.now());
    let other_ticket = app.step_up("ada").await;
    // Eight tabs with the same ticket and code.
    let attempts = futures::future::join_all((0..8).map(|_| app.second_step(&ticket, &code))).await;
    let statuses: Vec<StatusCode> = attempts.iter().map(Response::status).collect();
    let signed_in = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(signed_in, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    // A recovery code on the used ticket is refused before it is spent.
    let late = app.second_step(&ticket, &enrolled.recovery_codes[1]).await;
    assert_eq!(error_code(late).await, "invalid_step_up");
    let other = app
        .second_step(&other_ticket, &enrolled.recovery_codes[1])
        .await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_of_another_account_is_refused() {
    let app = spawn_app().await;
    let ada = app.signup_and_login("ada").await;
    let bob = app.signup_and_login("bob").await;
    app.enrol(&ada).await;
    let bobs = app.enrol(&bob).await;
    let ticket = app.step_up("ada").await;
    let refused = app
        .second_step(&ticket, &code_at(&bobs.secret, app.now()))
        .await;
    assert_eq!(error_code(refused).await, "invalid_code");
    let bobs_recovery = app.second_step(&ticket, &bobs.recovery_codes[0]).await;
    assert_eq!(error_code(bobs_recovery).await, "invalid_code");
    // Bob's code is still his to use.
    let bobs_ticket = app.step_up("bob").await;
    let his = app.second_step(&bobs_ticket, &bobs.recovery_codes[0]).await;
    assert_eq!(his.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_codes_lock_the_account_as_wrong_passwords_do() {
    let (app, right, wrong) = ada_with_an_app_locked_after_three_failures().await;
    let ticket = app.step_up("ada").await;
    for _ in 0..3 {
        let refused = app.second_step(&ticket, wrong).await;
        assert_eq!(error_code(refused).await, "invalid_code");
    }
    // Locked: the right code now waits, and so does the password.
    let locked = app.second_step(&ticket, &right).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    let password = app.login_response("ada", PASSWORD).await;
    assert_eq!(password.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_burst_of_wrong_codes_at_one_ticket_gets_the_threshold_of_guesses_and_kills_it() {
    let app = spawn_app_with(|config| config.throttle.login_failures_per_account = 5).await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let right = code_at(&enrolled.secret, app.now());
    let wrong: Vec<String> = (0..101)
        .map(|n| format!("{:06}", (n * 7919) % 1_000_000))
        .filter(|code| *code != right)
        .take(100)
        .collect();
    let ticket = app.step_up("ada").await;
    let answers = join_all(wrong.iter().map(|code| app.second_step(&ticket, code))).await;
    let mut codes = Vec::new();
    for answer in answers {
        codes.push(error_code(answer).await);
    }
    let guessed = codes.iter().filter(|code| *code == "invalid_code").count();
    assert_eq!(guessed, 5, "{codes:?}");
    let throttled = codes.iter().filter(|code| *code == "throttled").count();
    assert_eq!(guessed + throttled, wrong.len(), "{codes:?}");
    // Five wrong codes spent the ticket: once the lockout is over, even the right code
    // needs a new password step.
    app.clock.shift(STEP_UP_LOCKOUT_WAITED);
    let spent = app
        .second_step(&ticket, &code_at(&enrolled.secret, app.now()))
        .await;
    assert_eq!(error_code(spent).await, "invalid_step_up");
}

#[tokio::test]
async fn the_password_step_does_not_clear_the_count_of_wrong_codes() {
    let (app, right, wrong) = ada_with_an_app_locked_after_three_failures().await;
    for _ in 0..2 {
        let ticket = app.step_up("ada").await;
        let refused = app.second_step(&ticket, wrong).await;
        assert_eq!(error_code(refused).await, "invalid_code");
    }
    let ticket = app.step_up("ada").await;
    assert_eq!(
        error_code(app.second_step(&ticket, wrong).await).await,
        "invalid_code"
    );
    let locked = app.second_step(&ticket, &right).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let code = enrolled.recovery_codes[3].to_uppercase().replace('-', " ");
    let used = app.second_step(&app.step_up("ada").await, &code).await;
    assert_eq!(used.status(), StatusCode::OK);
    let fresh = tokens_of(used.json().await.unwrap());
    let again = app
        .second_step(&app.step_up("ada").await, &enrolled.recovery_codes[3])
        .await;
    assert_eq!(error_code(again).await, "invalid_code");
    let status: Value = app
        .get("/auth/two-step", Some(&fresh.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recovery_codes_left"], 9);
}

#[tokio::test]
async fn malformed_codes_and_bodies_get_a_4xx() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    app.enrol(&tokens).await;
    let ticket = app.step_up("ada").await;
    for garbage in ["", "12345", "1234567", "abc", "x".repeat(5000).as_str()] {
        let refused = app.second_step(&ticket, garbage).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{garbage:?}"
        );
        assert_eq!(error_code(refused).await, "invalid_input");
    }
    for body in [
        json!({"ticket": ticket}),
        json!({"ticket": 1, "code": []}),
        json!([]),
    ] {
        let refused = app.post_json("/auth/login/second-factor", &body).await;
        assert!(refused.status().is_client_error(), "{body}");
        error_code(refused).await;
    }
    let not_json = app.post_raw("/auth/login/second-factor", "{").await;
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let confirm = app
        .post_json_bearer(
            "/auth/two-step/totp/confirm",
            &tokens.access,
            &json!({"code": "12"}),
        )
        .await;
    assert_eq!(confirm.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_market_login_asks_for_the_second_step_too() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    app.enrol(&tokens).await;
    let response = app
        .post_json(
            "/market/api/login",
            &json!({"username": "ada", "password": PASSWORD}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn in_the_browser_the_ticket_rides_in_a_strict_cookie_to_the_code_page() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let form = |path: &'static str, body: String, cookie: Option<String>| {
        let app = &app;
        async move { app.post_browser_form(path, body, cookie.as_deref()).await }
    };
    let password = form(
        "/api/login",
        format!(
            "username=ada&password={}&next=%2Fsessions",
            PASSWORD.replace(' ', "+")
        ),
        None,
    )
    .await;
    assert!(password.status().is_redirection(), "{}", password.status());
    assert_eq!(
        password.headers()["location"],
        "/login/code?next=%2Fsessions"
    );
    let cookies = set_cookies(&password);
    assert_eq!(cookies.len(), 1, "no session before the code: {cookies:?}");
    let step_up = &cookies[0];
    assert!(step_up.starts_with("gatehouse_step_up=su_"), "{step_up}");
    assert!(
        step_up.contains("HttpOnly") && step_up.contains("SameSite=Strict"),
        "{step_up}"
    );
    let pair = step_up.split(';').next().unwrap().to_owned();

    let wrong = form(
        "/api/second_factor",
        "code=abc&next=%2Fsessions".into(),
        Some(pair.clone()),
    )
    .await;
    assert_eq!(
        wrong.headers()["location"],
        "/login/code?next=%2Fsessions&error=invalid_input"
    );
    let without_ticket = form("/api/second_factor", "code=123456".into(), None).await;
    assert_eq!(
        without_ticket.headers()["location"],
        "/login?error=invalid_step_up"
    );
    let code = code_at(&enrolled.secret, app.now());
    let signed_in = form(
        "/api/second_factor",
        format!("code={code}&next=%2Fsessions"),
        Some(pair),
    )
    .await;
    assert_eq!(signed_in.headers()["location"], "/sessions");
    let set = set_cookies(&signed_in);
    assert!(
        set.iter().any(|c| c.starts_with("gatehouse_step_up=;")),
        "{set:?}"
    );
    assert!(
        set.iter().any(|c| c.starts_with("gatehouse_access=ey")),
        "{set:?}"
    );
    assert!(
        set.iter().any(|c| c.starts_with("gatehouse_refresh=rt_")),
        "{set:?}"
    );
    // The code page itself renders without JavaScript.
    let page = app.get("/login/code", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("name=\"code\""));
}

#[tokio::test]
async fn an_account_disabled_between_the_password_and_the_code_is_refused_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let ada = app.user_id(&tokens.access).await;
    let ticket = app.step_up("ada").await;
    let disabled = app
        .patch_user(&admin.access, &ada, json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);

    let code = code_at(&enrolled.secret, app.now());
    let refused = app.second_step(&ticket, &code).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "account_disabled");
    let audited = app
        .audit_events(&admin.access, "login_refused_disabled")
        .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["username"], "ada");
    assert_eq!(
        app.audit_events(&admin.access, "login").await.len(),
        2,
        "only root's and ada's first sign-ins"
    );
}
