//! Gatehouse as an OpenID Connect provider, driven by a relying-party library other
//! people wrote (the `openidconnect` crate) and by the OpenID Foundation's Basic OP
//! checklist (`conformance`, one test per applicable module, named after it).

mod clients;
mod conformance;
mod keys;
mod refresh;
mod relying_party;
mod service;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Where the test's relying party says it lives: never listened on, since the test reads
/// the redirect's `Location` itself (loopback, so any port matches, RFC 8252).
pub const CALLBACK: &str = "http://127.0.0.1/callback";

/// A server with an admin, one confidential client and one public client registered,
/// and a user "ada" signed in (as a browser: her access cookie).
pub struct Provider {
    pub app: TestApp,
    pub admin: String,
    pub confidential: Registered,
    pub public: Registered,
    pub ada_cookie: String,
}

pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
}

pub async fn provider() -> Provider {
    let app = spawn_app().await;
    let admin = app.admin("root").await.access;
    let confidential = register(
        &app,
        &admin,
        json!({
            "name": "Wiki",
            "redirect_uris": [CALLBACK],
        }),
    )
    .await;
    let public = register(
        &app,
        &admin,
        json!({
            "name": "Notes SPA",
            "redirect_uris": [CALLBACK],
            "public": true,
        }),
    )
    .await;
    let ada = app.signup_and_login("ada").await;
    Provider {
        ada_cookie: format!("gatehouse_access={}", ada.access),
        app,
        admin,
        confidential,
        public,
    }
}

pub async fn register(app: &TestApp, admin: &str, body: Value) -> Registered {
    let response = app
        .post_json_bearer("/auth/admin/clients", admin, &body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    Registered {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().map(str::to_owned),
    }
}

impl Provider {
    /// The browser visiting `/oauth2/authorize?{query}` with `cookie` (if any).
    pub async fn visit(&self, query: &str, cookie: Option<&str>) -> Response {
        let mut request = self
            .app
            .client
            .get(self.app.url(&format!("/oauth2/authorize?{query}")));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// The consent form sent as a browser without JavaScript sends it.
    pub async fn decide(&self, query: &str, decision: &str, cookie: &str) -> Response {
        self.app
            .post_browser_form(
                "/api/oauth2/consent",
                format!(
                    "query={}&decision={decision}",
                    crate::helpers::form_encoded(query)
                ),
                Some(cookie),
            )
            .await
    }

    /// A query for the confidential client, with `extra` parameters.
    pub fn query(&self, extra: &str) -> String {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email&state=st4te{extra}",
            self.confidential.client_id,
            crate::helpers::form_encoded(CALLBACK)
        )
    }

    /// Ada allows the confidential client (the consent page the first time; after that
    /// her consent is remembered): the code (the state is checked).
    pub async fn code_for(&self, extra: &str) -> String {
        let query = self.query(extra);
        let page = self.visit(&query, Some(&self.ada_cookie)).await;
        let back = if page.status() == StatusCode::OK {
            self.decide(&query, "allow", &self.ada_cookie).await
        } else {
            page
        };
        let answer = callback_parameters(&back);
        assert_eq!(answer.get("state").map(String::as_str), Some("st4te"));
        answer.get("code").cloned().expect("a code")
    }

    /// The token endpoint, the client authenticated with Basic.
    pub async fn exchange(&self, code: &str) -> Response {
        self.app
            .client
            .post(self.app.url("/oauth2/token"))
            .basic_auth(
                &self.confidential.client_id,
                self.confidential.client_secret.as_deref(),
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}",
                crate::helpers::form_encoded(CALLBACK)
            ))
            .send()
            .await
            .unwrap()
    }
}

/// The parameters of a redirect to `CALLBACK`.
pub fn callback_parameters(response: &Response) -> std::collections::HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND, "a redirect");
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(CALLBACK),
        "back to the app, not {location}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Polls until `check` holds, for at most two seconds (the revocation bound is one).
pub async fn within_the_bound(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..40 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

pub async fn oauth_error(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    body["error"].as_str().unwrap().to_owned()
}
