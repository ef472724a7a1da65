//! The OpenID Foundation's Basic OP conformance plan, as a checklist: each applicable
//! module is a test named after it (`oidcc_…`). The suite itself needs Docker and
//! MongoDB, which this machine lacks; these drive the same requests and check the same
//! answers. Beyond the plan: audiences, races, PKCE downgrades, revocation.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    CALLBACK, callback_parameters, location, oauth_error, provider, register, within_the_bound,
};
use crate::helpers::form_encoded;

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn oidcc_server_discovery_names_this_issuer_and_what_it_supports() {
    let provider = provider().await;
    let response = provider
        .app
        .get("/.well-known/openid-configuration", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    let issuer = provider.app.address.clone();
    assert_eq!(metadata["issuer"], issuer);
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{issuer}/oauth2/authorize")
    );
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    let jwks: Value = provider
        .app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kty"] == "RSA")
        .expect("an RSA key for ID tokens");
    assert_eq!(rsa["alg"], "RS256");
    assert!(rsa["kid"].is_string() && rsa["n"].is_string() && rsa["e"] == "AQAB");
}

#[tokio::test]
async fn oidcc_prompt_none_not_logged_in_answers_login_required_to_the_app() {
    let provider = provider().await;
    let response = provider.visit(&provider.query("&prompt=none"), None).await;
    let answer = callback_parameters(&response);
    assert_eq!(answer["error"], "login_required");
    assert_eq!(answer["state"], "st4te");
    assert_eq!(answer["iss"], provider.app.address);
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in_without_consent_answers_consent_required() {
    let provider = provider().await;
    let response = provider
        .visit(&provider.query("&prompt=none"), Some(&provider.ada_cookie))
        .await;
    assert_eq!(callback_parameters(&response)["error"], "consent_required");
}

#[tokio::test]
async fn a_visitor_not_signed_in_is_sent_to_sign_in_and_then_back_to_the_request() {
    let provider = provider().await;
    let query = provider.query("&nonce=n1");
    let response = provider.visit(&query, None).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let to = location(&response);
    assert!(to.starts_with("/login?next="), "{to}");
    let next: String = url::form_urlencoded::parse(to.trim_start_matches("/login?").as_bytes())
        .find(|(name, _)| name == "next")
        .unwrap()
        .1
        .into_owned();
    assert!(next.starts_with("/oauth2/authorize?"), "{next}");
    assert!(next.contains(&provider.confidential.client_id) && next.contains("nonce=n1"));
}

#[tokio::test]
async fn oidcc_prompt_login_asks_for_a_fresh_sign_in_once() {
    let provider = provider().await;
    provider.app.clock.shift(120);
    let response = provider
        .visit(&provider.query("&prompt=login"), Some(&provider.ada_cookie))
        .await;
    let to = location(&response);
    assert!(to.starts_with("/login?next="), "{to}");
    let next = url::form_urlencoded::parse(to.trim_start_matches("/login?").as_bytes())
        .find(|(name, _)| name == "next")
        .unwrap()
        .1
        .into_owned();
    // After the sign-in it comes back without prompt=login, which would ask forever.
    assert!(
        !next.contains("prompt=login") && next.contains("max_age=60"),
        "{next}"
    );
}

#[tokio::test]
async fn oidcc_max_age_1_sends_an_older_sign_in_to_sign_in_again() {
    let provider = provider().await;
    let fresh = provider
        .visit(&provider.query("&max_age=1"), Some(&provider.ada_cookie))
        .await;
    assert_eq!(
        fresh.status(),
        StatusCode::OK,
        "a sign-in this second is fresh enough"
    );
    provider.app.clock.shift(2);
    let stale = provider
        .visit(&provider.query("&max_age=1"), Some(&provider.ada_cookie))
        .await;
    assert!(location(&stale).starts_with("/login?next="));
    let silent = provider
        .visit(
            &provider.query("&max_age=1&prompt=none"),
            Some(&provider.ada_cookie),
        )
        .await;
    assert_eq!(callback_parameters(&silent)["error"], "login_required");
}

#[tokio::test]
async fn oidcc_ensure_registered_redirect_uri_refuses_without_redirecting() {
    let provider = provider().await;
    for query in [
        provider.query("").replace(
            &form_encoded(CALLBACK),
            &form_encoded("https://evil.example/cb"),
        ),
        provider.query("").replace(
            &form_encoded(CALLBACK),
            &form_encoded("http://127.0.0.1/callback/x"),
        ),
        // oidcc-ensure-redirect-uri-in-authorization-request: none at all.
        provider
            .query("")
            .replace(&format!("&redirect_uri={}", form_encoded(CALLBACK)), ""),
        // An unknown app, and the same parameter twice.
        provider
            .query("")
            .replace(&provider.confidential.client_id, "gc_unknown"),
        format!("{}&client_id=again", provider.query("")),
    ] {
        let response = provider.visit(&query, Some(&provider.ada_cookie)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(location(&response).is_empty(), "no redirect for {query}");
        assert!(response.text().await.unwrap().contains("cannot go on"));
    }
}

#[tokio::test]
async fn oidcc_response_type_missing_and_a_scope_without_openid_go_back_as_errors() {
    let provider = provider().await;
    let cookie = Some(provider.ada_cookie.as_str());
    let missing = provider
        .visit(
            &provider.query("").replace("response_type=code&", ""),
            cookie,
        )
        .await;
    assert_eq!(
        callback_parameters(&missing)["error"],
        "unsupported_response_type"
    );
    let token = provider
        .visit(
            &provider
                .query("")
                .replace("response_type=code", "response_type=token"),
            cookie,
        )
        .await;
    assert_eq!(
        callback_parameters(&token)["error"],
        "unsupported_response_type"
    );
    let no_openid = provider
        .visit(
            &provider
                .query("")
                .replace("scope=openid%20profile%20email", "scope=profile"),
            cookie,
        )
        .await;
    assert_eq!(callback_parameters(&no_openid)["error"], "invalid_scope");
}

#[tokio::test]
async fn deny_on_the_consent_page_answers_access_denied() {
    let provider = provider().await;
    let query = provider.query("");
    let back = provider.decide(&query, "deny", &provider.ada_cookie).await;
    let answer = callback_parameters(&back);
    assert_eq!(answer["error"], "access_denied");
    assert_eq!(answer["state"], "st4te");
}

#[tokio::test]
async fn the_consent_page_is_not_frameable_and_lets_its_form_lead_back_to_the_app() {
    let provider = provider().await;
    let page = provider
        .visit(&provider.query(""), Some(&provider.ada_cookie))
        .await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        policy.contains("form-action 'self' http://127.0.0.1"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in to Wiki?") && html.contains("See your username"));
}

#[tokio::test]
async fn oidcc_codereuse_is_refused_and_revokes_what_the_first_use_got() {
    let provider = provider().await;
    let code = provider.code_for("").await;
    let first = provider.exchange(&code).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tokens: Value = first.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = provider.app.get("/oauth2/userinfo", Some(&access)).await;
    assert_eq!(userinfo.status(), StatusCode::OK);

    provider.app.clock.shift(30);
    let again = provider.exchange(&code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(oauth_error(again).await, "invalid_grant");
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
        "the first use's access token still works"
    );
}

#[tokio::test]
async fn parallel_exchanges_of_one_code_succeed_exactly_once() {
    let provider = provider().await;
    let code = provider.code_for("").await;
    let answers = futures::future::join_all((0..8).map(|_| provider.exchange(&code))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|answer| answer.status()).collect();
    let issued = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((issued, refused), (1, 7), "{statuses:?}");
}

#[tokio::test]
async fn a_code_expires_after_a_minute() {
    let provider = provider().await;
    let code = provider.code_for("").await;
    provider.app.clock.shift(61);
    let late = provider.exchange(&code).await;
    assert_eq!(oauth_error(late).await, "invalid_grant");
}

#[tokio::test]
async fn the_token_endpoint_checks_the_client_the_redirect_uri_and_pkce() {
    let provider = provider().await;
    let token = |client_id: String, secret: Option<String>, body: String| {
        let mut request = provider
            .app
            .client
            .post(provider.app.url("/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(secret) = secret {
            request = request.basic_auth(client_id, Some(secret));
        }
        request.send()
    };
    let body = |code: &str, extra: &str| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}{extra}",
            form_encoded(CALLBACK)
        )
    };
    let id = provider.confidential.client_id.clone();

    let code = provider.code_for("").await;
    let wrong_secret = token(id.clone(), Some("gcs_wrong".into()), body(&code, ""))
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong_secret.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(oauth_error(wrong_secret).await, "invalid_client");

    // client_secret_post works as Basic does; a redirect_uri unlike the request's fails.
    let secret = provider.confidential.client_secret.clone().unwrap();
    let posted = format!("&client_id={id}&client_secret={secret}");
    let other_uri = body(&code, &posted).replace(
        &form_encoded(CALLBACK),
        &form_encoded("http://127.0.0.1/other"),
    );
    let refused = token(id.clone(), None, other_uri).await.unwrap();
    assert_eq!(oauth_error(refused).await, "invalid_grant");

    // A verifier with no challenge in the request is a downgrade: refused.
    let code = provider.code_for("").await;
    let verifier = "a".repeat(43);
    let downgrade = token(
        id.clone(),
        Some(secret.clone()),
        body(&code, &format!("&code_verifier={verifier}")),
    )
    .await
    .unwrap();
    assert_eq!(oauth_error(downgrade).await, "invalid_grant");

    // Another client's code.
    let code = provider.code_for("").await;
    let other = register(
        &provider.app,
        &provider.admin,
        json!({"name": "Other", "redirect_uris": [CALLBACK]}),
    )
    .await;
    let stolen = token(other.client_id, other.client_secret, body(&code, ""))
        .await
        .unwrap();
    assert_eq!(oauth_error(stolen).await, "invalid_grant");

    let unsupported = token(
        id.clone(),
        Some(secret.clone()),
        "grant_type=password&username=ada&password=x".into(),
    )
    .await
    .unwrap();
    assert_eq!(oauth_error(unsupported).await, "unsupported_grant_type");
    let json_body = provider
        .app
        .client
        .post(provider.app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(json_body).await, "invalid_request");
    // Over the body limit: still an OAuth error, in JSON, on every form endpoint.
    for path in [
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/userinfo",
    ] {
        let oversized = provider
            .app
            .client
            .post(provider.app.url(path))
            .basic_auth(&id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={}",
                "a".repeat(20_000)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(oversized.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(oauth_error(oversized).await, "invalid_request", "{path}");
    }
}

#[tokio::test]
async fn a_public_client_must_send_an_s256_challenge() {
    let provider = provider().await;
    let query = provider
        .query("")
        .replace(&provider.confidential.client_id, &provider.public.client_id);
    let cookie = Some(provider.ada_cookie.as_str());
    let without = provider.visit(&query, cookie).await;
    assert_eq!(callback_parameters(&without)["error"], "invalid_request");
    let plain = provider
        .visit(
            &format!(
                "{query}&code_challenge={}&code_challenge_method=plain",
                "a".repeat(43)
            ),
            cookie,
        )
        .await;
    assert_eq!(callback_parameters(&plain)["error"], "invalid_request");
}

/// A code and its tokens for ada with `scope`; the token response.
async fn tokens_with_scope(provider: &super::Provider, scope: &str, cookie: &str) -> Value {
    let query = provider.query("").replace(
        "scope=openid%20profile%20email",
        &format!("scope={}", form_encoded(scope)),
    );
    let back = provider.decide(&query, "allow", cookie).await;
    let code = callback_parameters(&back)["code"].clone();
    let response = provider.exchange(&code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

#[tokio::test]
async fn oidcc_scope_profile_and_oidcc_scope_email_give_their_claims_only() {
    let provider = provider().await;
    let app = &provider.app;
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"username": "grace", "password": crate::helpers::PASSWORD, "email": "grace@example.org"}),
        )
        .await;
    assert!(response.status().is_success());
    let grace = app.login("grace").await;
    let cookie = format!("gatehouse_access={}", grace.access);

    let profile = tokens_with_scope(&provider, "openid profile", &cookie).await;
    let id_token = claims_of(profile["id_token"].as_str().unwrap());
    assert_eq!(id_token["preferred_username"], "grace");
    assert!(id_token.get("email").is_none());
    let info: Value = app
        .get("/oauth2/userinfo", profile["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], "grace");
    assert!(info.get("email").is_none());

    let email = tokens_with_scope(&provider, "openid email", &cookie).await;
    assert_eq!(email["scope"], "openid email");
    let info: Value = app
        .get("/oauth2/userinfo", email["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "grace@example.org");
    assert_eq!(info["email_verified"], false);
    assert!(info.get("preferred_username").is_none());
    assert_eq!(info["sub"], id_token["sub"]);
}

#[tokio::test]
async fn oidcc_ensure_request_without_nonce_succeeds_and_a_nonce_is_echoed() {
    let provider = provider().await;
    let without = provider.exchange(&provider.code_for("").await).await;
    let tokens: Value = without.json().await.unwrap();
    let claims = claims_of(tokens["id_token"].as_str().unwrap());
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["aud"], provider.confidential.client_id);
    assert_eq!(claims["iss"], provider.app.address);
    assert_eq!(claims["amr"], json!(["pwd"]));

    let with = provider
        .exchange(&provider.code_for("&nonce=n-0S6_WzA2Mj").await)
        .await;
    let tokens: Value = with.json().await.unwrap();
    assert_eq!(
        claims_of(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-0S6_WzA2Mj"
    );
}

#[tokio::test]
async fn oidcc_userinfo_get_post_header_and_post_body() {
    let provider = provider().await;
    let tokens: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let app = &provider.app;
    let get = app.get("/oauth2/userinfo", Some(access)).await;
    assert_eq!(get.status(), StatusCode::OK);
    let header = app.post_bearer("/oauth2/userinfo", access).await;
    assert_eq!(header.status(), StatusCode::OK);
    let body = app
        .client
        .post(app.url("/oauth2/userinfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), StatusCode::OK);
    let claims: Value = body.json().await.unwrap();
    assert_eq!(claims["preferred_username"], "ada");

    let none = app.get("/oauth2/userinfo", None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn a_clients_token_is_refused_by_gatehouse_and_gatehouses_by_userinfo() {
    let provider = provider().await;
    let tokens: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    let for_wiki = tokens["access_token"].as_str().unwrap();
    let me = provider.app.get("/auth/me", Some(for_wiki)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let ada = provider.app.login("ada").await;
    let own = provider
        .app
        .get("/oauth2/userinfo", Some(&ada.access))
        .await;
    assert_eq!(own.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(claims_of(&ada.access)["aud"], "gatehouse");
}

#[tokio::test]
async fn a_disabled_user_is_refused_by_userinfo_within_the_bound() {
    let provider = provider().await;
    let tokens: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let ada_id = claims_of(&access)["sub"].as_str().unwrap().to_owned();
    let disabled = provider
        .app
        .patch_user(&provider.admin, &ada_id, json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert!(
        within_the_bound(async || {
            provider
                .app
                .get("/oauth2/userinfo", Some(&access))
                .await
                .status()
                == StatusCode::UNAUTHORIZED
        })
        .await
    );
}

#[tokio::test]
async fn clients_are_registered_listed_and_removed_by_admins_only_and_audited() {
    let provider = provider().await;
    let app = &provider.app;
    let listed: Value = app
        .get("/auth/admin/clients", Some(&provider.admin))
        .await
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|client| client.get("client_secret").is_none())
    );
    let ada = app.login("ada").await;
    let refused = app.get("/auth/admin/clients", Some(&ada.access)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let invalid = app
        .post_json_bearer(
            "/auth/admin/clients",
            &provider.admin,
            &json!({"name": "Bad", "redirect_uris": ["http://wiki.example.org/cb"]}),
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_field = app
        .post_json_bearer(
            "/auth/admin/clients",
            &provider.admin,
            &json!({"name": "Bad", "redirect_uris": [CALLBACK], "secret": "mine"}),
        )
        .await;
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let id = &provider.confidential.client_id;
    let removed = app
        .client
        .delete(app.url(&format!("/auth/admin/clients/{id}")))
        .bearer_auth(&provider.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let page = provider
        .visit(&provider.query(""), Some(&provider.ada_cookie))
        .await;
    assert_eq!(
        page.status(),
        StatusCode::BAD_REQUEST,
        "a removed app is unknown"
    );
    let events = app
        .audit_events(&provider.admin, "oidc_client_registered")
        .await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        app.audit_events(&provider.admin, "oidc_client_removed")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in_succeeds_once_the_user_allowed_the_app() {
    let provider = provider().await;
    provider.code_for("").await;
    let silent = provider
        .visit(&provider.query("&prompt=none"), Some(&provider.ada_cookie))
        .await;
    let answer = callback_parameters(&silent);
    assert!(answer.contains_key("code"), "{answer:?}");
    // Asked for more than was allowed: the page asks again; prompt=consent always asks.
    let more = provider
        .visit(
            &provider.query("").replace(
                "scope=openid%20profile%20email",
                "scope=openid%20profile%20email%20roles",
            ),
            Some(&provider.ada_cookie),
        )
        .await;
    assert_eq!(more.status(), StatusCode::OK);
    let again = provider
        .visit(
            &provider.query("&prompt=consent"),
            Some(&provider.ada_cookie),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_user_lists_the_apps_she_allowed_and_taking_one_back_ends_its_sessions() {
    let provider = provider().await;
    let app = &provider.app;
    let tokens: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    let for_wiki = tokens["access_token"].as_str().unwrap().to_owned();
    let ada = provider
        .ada_cookie
        .trim_start_matches("gatehouse_access=")
        .to_owned();
    let apps: Value = app
        .get("/auth/apps", Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(apps[0]["name"], "Wiki");
    assert_eq!(apps[0]["client_id"], provider.confidential.client_id);
    assert!(apps[0]["allowed"].as_array().unwrap().len() == 3, "{apps}");

    // Her devices page lists the app's session by the app's name.
    let sessions: Value = app
        .get("/auth/sessions", Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        sessions
            .to_string()
            .contains("Wiki (signed in through Gatehouse)")
    );

    let id = &provider.confidential.client_id;
    let forgotten = app
        .client
        .delete(app.url(&format!("/auth/apps/{id}")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(forgotten.status(), StatusCode::NO_CONTENT);
    assert!(
        within_the_bound(async || {
            app.get("/oauth2/userinfo", Some(&for_wiki)).await.status() == StatusCode::UNAUTHORIZED
        })
        .await
    );
    let asked = provider
        .visit(&provider.query(""), Some(&provider.ada_cookie))
        .await;
    assert_eq!(asked.status(), StatusCode::OK, "the consent page again");
    let unknown = app
        .client
        .delete(app.url(&format!("/auth/apps/{id}")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.audit_events(&provider.admin, "oidc_consent_revoked")
            .await
            .len(),
        1
    );
}
