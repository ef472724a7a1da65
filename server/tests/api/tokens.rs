//! Attacks on access tokens, refresh rotation and reuse, revocation and restarts.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

const KNOWN_SECRET: &str = "Q7rk2Zp9Lw4Xv8Ns1Bd6Hf3Jt5Mc0GyE-test-only";

fn claims_of(token: &str) -> Value {
    let body = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn refused(app: &TestApp, token: &str) {
    let response = app.get("/auth/dashboard", Some(token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "token {token}");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(error_code(response).await, "invalid_token");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let mut claims = claims_of(&tokens.access);
    claims["role"] = json!("admin");
    for alg in ["none", "None", "NONE"] {
        let forged = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&claims)
        );
        refused(&app, &forged).await;
    }
}

#[tokio::test]
async fn hs256_tokens_with_guessed_secrets_are_refused() {
    let ed25519 = spawn_app().await;
    let hmac = spawn_app_with(|config| {
        config.signing = server::config::SigningConfig::Hs256 {
            secret: b"a-very-long-real-secret-nobody-would-guess-0987654321".to_vec(),
        }
    })
    .await;
    for app in [&ed25519, &hmac] {
        let tokens = app.signup_and_login("ada").await;
        let claims = claims_of(&tokens.access);
        for guess in ["secret", "", "gatehouse", "your-secret-key", "changeme"] {
            refused(app, &hs256(&claims, guess.as_bytes())).await;
        }
    }
}

#[tokio::test]
async fn hs256_signed_with_the_published_public_key_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let public_key = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut claims = claims_of(&tokens.access);
    claims["role"] = json!("admin");
    refused(&app, &hs256(&claims, &public_key)).await;
    refused(
        &app,
        &hs256(&claims, jwks["keys"][0]["x"].as_str().unwrap().as_bytes()),
    )
    .await;
}

#[tokio::test]
async fn tampered_claims_are_refused() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let parts: Vec<&str> = tokens.access.split('.').collect();
    let mut claims = claims_of(&tokens.access);
    claims["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    refused(&app, &tampered).await;
    let mut longer = claims_of(&tokens.access);
    longer["exp"] = json!(longer["exp"].as_i64().unwrap() + 86_400);
    refused(&app, &format!("{}.{}.{}", parts[0], b64(&longer), parts[2])).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    app.clock.shift(899);
    assert_eq!(
        app.get("/auth/dashboard", Some(&tokens.access))
            .await
            .status(),
        StatusCode::OK
    );
    app.clock.shift(10);
    refused(&app, &tokens.access).await;
}

#[tokio::test]
async fn a_token_that_is_not_valid_yet_is_refused() {
    let app = spawn_app().await;
    app.signup("ada").await;
    app.clock.shift(3_600);
    let from_the_future = app.login("ada").await;
    app.clock.shift(-3_600);
    refused(&app, &from_the_future.access).await;
}

