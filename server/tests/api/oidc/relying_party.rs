//! The whole code flow as a relying party other people wrote does it: the
//! `openidconnect` crate discovers the provider, builds the authorization request
//! (PKCE, nonce, state), exchanges the code, validates the ID token (signature from the
//! JWKS, `iss`, `aud`, `nonce`, `at_hash`) and reads UserInfo.

use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
        CoreUserInfoClaims,
    },
    http,
};
use reqwest::StatusCode;
use serde_json::json;

use super::{CALLBACK, Provider, callback_parameters, provider, register};

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
    let page = provider.visit(&query, Some(&provider.ada_cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Sign in to"), "the consent page");
    let back = provider.decide(&query, "allow", &provider.ada_cookie).await;
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
        Some("ada")
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
        Some("ada")
    );
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
