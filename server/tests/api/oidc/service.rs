//! The `client_credentials` grant: a service signs itself in (no user), through the
//! `openidconnect` crate; its token speaks for no user anywhere, and is refused once
//! revoked.

use openidconnect::core::CoreProviderMetadata;
use openidconnect::{ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse, core::CoreClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Provider, Registered, oauth_error, provider, register, relying_party::send};

async fn service(provider: &Provider) -> Registered {
    register(
        &provider.app,
        &provider.admin,
        json!({ "name": "Billing job", "grant_types": ["client_credentials"] }),
    )
    .await
}

/// A form to `path` with Basic credentials.
async fn as_client(
    provider: &Provider,
    client: &Registered,
    path: &str,
    body: String,
) -> reqwest::Response {
    provider
        .app
        .client
        .post(provider.app.url(path))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn introspect(provider: &Provider, client: &Registered, token: &str) -> Value {
    let response = as_client(
        provider,
        client,
        "/oauth2/introspect",
        format!("token={token}"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_service_gets_a_token_of_its_own_with_the_openidconnect_crate_and_loses_it_when_revoked()
{
    let provider = provider().await;
    let billing = service(&provider).await;
    let http_client = |request| send(provider.app.client.clone(), request);
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(provider.app.address.clone()).unwrap(),
        &http_client,
    )
    .await
    .expect("discovery");
    assert!(
        metadata
            .grant_types_supported()
            .unwrap()
            .iter()
            .any(|grant| grant.as_ref() == "client_credentials")
    );
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(billing.client_id.clone()),
        billing.client_secret.clone().map(ClientSecret::new),
    );
    let tokens = client
        .exchange_client_credentials()
        .unwrap()
        .request_async(&http_client)
        .await
        .expect("a service token");
    assert!(
        tokens.refresh_token().is_none(),
        "no refresh token for a service"
    );
    let token = tokens.access_token().secret().clone();

    let facts = introspect(&provider, &billing, &token).await;
    assert_eq!(facts["active"], true, "{facts}");
    assert_eq!(facts["client_id"], billing.client_id);
    assert_eq!(facts["sub"], billing.client_id);

    // It speaks for no user: not at UserInfo, not at Gatehouse's own API.
    let userinfo = provider.app.get("/oauth2/userinfo", Some(&token)).await;
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    let me = provider.app.get("/auth/me", Some(&token)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    // Another client may not ask about it.
    let wiki = Registered {
        client_id: provider.confidential.client_id.clone(),
        client_secret: provider.confidential.client_secret.clone(),
    };
    assert_eq!(introspect(&provider, &wiki, &token).await["active"], false);

    let revoked = as_client(
        &provider,
        &billing,
        "/oauth2/revoke",
        format!("token={token}"),
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        introspect(&provider, &billing, &token).await["active"],
        false
    );
}

#[tokio::test]
async fn the_client_credentials_grant_is_only_for_a_confidential_client_registered_for_it() {
    let provider = provider().await;
    // The app that signs users in was not registered for it.
    let wiki = Registered {
        client_id: provider.confidential.client_id.clone(),
        client_secret: provider.confidential.client_secret.clone(),
    };
    let refused = as_client(
        &provider,
        &wiki,
        "/oauth2/token",
        "grant_type=client_credentials".into(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(oauth_error(refused).await, "unauthorized_client");

    // A public client has nothing to prove it is who it says.
    let public = provider
        .app
        .client
        .post(provider.app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}",
            provider.public.client_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::BAD_REQUEST);
    assert_eq!(oauth_error(public).await, "unauthorized_client");
    let registration = provider
        .app
        .post_json_bearer(
            "/auth/admin/clients",
            &provider.admin,
            &json!({ "name": "Cron", "public": true, "grant_types": ["client_credentials"] }),
        )
        .await;
    assert_eq!(registration.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refusal: Value = registration.json().await.unwrap();
    assert_eq!(refusal["error"]["field"], "grant_types", "{refusal}");

    // The right client with a wrong secret.
    let billing = service(&provider).await;
    let impostor = Registered {
        client_id: billing.client_id.clone(),
        client_secret: Some("gcs_not-the-secret".into()),
    };
    let refused = as_client(
        &provider,
        &impostor,
        "/oauth2/token",
        "grant_type=client_credentials".into(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(oauth_error(refused).await, "invalid_client");
}
