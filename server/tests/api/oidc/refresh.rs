//! Apps' refresh tokens: only with `offline_access`, rotated like Gatehouse's own (reuse
//! ends the session), bound to their client, never taken by Gatehouse's own door; and
//! several instances on one store agreeing on codes and rotations.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use super::{CALLBACK, Provider, oauth_error, provider, within_the_bound};
use crate::helpers::{TestApp, form_encoded};

/// A token request to `app` (any instance) for the confidential client.
async fn token_request(provider: &Provider, app: &TestApp, body: String) -> Response {
    app.client
        .post(app.url("/oauth2/token"))
        .basic_auth(
            &provider.confidential.client_id,
            provider.confidential.client_secret.as_deref(),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn exchange_at(provider: &Provider, app: &TestApp, code: &str) -> Response {
    token_request(
        provider,
        app,
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}",
            form_encoded(CALLBACK)
        ),
    )
    .await
}

async fn refresh_at(provider: &Provider, app: &TestApp, refresh_token: &str) -> Response {
    token_request(
        provider,
        app,
        format!("grant_type=refresh_token&refresh_token={refresh_token}"),
    )
    .await
}

/// Ada's tokens for the confidential client, with `offline_access`.
async fn offline_tokens(provider: &Provider) -> Value {
    let query = provider.query("").replace(
        "scope=openid%20profile%20email",
        "scope=openid%20profile%20offline_access",
    );
    let back = provider.decide(&query, "allow", &provider.ada_cookie).await;
    let code = super::callback_parameters(&back)["code"].clone();
    let response = provider.exchange(&code).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn oidcc_refresh_token_rotates_and_a_replay_ends_the_session() {
    let provider = provider().await;
    let first = offline_tokens(&provider).await;
    let refresh = first["refresh_token"]
        .as_str()
        .expect("offline_access: a refresh token");
    assert!(refresh.starts_with("grt_"));

    let renewed = refresh_at(&provider, &provider.app, refresh).await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let renewed: Value = renewed.json().await.unwrap();
    let next = renewed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, refresh);
    let access = renewed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(renewed["scope"], "openid profile offline_access");
    let info = provider.app.get("/oauth2/userinfo", Some(&access)).await;
    assert_eq!(info.status(), StatusCode::OK);

    // Past the grace, the replaced token is reuse: the session ends, its tokens with it.
    provider.app.clock.shift(10);
    let replay = refresh_at(&provider, &provider.app, refresh).await;
    assert_eq!(oauth_error(replay).await, "invalid_grant");
    let after = refresh_at(&provider, &provider.app, &next).await;
    assert_eq!(oauth_error(after).await, "invalid_grant");
    assert!(
        within_the_bound(async || {
            provider
                .app
                .get("/oauth2/userinfo", Some(&access))
                .await
                .status()
                == StatusCode::UNAUTHORIZED
        })
        .await,
        "the ended session's access token still works"
    );
}

