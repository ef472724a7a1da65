//! How answers travel: pages and JSON compressed for clients that accept it, token
//! answers never compressed (BREACH) and never stored, nothing private cacheable.
//! The build's own files (precompressed, fingerprinted, immutable) are checked by the
//! browser tests against the release build, where those files exist.

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, spawn_app},
    processes,
};

fn header_of(response: &Response, name: header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

fn unbrotli(bytes: &[u8]) -> String {
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut plain).unwrap();
    String::from_utf8(plain).unwrap()
}

#[tokio::test]
async fn pages_are_compressed_as_the_client_accepts_and_never_stored() {
    let app = spawn_app().await;
    let page = |encoding: Option<&'static str>| {
        let mut request = app.client.get(app.url("/login"));
        if let Some(encoding) = encoding {
            request = request.header(header::ACCEPT_ENCODING, encoding);
        }
        request.send()
    };

    let brotli = page(Some("gzip, deflate, br")).await.unwrap();
    assert_eq!(brotli.status(), StatusCode::OK);
    assert_eq!(
        header_of(&brotli, header::CONTENT_ENCODING).as_deref(),
        Some("br")
    );
    assert_eq!(
        header_of(&brotli, header::CACHE_CONTROL).as_deref(),
        Some("no-store")
    );
    assert!(
        header_of(&brotli, header::VARY)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
    let compressed = brotli.bytes().await.unwrap();
    let html = unbrotli(&compressed);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.80}");
    assert!(html.contains("Sign in"));
    assert!(
        compressed.len() * 2 < html.len(),
        "{} compressed bytes for {} bytes of HTML",
        compressed.len(),
        html.len()
    );

    let gzip = page(Some("gzip")).await.unwrap();
    assert_eq!(
        header_of(&gzip, header::CONTENT_ENCODING).as_deref(),
        Some("gzip")
    );
    assert_eq!(&gzip.bytes().await.unwrap()[..2], [0x1f, 0x8b]);

    let plain = page(None).await.unwrap();
    assert_eq!(header_of(&plain, header::CONTENT_ENCODING), None);
    assert_eq!(
        header_of(&plain, header::CACHE_CONTROL).as_deref(),
        Some("no-store")
    );
    assert!(plain.text().await.unwrap().starts_with("<!DOCTYPE html>"));
}

#[tokio::test]
async fn json_answers_are_compressed_and_not_stored() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url(server::api::OPENAPI_PATH))
        .header(header::ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(&response, header::CONTENT_ENCODING).as_deref(),
        Some("br")
    );
    assert_eq!(
        header_of(&response, header::CACHE_CONTROL).as_deref(),
        Some("no-store")
    );
    let document: Value =
        serde_json::from_str(&unbrotli(&response.bytes().await.unwrap())).unwrap();
    assert!(document["paths"]["/auth/login"].is_object());
}

#[tokio::test]
async fn answers_that_carry_tokens_are_sent_uncompressed_and_never_stored() {
    let app = spawn_app().await;
    assert_eq!(app.signup("ada").await.status(), StatusCode::CREATED);
    let login = app
        .client
        .post(app.url("/auth/login"))
        .header(header::ACCEPT_ENCODING, "br, gzip")
        .json(&json!({ "username": "ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(header_of(&login, header::CONTENT_ENCODING), None);
    assert_eq!(
        header_of(&login, header::CACHE_CONTROL).as_deref(),
        Some("no-store")
    );
    let tokens: Value = login.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let refreshed = app
        .client
        .post(app.url("/auth/refresh"))
        .header(header::ACCEPT_ENCODING, "br, gzip")
        .bearer_auth(refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(header_of(&refreshed, header::CONTENT_ENCODING), None);
    assert_eq!(
        header_of(&refreshed, header::CACHE_CONTROL).as_deref(),
        Some("no-store")
    );
    let body: Value = refreshed.json().await.unwrap();
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|token| token.len() > 100)
    );
}

#[tokio::test]
async fn a_response_with_its_own_cache_policy_keeps_it() {
    let app = spawn_app().await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status(), StatusCode::OK);
    assert_eq!(
        header_of(&jwks, header::CACHE_CONTROL).as_deref(),
        Some("public, max-age=300")
    );
}

/// An operator copies the binary with its `site/` beside it and runs it from elsewhere:
/// the files are found beside the binary, not under the working directory.
#[tokio::test]
async fn a_copied_binary_finds_the_site_beside_it_from_any_working_directory() {
    let scratch = tempfile::tempdir().unwrap();
    let deployed = scratch.path().join("opt/gatehouse");
    std::fs::create_dir_all(deployed.join("site")).unwrap();
    let binary = deployed.join("gatehouse");
    std::fs::copy(env!("CARGO_BIN_EXE_gatehouse"), &binary).unwrap();
    let icon = "<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- the deployed one --></svg>";
    std::fs::write(deployed.join("site/favicon.svg"), icon).unwrap();
    let elsewhere = scratch.path().join("home");
    std::fs::create_dir_all(elsewhere.join("target/site")).unwrap();
    std::fs::write(elsewhere.join("target/site/favicon.svg"), "not this one").unwrap();
    let server = processes::start_binary(
        &binary,
        Some(&elsewhere),
        &[(
            "GATEHOUSE_DATA_DIR",
            scratch.path().join("data").display().to_string(),
        )],
    );
    let answer = reqwest::get(server.url("/favicon.svg")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.text().await.unwrap(), icon);
}
