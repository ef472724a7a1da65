//! The whole code flow as a relying party other people wrote does it: the
//! `openidconnect` crate discovers the provider, builds the authorization request
//! (PKCE, nonce, state), exchanges the code, validates the ID token (signature from the
//! JWKS, `iss`, `aud`, `nonce`, `at_hash`) and reads UserInfo.

use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
        CoreProviderMetadata, CoreUserInfoClaims,
    },
    http,
};
use reqwest::StatusCode;
use serde_json::json;

use super::{CALLBACK, Provider, callback_parameters, provider, register};
use crate::two_step::code_at;

/// The library's HTTP calls, made with reqwest (its own reqwest feature pins another
/// major version).
pub(super) async fn send(
    client: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer.body(body).expect("a response"))
}

async fn run_flow(provider: &Provider, client_id: &str, client_secret: Option<&str>) {
    run_flow_signed(
        provider,
        client_id,
        client_secret,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    )
    .await;
}

/// The flow, the ID token verified as signed with `algorithm` and nothing else.
async fn run_flow_signed(
    provider: &Provider,
    client_id: &str,
    client_secret: Option<&str>,
    algorithm: CoreJwsSigningAlgorithm,
) {
    let ada = Browser {
        cookie: &provider.ada_cookie,
        username: "ada",
    };
    run_flow_as(provider, client_id, client_secret, algorithm, ada).await;
}

/// A signed-in browser: its access cookie, and whose it is.
struct Browser<'a> {
    cookie: &'a str,
    username: &'a str,
}

/// The flow for the user signed in on `browser`: the verified ID token's claims.
async fn run_flow_as(
    provider: &Provider,
    client_id: &str,
    client_secret: Option<&str>,
    algorithm: CoreJwsSigningAlgorithm,
    browser: Browser<'_>,
) -> CoreIdTokenClaims {
    let http_client = |request| send(provider.app.client.clone(), request);
    let issuer = IssuerUrl::new(provider.app.address.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http_client)
        .await
        .expect("discovery and the JWKS");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        client_secret.map(|secret| ClientSecret::new(secret.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The browser: the consent page, then "Allow".
    let query = url.query().unwrap().to_owned();
    let page = provider.visit(&query, Some(browser.cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Sign in to"), "the consent page");
    let back = provider.decide(&query, "allow", browser.cookie).await;
    let answer = callback_parameters(&back);
    assert_eq!(answer["state"], *state.secret());
    assert_eq!(answer["iss"], *issuer.as_str().trim_end_matches('/'));

    let tokens = client
        .exchange_code(AuthorizationCode::new(answer["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![algorithm.clone()]);
    assert_eq!(*id_token.signing_alg().unwrap(), algorithm);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("a valid ID token: signature, iss, aud, exp, nonce");
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert_eq!(
        claims.preferred_username().map(|name| name.as_str()),
        Some(browser.username)
    );
    assert!(claims.auth_time().is_some());

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http_client)
        .await
        .expect("UserInfo");
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(
        userinfo.preferred_username().map(|name| name.as_str()),
        Some(browser.username)
    );
    claims.clone()
}

/// The methods (RFC 8176) and the level as the library reads them.
fn how_signed_in(claims: &CoreIdTokenClaims) -> (Vec<String>, Option<String>) {
    let methods = claims
        .auth_method_refs()
        .map(|methods| methods.iter().map(|method| method.to_string()).collect())
        .unwrap_or_default();
    let level = claims.auth_context_ref().map(|level| level.to_string());
    (methods, level)
}

#[tokio::test]
async fn a_confidential_client_signs_a_user_in_with_the_openidconnect_crate() {
    let provider = provider().await;
    let (id, secret) = (
        provider.confidential.client_id.clone(),
        provider.confidential.client_secret.clone(),
    );
    assert!(secret.is_some());
    run_flow(&provider, &id, secret.as_deref()).await;
}

#[tokio::test]
async fn a_public_client_signs_a_user_in_with_pkce_alone() {
    let provider = provider().await;
    assert!(provider.public.client_secret.is_none());
    let id = provider.public.client_id.clone();
    run_flow(&provider, &id, None).await;
}

#[tokio::test]
async fn a_client_that_registered_es256_or_eddsa_gets_id_tokens_signed_so_and_only_so() {
    let provider = provider().await;
    for (name, algorithm) in [
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let client = register(
            &provider.app,
            &provider.admin,
            json!({
                "name": format!("{name} app"),
                "redirect_uris": [CALLBACK],
                "id_token_signed_response_alg": name,
            }),
        )
        .await;
        run_flow_signed(
            &provider,
            &client.client_id,
            client.client_secret.as_deref(),
            algorithm,
        )
        .await;
    }
    let unknown = provider
        .app
        .post_json_bearer(
            "/auth/admin/clients",
            &provider.admin,
            &json!({
                "name": "None app",
                "redirect_uris": [CALLBACK],
                "id_token_signed_response_alg": "none",
            }),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_id_token_says_how_the_user_signed_in_password_alone_or_with_a_second_step() {
    let provider = provider().await;
    let client = (
        provider.confidential.client_id.clone(),
        provider.confidential.client_secret.clone(),
    );
    let rs256 = || CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    let ada = Browser {
        cookie: &provider.ada_cookie,
        username: "ada",
    };
    let claims = run_flow_as(&provider, &client.0, client.1.as_deref(), rs256(), ada).await;
    assert_eq!(
        how_signed_in(&claims),
        (vec!["pwd".to_owned()], Some("1fa".to_owned()))
    );

    // Grace turns on an authenticator app, then signs in again: once with a code from
    // it, once with a recovery code.
    let app = &provider.app;
    let grace = app.signup_and_login("grace").await;
    let enrolled = app.enrol(&grace).await;
    let with_app = app
        .second_step(
            &app.step_up("grace").await,
            &code_at(&enrolled.secret, app.now()),
        )
        .await;
    let with_recovery_code = app
        .second_step(&app.step_up("grace").await, &enrolled.recovery_codes[0])
        .await;
    // Each through another app, so that each asks for her consent afresh.
    let public = (provider.public.client_id.clone(), None);
    for (signed_in, methods, client) in [
        (with_app, vec!["pwd", "otp", "mfa"], &client),
        (with_recovery_code, vec!["pwd", "mfa"], &public),
    ] {
        assert_eq!(signed_in.status(), StatusCode::OK);
        let tokens: serde_json::Value = signed_in.json().await.unwrap();
        let cookie = format!(
            "gatehouse_access={}",
            tokens["access_token"].as_str().unwrap()
        );
        let grace = Browser {
            cookie: &cookie,
            username: "grace",
        };
        let claims = run_flow_as(&provider, &client.0, client.1.as_deref(), rs256(), grace).await;
        assert_eq!(
            how_signed_in(&claims),
            (
                methods.into_iter().map(str::to_owned).collect(),
                Some("2fa".to_owned())
            )
        );
    }
}
