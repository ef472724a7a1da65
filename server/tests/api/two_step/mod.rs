//! Two-step sign-in: setting up an authenticator app, signing in with a code or a
//! recovery code, and every way to get it wrong.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use server::clock::Clock;
use totp_rs::{Builder, Secret};

use crate::helpers::{PASSWORD, TestApp, Tokens, spawn_app_with};

/// The code an authenticator app with `secret` shows at `at`.
pub(crate) fn code_at(secret: &str, at: i64) -> String {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(at as u64)
        .to_string()
}

pub(crate) struct Enrolled {
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Sets up and confirms an app for the holder of `tokens`, then moves the clock on
    /// one step, so that the next code is not the (spent) confirming one.
    pub(crate) async fn enrol(&self, tokens: &Tokens) -> Enrolled {
        let started = self
            .post_bearer("/auth/two-step/totp", &tokens.access)
            .await;
        assert_eq!(started.status(), StatusCode::CREATED);
        assert_eq!(started.headers()["cache-control"], "no-store");
        let setup: Value = started.json().await.unwrap();
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let recovery_codes: Vec<String> = setup["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(recovery_codes.len(), 10);
        assert!(setup["qr_svg"].as_str().unwrap().starts_with("<svg"));
        let confirmed = self
            .post_json_bearer(
                "/auth/two-step/totp/confirm",
                &tokens.access,
                &json!({"code": code_at(&secret, self.now())}),
            )
            .await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let status: Value = confirmed.json().await.unwrap();
        assert_eq!(status, json!({"totp": "on", "recovery_codes_left": 10}));
        self.clock.shift(30);
        Enrolled {
            secret,
            recovery_codes,
        }
    }

    /// A right password on an account with a factor: the ticket.
    pub(crate) async fn step_up(&self, username: &str) -> String {
        let response = self.login_response(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["mfa_required"], true, "{body}");
        assert!(
            body.get("access_token").is_none(),
            "tokens before the second step: {body}"
        );
        assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
        body["ticket"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn second_step(&self, ticket: &str, code: &str) -> Response {
        self.post_json(
            "/auth/login/second-factor",
            &json!({"ticket": ticket, "code": code}),
        )
        .await
    }
}

/// "ada" with a confirmed app on a server that locks an account after three failures:
/// the app, the code it shows now, and a code it does not.
pub(super) async fn ada_with_an_app_locked_after_three_failures() -> (TestApp, String, &'static str)
{
    let app = spawn_app_with(|config| {
        config.throttle.login_failures_per_account = 3;
    })
    .await;
    let tokens = app.signup_and_login("ada").await;
    let enrolled = app.enrol(&tokens).await;
    let right = code_at(&enrolled.secret, app.now());
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    (app, right, wrong)
}

mod setup;
mod sign_in;