#[tokio::test]
async fn without_offline_access_no_refresh_token_is_given() {
    let provider = provider().await;
    let tokens: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

#[tokio::test]
async fn an_apps_refresh_token_is_refused_by_gatehouses_own_door_and_by_other_clients() {
    let provider = provider().await;
    let tokens = offline_tokens(&provider).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let own = provider
        .app
        .post_json(
            "/auth/refresh",
            &serde_json::json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(own.status(), StatusCode::UNAUTHORIZED);

    let other = super::register(
        &provider.app,
        &provider.admin,
        serde_json::json!({"name": "Other", "redirect_uris": [CALLBACK]}),
    )
    .await;
    let stolen = provider
        .app
        .client
        .post(provider.app.url("/oauth2/token"))
        .basic_auth(&other.client_id, other.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=refresh_token&refresh_token={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(stolen).await, "invalid_grant");
    // A leaked token ends its session: its owner's next refresh fails too.
    let owner = refresh_at(&provider, &provider.app, refresh).await;
    assert_eq!(oauth_error(owner).await, "invalid_grant");
}

#[tokio::test]
async fn on_three_instances_a_code_is_spent_everywhere_and_a_refresh_replay_is_caught_anywhere() {
    let provider = provider().await;
    let second = provider.app.another_instance().await;
    let third = provider.app.another_instance().await;
    let code = provider.code_for("").await;
    let at_second = exchange_at(&provider, &second, &code).await;
    assert_eq!(at_second.status(), StatusCode::OK);
    for app in [&provider.app, &third] {
        assert_eq!(
            oauth_error(exchange_at(&provider, app, &code).await).await,
            "invalid_grant"
        );
    }

    let tokens = offline_tokens(&provider).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let rotated = refresh_at(&provider, &second, refresh).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    provider.app.clock.shift(10);
    let replay = refresh_at(&provider, &third, refresh).await;
    assert_eq!(oauth_error(replay).await, "invalid_grant");
    let successor = refresh_at(
        &provider,
        &provider.app,
        rotated["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        oauth_error(successor).await,
        "invalid_grant",
        "the replay on one instance ended the session on all"
    );
}

#[tokio::test]
async fn revocation_ends_an_apps_session_and_introspection_reports_it() {
    let provider = provider().await;
    let tokens = offline_tokens(&provider).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let endpoint = |path: &str, body: String| {
        provider
            .app
            .client
            .post(provider.app.url(path))
            .basic_auth(
                &provider.confidential.client_id,
                provider.confidential.client_secret.as_deref(),
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let active: Value = endpoint("/oauth2/introspect", format!("token={access}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], provider.confidential.client_id);
    assert_eq!(active["username"], "ada");
    let of_refresh: Value = endpoint("/oauth2/introspect", format!("token={refresh}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(of_refresh["active"], true, "{of_refresh}");
    let garbage: Value = endpoint("/oauth2/introspect", "token=nonsense".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(garbage, serde_json::json!({"active": false}));

    let revoked = endpoint(
        "/oauth2/revoke",
        format!("token={refresh}&token_type_hint=refresh_token"),
    )
    .await
    .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let again = endpoint("/oauth2/revoke", "token=unknown".into())
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the same answer for an unknown token"
    );
    assert_eq!(
        oauth_error(refresh_at(&provider, &provider.app, refresh).await).await,
        "invalid_grant"
    );
    let inactive = within_the_bound(async || {
        let answer: Value = endpoint("/oauth2/introspect", format!("token={access}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["active"] == false
    })
    .await;
    assert!(
        inactive,
        "the revoked session's access token is still active"
    );
    assert_eq!(
        provider
            .app
            .audit_events(&provider.admin, "oidc_token_revoked")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_apps_session_and_the_browsers_and_goes_back() {
    let provider = provider().await;
    let app = &provider.app;
    let client = super::register(
        app,
        &provider.admin,
        serde_json::json!({
            "name": "Logs out",
            "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": ["http://127.0.0.1/signed-out"],
        }),
    )
    .await;
    let query = provider
        .query("&nonce=n1")
        .replace(&provider.confidential.client_id, &client.client_id);
    let back = provider.decide(&query, "allow", &provider.ada_cookie).await;
    let code = super::callback_parameters(&back)["code"].clone();
    let tokens: Value = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}",
            form_encoded(CALLBACK)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let logout = |back: &str| {
        app.client
            .get(app.url(&format!(
                "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=s1",
                form_encoded(back)
            )))
            .header("cookie", &provider.ada_cookie)
            .send()
    };
    let unregistered = logout("https://evil.example/").await.unwrap();
    assert_eq!(unregistered.status(), StatusCode::BAD_REQUEST);
    assert!(super::location(&unregistered).is_empty());

    let done = logout("http://127.0.0.1/signed-out").await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(
        super::location(&done),
        "http://127.0.0.1/signed-out?state=s1"
    );
    assert!(
        crate::helpers::set_cookies(&done)
            .iter()
            .any(|cookie| cookie.starts_with("gatehouse_access=;")),
        "the browser's cookies are cleared"
    );
    let ended = within_the_bound(async || {
        let info = app.get("/oauth2/userinfo", Some(access)).await.status();
        let own = app
            .get(
                "/auth/me",
                Some(provider.ada_cookie.trim_start_matches("gatehouse_access=")),
            )
            .await
            .status();
        info == StatusCode::UNAUTHORIZED && own == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(ended, "the app's session and the browser's both end");

    // Without a hint, nobody is signed out by a link: the sign-out page asks.
    let asked = app.get("/oauth2/logout", None).await;
    assert_eq!(super::location(&asked), "/logout");
    let forged = app
        .get(
            "/oauth2/logout?id_token_hint=eyJhbGciOiJub25lIn0.e30.",
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
}
