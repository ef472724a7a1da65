//! The server-function door: every mistake is a 4xx with the REST error body, never a 500.

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// A same-origin post, as the browser sends one (the CSRF guard refuses others).
async fn post(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: String,
) -> Response {
    app.client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .header("origin", &app.address)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Asserts the REST error body and returns its code.
async fn error_body_code(response: Response, what: &str) -> String {
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_server_function_answers_garbage_with_a_4xx_never_a_500() {
    let app = spawn_app().await;
    let functions: Vec<(&str, Method)> = leptos::server_fn::axum::server_fn_paths().collect();
    assert!(
        functions.iter().any(|(path, _)| *path == "/api/login"),
        "the server functions are not registered: {functions:?}"
    );
    let oversized = format!("username={}", "x".repeat(3 * 1024 * 1024));
    for (path, method) in functions {
        let cases = [
            (
                "garbage",
                "application/x-www-form-urlencoded",
                "%%%=&&&==%zz&page=-1".to_owned(),
            ),
            (
                "a JSON body",
                "application/json",
                r#"{"username": 1, "page": "x"}"#.to_owned(),
            ),
            (
                "a wrong content type",
                "text/plain",
                "\u{0}\u{1}binary".to_owned(),
            ),
            (
                "3 MB",
                "application/x-www-form-urlencoded",
                oversized.clone(),
            ),
        ];
        for (case, content_type, body) in cases {
            let what = format!("{method} {path} with {case}");
            let response = post(&app, method.clone(), path, content_type, body).await;
            let status = response.status();
            // A function without arguments may well succeed on any body; a refusal must
            // be a 4xx with the error body.
            assert!(!status.is_server_error(), "{what}: {status}");
            if status.is_client_error() {
                let code = error_body_code(response, &what).await;
                if case == "3 MB" {
                    assert_eq!(
                        (status, code.as_str()),
                        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
                        "{what}"
                    );
                }
            } else {
                assert_ne!(case, "3 MB", "{what}: {status}");
            }
        }
    }
}

#[tokio::test]
async fn server_function_mistakes_get_the_status_their_code_has() {
    let app = spawn_app().await;
    let form = "application/x-www-form-urlencoded";

    let missing = post(&app, Method::POST, "/api/login", form, "next=%2F".into()).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_body_code(missing, "login").await, "invalid_input");

    let no_cookie = post(&app, Method::POST, "/api/refresh", form, String::new()).await;
    assert_eq!(no_cookie.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_body_code(no_cookie, "refresh").await,
        "invalid_refresh_token"
    );

    let signed_out = post(&app, Method::POST, "/api/sessions", form, String::new()).await;
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);

    let unknown = post(
        &app,
        Method::POST,
        "/api/no-such-function",
        form,
        "a=b".into(),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_body_code(unknown, "unknown").await, "not_found");

    let twice = app
        .client
        .post(app.url("/api/session"))
        .header("origin", &app.address)
        .header("authorization", "Bearer one")
        .header("authorization", "Bearer two")
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_body_code(twice, "two authorization headers").await,
        "bad_request"
    );
}

#[tokio::test]
async fn the_recovery_functions_answer_with_their_codes_and_plain_forms_come_back_to_their_page() {
    let app = spawn_app().await;
    let form = "application/x-www-form-urlencoded";
    let garbled = "token=ml_not-a-real-token&new_password=a+brand+new+passphrase";

    // The WASM client's door: the code's own status.
    let dead_link = post(&app, Method::POST, "/api/reset", form, garbled.into()).await;
    assert_eq!(dead_link.status(), StatusCode::GONE);
    assert_eq!(error_body_code(dead_link, "reset").await, "invalid_link");
    let verify = post(&app, Method::POST, "/api/verify", form, "token=x".into()).await;
    assert_eq!(verify.status(), StatusCode::GONE);
    let not_a_name = post(&app, Method::POST, "/api/forgot", form, "login=a+b".into()).await;
    assert_eq!(not_a_name.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let signed_out = post(
        &app,
        Method::POST,
        "/api/email",
        form,
        "email=&password=x".into(),
    )
    .await;
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);

    // A plain form post (no JavaScript): back to the page it came from, with the code;
    // the link's token stays in the address so the page can be tried again.
    let plain = |path: &'static str, body: &'static str, from: String| {
        app.client
            .post(app.url(path))
            .header("content-type", form)
            .header("accept", "text/html")
            .header("origin", &app.address)
            .header("referer", from)
            .body(body)
            .send()
    };
    let from = app.url("/reset-password?token=ml_not-a-real-token");
    let back = plain("/api/reset", garbled, from).await.unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    assert_eq!(
        back.headers()["location"],
        "/reset-password?token=ml_not-a-real-token&error=invalid_link"
    );
    let asked = plain("/api/forgot", "login=nobody", app.url("/forgot-password"))
        .await
        .unwrap();
    assert!(asked.status().is_redirection(), "{}", asked.status());
    assert_eq!(asked.headers()["location"], "/forgot-password?sent=1");
}
