//! Admins change a registered app: its registration replaced, its secret rotated (the
//! old one refused at once), the app disabled (its users' sessions through it end on
//! every instance within the bound) and enabled again. Every change audited.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{CALLBACK, oauth_error, provider, within_the_bound};
use crate::helpers::form_encoded;

#[tokio::test]
async fn an_admin_replaces_a_registration_but_not_whether_the_client_is_public() {
    let provider = provider().await;
    let app = &provider.app;
    let id = provider.confidential.client_id.clone();
    let path = format!("/auth/admin/clients/{id}");
    let changed = app
        .send_json_bearer(
            Method::PUT,
            &path,
            &provider.admin,
            Some(&json!({
                "name": "Team wiki",
                "redirect_uris": [CALLBACK, "https://wiki.example.org/cb"],
                "pre_consented": true,
            })),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let view: Value = changed.json().await.unwrap();
    assert_eq!(view["name"], "Team wiki");
    assert_eq!(view["client_id"], id.as_str());
    assert_eq!(view["pre_consented"], true);
    assert!(view.get("client_secret").is_none());
    // Pre-consented now: straight back to the app, no consent page; the old secret
    // still works (a registration change is not a rotation).
    let code = provider.code_for("").await;
    assert_eq!(provider.exchange(&code).await.status(), StatusCode::OK);

    let to_public = app
        .send_json_bearer(
            Method::PUT,
            &path,
            &provider.admin,
            Some(&json!({ "name": "Wiki", "redirect_uris": [CALLBACK], "public": true })),
        )
        .await;
    assert_eq!(to_public.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let invalid = app
        .send_json_bearer(
            Method::PUT,
            &path,
            &provider.admin,
            Some(&json!({ "name": "Wiki", "redirect_uris": ["http://wiki.example.org/"] })),
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app
        .send_json_bearer(
            Method::PUT,
            "/auth/admin/clients/gc_nobody",
            &provider.admin,
            Some(&json!({ "name": "Wiki", "redirect_uris": [CALLBACK] })),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let ada = app.login("ada").await;
    let not_admin = app
        .send_json_bearer(
            Method::PUT,
            &path,
            &ada.access,
            Some(&json!({ "name": "Mine", "redirect_uris": [CALLBACK] })),
        )
        .await;
    assert_eq!(not_admin.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.audit_events(&provider.admin, "oidc_client_changed")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_rotated_secret_works_at_once_and_the_old_one_never_again() {
    let provider = provider().await;
    let app = &provider.app;
    let id = &provider.confidential.client_id;
    let old_secret = provider.confidential.client_secret.clone().unwrap();
    let rotated = app
        .send_json_bearer(
            Method::POST,
            &format!("/auth/admin/clients/{id}/secret"),
            &provider.admin,
            None,
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);

    let exchange_with = async |secret: &str| {
        let code = provider.code_for("").await;
        app.client
            .post(app.url("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}",
                form_encoded(CALLBACK)
            ))
            .send()
            .await
            .unwrap()
    };
    let old = exchange_with(&old_secret).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(oauth_error(old).await, "invalid_client");
    assert_eq!(exchange_with(&new_secret).await.status(), StatusCode::OK);

    let public = &provider.public.client_id;
    let no_secret = app
        .send_json_bearer(
            Method::POST,
            &format!("/auth/admin/clients/{public}/secret"),
            &provider.admin,
            None,
        )
        .await;
    assert_eq!(no_secret.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.audit_events(&provider.admin, "oidc_client_secret_rotated")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_disabled_client_loses_its_sessions_on_every_instance_and_may_start_again() {
    let provider = provider().await;
    let app = &provider.app;
    let other = app.another_instance().await;
    let tokens: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    // Answered (and so remembered) by the other instance before the change.
    assert_eq!(
        other.get("/oauth2/userinfo", Some(&access)).await.status(),
        StatusCode::OK
    );

    let id = &provider.confidential.client_id;
    let path = format!("/auth/admin/clients/{id}");
    let disabled = app
        .send_json_bearer(
            Method::PATCH,
            &path,
            &provider.admin,
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(disabled.json::<Value>().await.unwrap()["disabled"], true);
    assert!(
        within_the_bound(async || {
            other.get("/oauth2/userinfo", Some(&access)).await.status() == StatusCode::UNAUTHORIZED
        })
        .await,
        "the app's token is refused on the other instance too"
    );
    let page = provider
        .visit(&provider.query(""), Some(&provider.ada_cookie))
        .await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST, "no sign-in for it");
    // Ada's own session is not the app's: it goes on.
    assert_eq!(
        app.get("/auth/me", Some(&app.login("ada").await.access))
            .await
            .status(),
        StatusCode::OK
    );

    let garbage = app
        .send_json_bearer(
            Method::PATCH,
            &path,
            &provider.admin,
            Some(&json!({"disabled": "yes"})),
        )
        .await;
    assert!(garbage.status().is_client_error());
    let enabled = app
        .send_json_bearer(
            Method::PATCH,
            &path,
            &provider.admin,
            Some(&json!({"disabled": false})),
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    let code = provider.code_for("").await;
    assert_eq!(provider.exchange(&code).await.status(), StatusCode::OK);
    assert_eq!(
        app.audit_events(&provider.admin, "oidc_client_disabled")
            .await
            .len(),
        1
    );
}
