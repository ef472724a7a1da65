//! Health, readiness, metrics, the JWKS, security headers, and JSON errors for unknown
//! routes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness_answer_json() {
    let app = spawn_app().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["store"], "ok");
}

#[tokio::test]
async fn the_jwks_publishes_one_ed25519_key_and_the_tokens_name_it() {
    let app = spawn_app().await;
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert!(
        key.get("d").is_none(),
        "the private key must never be published"
    );

    let tokens = app.signup_and_login("ada").await;
    let header = tokens.access.split('.').next().unwrap();
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], key["kid"]);
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/auth/dashboard"] {
        let response = app.get(path, None).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!headers.contains_key("strict-transport-security"));
    }
    let https = crate::helpers::spawn_app_with(|config| config.https = true).await;
    let response = https.get("/healthz", None).await;
    assert!(response.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn unknown_api_paths_and_methods_answer_in_json() {
    let app = spawn_app().await;
    let missing = app.get("/auth/nothing-here", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, "not_found");
    let wrong_method = app.get("/auth/login", None).await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(wrong_method).await, "method_not_allowed");
}

#[tokio::test]
async fn the_openapi_document_describes_both_ancestors_paths_and_bearer_auth() {
    let app = spawn_app().await;
    let spec: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    for path in [
        "/auth/signup",
        "/auth/login",
        "/auth/refresh",
        "/auth/dashboard",
        "/auth/admin/users/{id}",
        "/market/api/login",
        "/market/api/protected",
        "/.well-known/jwks.json",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let login_body = &spec["components"]["schemas"]["LoginBody"]["properties"];
    assert!(login_body.get("username").is_some() && login_body.get("password").is_some());

    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
}

#[tokio::test]
async fn server_functions_refuse_cross_site_posts_and_answer_with_real_statuses() {
    let app = spawn_app().await;
    let form = "username=nobody&password=wrong-password";
    let post = |headers: Vec<(&'static str, String)>| {
        let mut request = app
            .client
            .post(app.url("/api/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let cross_site = post(vec![("origin", "http://evil.example".into())])
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(cross_site).await, "csrf");

    let fetch_metadata = post(vec![("sec-fetch-site", "cross-site".into())])
        .await
        .unwrap();
    assert_eq!(fetch_metadata.status(), StatusCode::FORBIDDEN);

    let no_origin = post(vec![]).await.unwrap();
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);

    // From this site, the guard lets it through and a bad login is a 401, not a 500.
    let host = app.address.trim_start_matches("http://").to_owned();
    let same_site = post(vec![("origin", app.address.clone()), ("host", host)])
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::UNAUTHORIZED);
    // The same error body as the REST API's.
    assert_eq!(error_code(same_site).await, "invalid_credentials");
}

#[tokio::test]
async fn the_market_web_prefix_leads_to_the_web_app() {
    let app = spawn_app().await;
    for (from, to) in [("/market/web", "/"), ("/market/web/login", "/login")] {
        let response = app.get(from, None).await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{from}");
        assert_eq!(response.headers()["location"], to);
    }
}

fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

#[tokio::test]
async fn metrics_count_what_the_server_did() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/auth/dashboard", Some(&tokens.access))
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.get("/auth/dashboard", Some("not-a-token"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);

    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let metrics = response.text().await.unwrap();
    assert_eq!(metrics.lines().last(), Some("# EOF"));
    assert_eq!(
        sample(
            &metrics,
            "gatehouse_access_token_checks_total{outcome=\"accepted\"}"
        ),
        3
    );
    assert_eq!(
        sample(
            &metrics,
            "gatehouse_access_token_checks_total{outcome=\"refused\"}"
        ),
        1
    );
    assert_eq!(sample(&metrics, "gatehouse_refresh_rotations_total"), 1);
    assert_eq!(
        sample(&metrics, "gatehouse_audit_events_total{kind=\"signup\"}"),
        1
    );
    assert_eq!(
        sample(&metrics, "gatehouse_audit_events_total{kind=\"login\"}"),
        1
    );
    // signup, login, 3 dashboards, refresh; the 401; this request is counted after it.
    assert_eq!(
        sample(&metrics, "gatehouse_http_responses_total{class=\"2xx\"}"),
        6
    );
    assert_eq!(
        sample(&metrics, "gatehouse_http_responses_total{class=\"4xx\"}"),
        1
    );
}

#[tokio::test]
async fn a_metrics_token_keeps_metrics_private() {
    let token = "metrics-scrape-token-0123456789";
    let app = spawn_app_with(|config| config.metrics_token = Some(token.to_owned())).await;
    for presented in [None, Some("metrics-scrape-token-012345678X"), Some("short")] {
        let refused = app.get("/metrics", presented).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(refused).await, "invalid_token");
    }
    // The scheme is case-insensitive (RFC 7235), as on every other route.
    let lower_case = app
        .client
        .get(app.url("/metrics"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower_case.status(), StatusCode::OK);
    let allowed = app.get("/metrics", Some(token)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("gatehouse_uptime_seconds")
    );
}

#[tokio::test]
async fn two_authorization_headers_are_refused_with_400() {
    let app = spawn_app().await;
    let tokens = app.signup_and_login("ada").await;
    let twice = app
        .client
        .get(app.url("/auth/me"))
        .header("authorization", format!("Bearer {}", tokens.access))
        .header("authorization", "Bearer someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(twice).await, "bad_request");
    let once = app.get("/auth/me", Some(&tokens.access)).await;
    assert_eq!(once.status(), StatusCode::OK);
}

/// A signed-in page asked for by something that does not say it accepts HTML (curl, a
/// monitor) gets the same redirect to the sign-in page a browser gets, not an empty 200.
#[tokio::test]
async fn a_signed_in_page_redirects_whatever_the_request_accepts() {
    let app = spawn_app().await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("text/html"),
    ] {
        let mut request = app.client.get(app.url("/sessions"));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND, "accept {accept:?}");
        let location = answer.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login"), "{location}");
        assert!(!answer.headers().contains_key("serverfnredirect"));
    }
}

/// Pages keep rendering while other applications start in the same process: leptos
/// holds resources pending process-wide while it walks an app's routes
/// (leptos-rs/leptos#4773), so a page of a serving instance could hang for good if a
/// second one (another instance, a restart, the parallel servers of these tests)
/// walked them again.
#[tokio::test]
async fn pages_render_while_other_applications_start_in_the_same_process() {
    const STARTS: usize = 25;
    let app = spawn_app().await;
    let starter = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                for _ in 0..STARTS {
                    drop(spawn_app().await);
                }
            })
    });
    let mut rendered = 0;
    while !starter.is_finished() {
        let page = tokio::time::timeout(std::time::Duration::from_secs(15), async {
            let response = app.get("/login", None).await;
            (response.status(), response.text().await.unwrap())
        })
        .await
        .expect("the sign-in page renders while another application starts");
        assert_eq!(page.0, StatusCode::OK);
        assert!(page.1.contains("id=\"login-form\"") || page.1.contains("<form"));
        rendered += 1;
    }
    starter.join().unwrap();
    assert!(
        rendered > STARTS,
        "pages were rendered during the starts: {rendered}"
    );
}