#[tokio::test]
async fn tokens_of_another_issuer_or_type_are_refused_even_when_correctly_signed() {
    let app = spawn_app_with(|config| {
        config.signing = server::config::SigningConfig::Hs256 {
            secret: KNOWN_SECRET.as_bytes().to_vec(),
        }
    })
    .await;
    let tokens = app.signup_and_login("ada").await;
    let genuine = claims_of(&tokens.access);
    // Sanity: a token we sign ourselves with the right claims passes, so the refusals
    // below are about the claims, not about our signing.
    let resigned = hs256(&genuine, KNOWN_SECRET.as_bytes());
    assert_eq!(
        app.get("/auth/dashboard", Some(&resigned)).await.status(),
        StatusCode::OK
    );

    let mut foreign = genuine.clone();
    foreign["iss"] = json!("https://evil.example");
    refused(&app, &hs256(&foreign, KNOWN_SECRET.as_bytes())).await;

    let mut refresh_typed = genuine.clone();
    refresh_typed["typ"] = json!("refresh");
    refused(&app, &hs256(&refresh_typed, KNOWN_SECRET.as_bytes())).await;

    let mut future = genuine.clone();
    future["nbf"] = json!(genuine["iat"].as_i64().unwrap() + 600);
    refused(&app, &hs256(&future, KNOWN_SECRET.as_bytes())).await;

    let mut missing = genuine.clone();
    missing.as_object_mut().unwrap().remove("sid");
    refused(&app, &hs256(&missing, KNOWN_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token_and_vice_versa() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    refused(&app, &tokens.refresh).await;
    let as_refresh = app.refresh(&tokens.access).await;
    assert_eq!(as_refresh.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(as_refresh).await, "invalid_refresh_token");
}

#[tokio::test]
async fn refresh_rotates_the_pair_by_header_or_by_body() {
    let app = spawn_app().await;
    let first = app.signup_and_login("ada").await;

    let by_header = app.refresh(&first.refresh).await;
    assert_eq!(by_header.status(), StatusCode::OK);
    assert_eq!(by_header.headers()["cache-control"], "no-store");
    let second = crate::helpers::tokens_of(by_header.json().await.unwrap());
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        app.get("/auth/dashboard", Some(&second.access))
            .await
            .status(),
        StatusCode::OK
    );

    let by_body = app
        .post_json("/auth/refresh", &json!({"refresh_token": second.refresh}))
        .await;
    assert_eq!(by_body.status(), StatusCode::OK);

    let nothing = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_with_a_reused_token_revokes_the_session() {
    let app = spawn_app().await;
    let first = app.signup_and_login("ada").await;
    let second = crate::helpers::tokens_of(app.refresh(&first.refresh).await.json().await.unwrap());

    // Past the grace that lets racing tabs share a successor, a second use is reuse.
    app.clock
        .shift(app.config.refresh_grace.as_secs() as i64 + 1);
    let reuse = app.refresh(&first.refresh).await;
    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(reuse).await, "refresh_token_reused");

    // Whoever holds the successor is out too: the whole session is gone.
    assert_eq!(
        app.refresh(&second.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    refused(&app, &second.access).await;
}

#[tokio::test]
async fn twenty_parallel_refreshes_of_one_token_all_get_the_same_successor_and_one_session() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let responses = futures::future::join_all((0..20).map(|_| app.refresh(&tokens.refresh))).await;
    let mut successors = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        successors.push(crate::helpers::tokens_of(response.json().await.unwrap()));
    }
    let successor = successors[0].clone();
    assert!(
        successors
            .iter()
            .all(|other| other.refresh == successor.refresh),
        "the racing refreshes were handed different successors"
    );
    // One session, alive, and every racer's access token works.
    for racer in &successors {
        assert_eq!(
            app.get("/auth/me", Some(&racer.access)).await.status(),
            StatusCode::OK
        );
    }
    let sessions: Value = app
        .get("/auth/sessions", Some(&successor.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(1));

    // Once the successor is used, the old token's grace is over: presenting it is reuse.
    let next = app.refresh(&successor.refresh).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next = crate::helpers::tokens_of(next.json().await.unwrap());
    let replay = app.refresh(&tokens.refresh).await;
    assert_eq!(error_code(replay).await, "refresh_token_reused");
    assert_eq!(
        app.get("/auth/me", Some(&next.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_revokes_the_access_token_and_the_session() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let logout = app.post_bearer("/auth/logout", &tokens.access).await;
    assert_eq!(logout.status(), StatusCode::OK);
    refused(&app, &tokens.access).await;
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_token_stays_refused_after_a_restart_on_the_same_store() {
    let app = spawn_app().await;
    let revoked = app.signup_and_login("ada").await;
    let kept = app.login("ada").await;
    app.post_bearer("/auth/logout", &revoked.access).await;

    let app = app.restart().await;
    refused(&app, &revoked.access).await;
    assert_eq!(
        app.refresh(&revoked.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The signing key survived the restart too: the other session still works.
    assert_eq!(
        app.get("/auth/dashboard", Some(&kept.access))
            .await
            .status(),
        StatusCode::OK
    );
}
