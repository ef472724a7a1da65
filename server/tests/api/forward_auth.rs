//! The forward-auth endpoints asked directly, as a proxy would ask them: who passes,
//! who is sent to sign in, who is refused, what bad input gets, and the rules kept by
//! admins (applied on another instance within the revocation bound).

use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, Tokens, error_code, spawn_app_with};

pub const AUTH_REQUEST: &str = "/auth/forward/auth-request";
pub const REDIRECT: &str = "/auth/forward/redirect";
pub const RULES: &str = "/auth/admin/forward-rules";

/// A server whose sign-in covers `example.test` and its subdomains.
pub async fn gate() -> TestApp {
    spawn_app_with(|config| {
        config.mail.public_url = Some("http://auth.example.test".into());
        config.forward.return_hosts.domain = Some("example.test".into());
    })
    .await
}

pub async fn add_rule(app: &TestApp, admin: &Tokens, rule: Value) -> Value {
    let response = app
        .send_json_bearer(Method::POST, RULES, &admin.access, Some(&rule))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{rule}");
    response.json().await.unwrap()
}

/// The gate, its admin "root", and `wiki.example.test` open to admins only.
async fn gate_with_an_admins_wiki() -> (TestApp, Tokens) {
    let app = gate().await;
    let admin = app.admin("root").await;
    add_rule(
        &app,
        &admin,
        json!({"host": "wiki.example.test", "roles": ["admin"]}),
    )
    .await;
    (app, admin)
}

/// nginx's question about `url`, with `token` as the browser's access cookie.
async fn ask_nginx_way(app: &TestApp, url: &str, token: Option<&str>) -> Response {
    let mut request = app
        .client
        .get(app.url(AUTH_REQUEST))
        .header("x-original-url", url);
    if let Some(token) = token {
        request = request.header("cookie", format!("gatehouse_access={token}"));
    }
    request.send().await.unwrap()
}

/// Caddy's and Traefik's question, with `token` as a Bearer token.
async fn ask_caddy_way(app: &TestApp, host: &str, uri: &str, token: Option<&str>) -> Response {
    let mut request = app
        .client
        .get(app.url(REDIRECT))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-method", "GET");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_sign_in_with_the_page_to_come_back_to() {
    let app = gate().await;

    let nginx = ask_nginx_way(&app, "https://wiki.example.test/page?x=1", None).await;
    assert_eq!(nginx.status(), StatusCode::UNAUTHORIZED);
    let location = url::Url::parse(header(&nginx, "location")).unwrap();
    assert_eq!(
        location.as_str().split('?').next(),
        Some("http://auth.example.test/login")
    );
    let rd: Vec<_> = location.query_pairs().collect();
    assert_eq!(rd.len(), 1);
    assert_eq!(rd[0].0, "rd");
    assert_eq!(rd[0].1, "https://wiki.example.test/page?x=1");
    let caddy = ask_caddy_way(&app, "wiki.example.test", "/page?x=1", None).await;
    assert_eq!(caddy.status(), StatusCode::FOUND);
    assert_eq!(header(&caddy, "location"), header(&nginx, "location"));
    // A token that does not verify is no sign-in either.
    let forged = ask_nginx_way(&app, "https://wiki.example.test/", Some("eyJhbGciOi.x.y")).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rules_let_through_the_users_and_roles_they_name_and_refuse_the_others() {
    let app = gate().await;
    let admin = app.admin("root").await;
    let ada = app.signup_and_login("ada").await;
    let bob = app.signup_and_login("bob").await;
    add_rule(
        &app,
        &admin,
        json!({"host": "*.example.test", "roles": ["admin"]}),
    )
    .await;
    add_rule(
        &app,
        &admin,
        json!({"host": "wiki.example.test", "users": ["Ada"]}),
    )
    .await;
    add_rule(
        &app,
        &admin,
        json!({"host": "wiki.example.test", "path_prefix": "/public", "roles": ["user", "admin"]}),
    )
    .await;

    let ada_on_wiki = ask_nginx_way(&app, "https://wiki.example.test/a", Some(&ada.access)).await;
    assert_eq!(ada_on_wiki.status(), StatusCode::OK);
    assert_eq!(header(&ada_on_wiki, "remote-user"), "ada");
    assert_eq!(header(&ada_on_wiki, "remote-name"), "ada");
    assert_eq!(header(&ada_on_wiki, "remote-groups"), "user");
    assert_eq!(
        header(&ada_on_wiki, "remote-email"),
        "",
        "no verified address"
    );

    let bob_on_wiki = ask_caddy_way(&app, "wiki.example.test", "/a", Some(&bob.access)).await;
    assert_eq!(bob_on_wiki.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(bob_on_wiki).await, "forbidden");
    // The longer prefix decides, on whole segments only.
    let bob_public = ask_caddy_way(&app, "wiki.example.test", "/public/x", Some(&bob.access)).await;
    assert_eq!(bob_public.status(), StatusCode::OK);
    let bob_publicity =
        ask_caddy_way(&app, "wiki.example.test", "/publicity", Some(&bob.access)).await;
    assert_eq!(bob_publicity.status(), StatusCode::FORBIDDEN);
    // A path that reaches /admin through dot segments or escapes is matched as /admin.
    let sneaky = ask_nginx_way(
        &app,
        "https://wiki.example.test/public/../%61dmin",
        Some(&bob.access),
    )
    .await;
    assert_eq!(sneaky.status(), StatusCode::FORBIDDEN);

    // The wildcard covers other hosts: admins only; no rule at all: the default denies.
    let ada_on_grafana =
        ask_nginx_way(&app, "https://grafana.example.test/", Some(&ada.access)).await;
    assert_eq!(ada_on_grafana.status(), StatusCode::FORBIDDEN);
    let root_on_grafana =
        ask_nginx_way(&app, "https://grafana.example.test/", Some(&admin.access)).await;
    assert_eq!(root_on_grafana.status(), StatusCode::OK);
    assert_eq!(header(&root_on_grafana, "remote-groups"), "admin");
    let elsewhere = ask_nginx_way(&app, "https://other.test/", Some(&admin.access)).await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_the_signed_in_default_any_user_passes_where_no_rule_says() {
    let app = spawn_app_with(|config| {
        config.forward.default = server::config::ForwardDefault::SignedIn;
    })
    .await;
    let ada = app.signup_and_login("ada").await;
    let response = ask_nginx_way(&app, "http://anything.test/", Some(&ada.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "remote-user"), "ada");
}

#[tokio::test]
async fn a_sign_out_a_demotion_or_a_disabled_account_is_refused_at_once() {
    let (app, admin) = gate_with_an_admins_wiki().await;
    let other_admin = app.signup_and_login("grace").await;
    let grace_id = app.user_id(&other_admin.access).await;
    app.patch_user(&admin.access, &grace_id, json!({"role": "admin"}))
        .await;
    let url = "https://wiki.example.test/";
    assert_eq!(
        ask_nginx_way(&app, url, Some(&other_admin.access))
            .await
            .status(),
        StatusCode::OK
    );
    app.patch_user(&admin.access, &grace_id, json!({"role": "user"}))
        .await;
    assert_eq!(
        ask_nginx_way(&app, url, Some(&other_admin.access))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    app.patch_user(&admin.access, &grace_id, json!({"role": "admin"}))
        .await;
    assert_eq!(
        ask_nginx_way(&app, url, Some(&other_admin.access))
            .await
            .status(),
        StatusCode::OK
    );
    app.patch_user(&admin.access, &grace_id, json!({"disabled": true}))
        .await;
    assert_eq!(
        ask_nginx_way(&app, url, Some(&other_admin.access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let second = app.login("root").await;
    assert_eq!(
        ask_nginx_way(&app, url, Some(&second.access))
            .await
            .status(),
        StatusCode::OK
    );
    let logout = app.post_bearer("/auth/logout", &second.access).await;
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(
        ask_nginx_way(&app, url, Some(&second.access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_rule_needing_a_second_factor_sends_a_password_only_session_to_sign_in_again() {
    let app = gate().await;
    let admin = app.admin("root").await;
    add_rule(
        &app,
        &admin,
        json!({"host": "vault.example.test", "roles": ["admin"], "two_factor": true}),
    )
    .await;
    let response = ask_nginx_way(&app, "https://vault.example.test/", Some(&admin.access)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&response, "location").ends_with("&second_factor=1"),
        "{}",
        header(&response, "location")
    );
}

#[tokio::test]
async fn bad_forwarded_headers_are_a_clear_refusal_never_a_500() {
    let app = gate().await;
    let ada = app.signup_and_login("ada").await;
    let huge = format!("https://wiki.example.test/{}", "a".repeat(9_000));
    for url in [
        "javascript:alert(1)",
        "/relative/only",
        "https://user:pw@wiki.example.test/",
        "https://wiki.example.test/a%2f..%2fadmin",
        huge.as_str(),
        "",
    ] {
        let response = ask_nginx_way(&app, url, Some(&ada.access)).await;
        // nginx turns anything but 2xx, 401 and 403 into a 500 of its own.
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url:.60}");
        error_code(response).await;
    }
    for (host, uri) in [
        ("wiki.example.test", "no-slash"),
        ("evil.test/x", "/"),
        ("wiki.example.test", "/a b"),
        ("wiki..example.test", "/"),
    ] {
        let response = ask_caddy_way(&app, host, uri, Some(&ada.access)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host} {uri}");
        assert_eq!(error_code(response).await, "bad_request");
    }
    let missing = app.get(REDIRECT, Some(&ada.access)).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let twice = app
        .client
        .get(app.url(REDIRECT))
        .header("x-original-url", "https://wiki.example.test/")
        .header("x-original-url", "https://evil.test/")
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admins_keep_the_rules_and_every_change_is_checked_and_audited() {
    let app = gate().await;
    let admin = app.admin("root").await;
    let ada = app.signup_and_login("ada").await;

    let refused = app
        .send_json_bearer(
            Method::POST,
            RULES,
            &ada.access,
            Some(&json!({"host": "a.test"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    for (body, field) in [
        (json!({"host": "https://wiki.test/"}), "host"),
        (
            json!({"host": "wiki.test", "path_prefix": "no-slash"}),
            "path_prefix",
        ),
        (json!({"host": "wiki.test", "roles": ["root"]}), "roles"),
        (json!({"host": "wiki.test", "users": ["a b"]}), "users"),
    ] {
        let response = app
            .send_json_bearer(Method::POST, RULES, &admin.access, Some(&body))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let unknown_field = app
        .send_json_bearer(
            Method::POST,
            RULES,
            &admin.access,
            Some(&json!({"host": "wiki.test", "allow": "everyone"})),
        )
        .await;
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let rule = add_rule(
        &app,
        &admin,
        json!({"host": "Wiki.Test", "path_prefix": "/docs/"}),
    )
    .await;
    assert_eq!(rule["host"], "wiki.test");
    assert_eq!(rule["path_prefix"], "/docs");
    let again = app
        .send_json_bearer(
            Method::POST,
            RULES,
            &admin.access,
            Some(&json!({"host": "wiki.test", "path_prefix": "/docs"})),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "rule_exists");

    let id = rule["id"].as_str().unwrap();
    let changed = app
        .send_json_bearer(
            Method::PUT,
            &format!("{RULES}/{id}"),
            &admin.access,
            Some(&json!({"host": "wiki.test", "roles": ["admin"], "two_factor": true})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let listed: Value = app
        .send_json_bearer(Method::GET, RULES, &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["path_prefix"], "/");
    assert_eq!(listed[0]["two_factor"], true);

    let removed = app
        .send_json_bearer(
            Method::DELETE,
            &format!("{RULES}/{id}"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = app
        .send_json_bearer(
            Method::DELETE,
            &format!("{RULES}/{id}"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    for kind in [
        "forward_rule_added",
        "forward_rule_changed",
        "forward_rule_removed",
    ] {
        assert_eq!(
            app.audit_events(&admin.access, kind).await.len(),
            1,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn a_rule_changed_on_one_instance_applies_on_another_within_the_bound() {
    let here = gate().await;
    let there = here.another_instance().await;
    let admin = here.admin("root").await;
    let ada = here.signup_and_login("ada").await;
    let rule = add_rule(
        &here,
        &admin,
        json!({"host": "wiki.example.test", "users": ["ada"]}),
    )
    .await;
    let url = "https://wiki.example.test/";
    // Remembered there first, so that only the log can make it forget.
    let deadline = Instant::now() + Duration::from_secs(2);
    while ask_nginx_way(&there, url, Some(&ada.access)).await.status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the new rule never applied there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let id = rule["id"].as_str().unwrap();
    let changed = here
        .send_json_bearer(
            Method::PUT,
            &format!("{RULES}/{id}"),
            &admin.access,
            Some(&json!({"host": "wiki.example.test", "roles": ["admin"]})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let returned = Instant::now();
    assert_eq!(
        ask_nginx_way(&here, url, Some(&ada.access)).await.status(),
        StatusCode::FORBIDDEN,
        "the instance that changed it applies it at once"
    );
    let mut last_allowed = None;
    while returned.elapsed() < Duration::from_millis(1_300) {
        let asked = returned.elapsed();
        if ask_nginx_way(&there, url, Some(&ada.access)).await.status() == StatusCode::OK {
            last_allowed = Some(asked);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        last_allowed.is_none_or(|at| at < Duration::from_secs(1)),
        "still let through {last_allowed:?} after the change"
    );
}

#[tokio::test]
async fn the_sign_in_page_sends_a_signed_in_browser_back_to_an_app_under_the_cookie_domain_only() {
    let app = gate().await;
    let ada = app.signup_and_login("ada").await;
    let cookie = format!("gatehouse_access={}", ada.access);
    let visit = |rd: &'static str| {
        app.client
            .get(app.url(&format!("/login?rd={}", crate::helpers::form_encoded(rd))))
            .header("cookie", cookie.clone())
            .send()
    };
    let back = visit("https://wiki.example.test/page").await.unwrap();
    assert_eq!(back.status(), StatusCode::FOUND);
    assert_eq!(header(&back, "location"), "https://wiki.example.test/page");
    for hostile in [
        "https://evil.test/",
        "https://example.test.evil.test/",
        "javascript:alert(1)//wiki.example.test",
    ] {
        let response = visit(hostile).await.unwrap();
        assert!(
            !header(&response, "location").contains("evil")
                && !header(&response, "location").starts_with("javascript"),
            "{hostile} -> {}",
            header(&response, "location")
        );
    }
    let asked_for_more = app
        .client
        .get(app.url("/login?rd=https%3A%2F%2Fwiki.example.test%2F&second_factor=1"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        asked_for_more.status(),
        StatusCode::OK,
        "no loop back to the app"
    );
    assert!(
        asked_for_more
            .text()
            .await
            .unwrap()
            .contains("second step or a passkey")
    );
}

#[tokio::test]
async fn the_access_cookie_covers_the_parent_domain_when_one_is_configured() {
    let app = gate().await;
    app.signup("ada").await;
    let response = app
        .post_browser_form(
            "/api/login",
            format!(
                "username=ada&password={}",
                crate::helpers::form_encoded(crate::helpers::PASSWORD)
            ),
            None,
        )
        .await;
    let cookies = crate::helpers::set_cookies(&response);
    let access = cookies
        .iter()
        .find(|cookie| {
            cookie.starts_with("gatehouse_access=") && !cookie.starts_with("gatehouse_access=;")
        })
        .expect("an access cookie");
    assert!(access.contains("Domain=example.test"), "{access}");
    let refresh = cookies
        .iter()
        .find(|cookie| cookie.starts_with("gatehouse_refresh="))
        .expect("a refresh cookie");
    assert!(
        !refresh.contains("Domain"),
        "the refresh token stays with Gatehouse: {refresh}"
    );
}

#[tokio::test]
async fn a_rules_file_seeds_the_store_once_and_a_bad_one_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(
        &file,
        "[[rule]]\nhost = \"wiki.example.test\"\nusers = [\"ada\"]\n\n\
         [[rule]]\nhost = \"*.example.test\"\npath_prefix = \"/admin\"\nroles = [\"admin\"]\ntwo_factor = true\n",
    )
    .unwrap();
    let seeded = file.clone();
    let app = spawn_app_with(move |config| {
        config.forward.rules_file = Some(seeded);
    })
    .await;
    let admin = app.admin("root").await;
    let rules: Value = app
        .send_json_bearer(Method::GET, RULES, &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 2, "{rules}");
    assert_eq!(
        app.audit_events(&admin.access, "forward_rule_added")
            .await
            .len(),
        2
    );
    // Started again on the same store: nothing added twice, an admin's change kept.
    let id = rules[0]["id"].as_str().unwrap().to_owned();
    let host = rules[0]["host"].as_str().unwrap().to_owned();
    let changed = app
        .send_json_bearer(
            Method::PUT,
            &format!("{RULES}/{id}"),
            &admin.access,
            Some(
                &json!({"host": host, "path_prefix": rules[0]["path_prefix"], "users": ["grace"]}),
            ),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let app = app.restart().await;
    let admin = app.login("root").await;
    let again: Value = app
        .send_json_bearer(Method::GET, RULES, &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again.as_array().unwrap().len(), 2, "{again}");
    assert_eq!(again[0]["users"], json!(["grace"]));

    std::fs::write(
        &file,
        "[[rule]]\nhost = \"ok.example.test\"\n\n[[rule]]\nhost = \"not a host\"\n",
    )
    .unwrap();
    let mut config = crate::helpers::test_config(&dir);
    config.forward.rules_file = Some(file.clone());
    let refused = server::startup::Application::build(config).await;
    assert!(refused.is_err(), "a bad rules file must stop the start");
}

#[tokio::test]
async fn signing_out_from_an_app_ends_the_session_and_goes_back_only_to_an_app() {
    let (app, admin) = gate_with_an_admins_wiki().await;
    let cookie = format!("gatehouse_access={}", admin.access);
    // Visiting the page signs nobody out: it asks.
    let page = app
        .client
        .get(app.url("/logout?rd=https%3A%2F%2Fwiki.example.test%2F"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Signing out ends this session")
    );
    let url = "https://wiki.example.test/";
    assert_eq!(
        ask_nginx_way(&app, url, Some(&admin.access)).await.status(),
        StatusCode::OK
    );

    let signed_out = app
        .post_browser_form(
            "/api/logout",
            "rd=https%3A%2F%2Fwiki.example.test%2F".into(),
            Some(&cookie),
        )
        .await;
    assert_eq!(signed_out.status(), StatusCode::FOUND);
    let page = header(&signed_out, "location").to_owned();
    assert!(page.starts_with("/logout?rd="), "{page}");
    let back = app.client.get(app.url(&page)).send().await.unwrap();
    let back = back.text().await.unwrap();
    assert!(
        back.contains(r#"href="https://wiki.example.test/""#) && back.contains("Back to the app"),
        "no way back to the app"
    );
    assert_eq!(
        ask_nginx_way(&app, url, Some(&admin.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let other = app.login("root").await;
    let elsewhere = app
        .post_browser_form(
            "/api/logout",
            "rd=https%3A%2F%2Fevil.test%2F".into(),
            Some(&format!("gatehouse_access={}", other.access)),
        )
        .await;
    assert_eq!(header(&elsewhere, "location"), "/login?signed_out=1");
}

/// The admin page's forms (plain posts, as a browser without JavaScript sends them) go
/// through the same checks as REST, and a refused one comes back with what was typed.
#[tokio::test]
async fn the_rules_pages_forms_are_checked_like_rest_and_give_back_what_was_typed() {
    let app = gate().await;
    let admin = app.admin("root").await;
    let ada = app.signup_and_login("ada").await;
    let cookie = |tokens: &Tokens| format!("gatehouse_access={}", tokens.access);
    let save = "/api/admin/forward-rules/save";

    let by_a_user = app
        .post_browser_form(save, "host=wiki.example.test".into(), Some(&cookie(&ada)))
        .await;
    assert_eq!(by_a_user.status(), StatusCode::FOUND);
    assert!(header(&by_a_user, "location").ends_with("error=forbidden"));
    assert_eq!(rule_count(&app, &admin).await, 0);

    let typed = "host=not+a+host&path_prefix=%2Freports&users=ada%2C+bob&role_admin=on";
    let refused = app
        .post_browser_form(save, typed.into(), Some(&cookie(&admin)))
        .await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    assert_eq!(
        header(&refused, "location"),
        "/admin/forward-auth?host=not%20a%20host&path_prefix=%2Freports&users=ada%2C%20bob\
         &role_admin=on&field=host&error=invalid_input"
    );
    assert_eq!(rule_count(&app, &admin).await, 0);

    let pasted = app
        .post_browser_form(
            save,
            format!("host={}", "a".repeat(10_000)),
            Some(&cookie(&admin)),
        )
        .await;
    assert_eq!(
        (pasted.status(), header(&pasted, "location")),
        (
            StatusCode::FOUND,
            "/admin/forward-auth?field=host&error=invalid_input"
        ),
        "{:?}",
        pasted.headers()
    );

    let added = app
        .post_browser_form(
            save,
            typed.replace("not+a+host", "wiki.example.test"),
            Some(&cookie(&admin)),
        )
        .await;
    assert_eq!(header(&added, "location"), "/admin/forward-auth");
    let list = listed_rules(&app, &admin).await;
    assert_eq!(
        (
            &list[0]["users"],
            &list[0]["roles"],
            &list[0]["path_prefix"]
        ),
        (
            &json!(["ada", "bob"]),
            &json!(["admin"]),
            &json!("/reports")
        )
    );
    assert_eq!(
        app.audit_events(&admin.access, "forward_rule_added")
            .await
            .len(),
        1
    );

    let no_such = app
        .post_browser_form(
            save,
            "id=no-such-rule&host=wiki.example.test".into(),
            Some(&cookie(&admin)),
        )
        .await;
    let location = header(&no_such, "location");
    assert!(
        location.ends_with("&edit=no%2Dsuch%2Drule&error=not_found"),
        "{location}"
    );

    let id = list[0]["id"].as_str().unwrap();
    let by_a_user = app
        .post_browser_form(
            "/api/admin/forward-rules/remove",
            format!("id={id}"),
            Some(&cookie(&ada)),
        )
        .await;
    assert!(header(&by_a_user, "location").ends_with("error=forbidden"));
    assert_eq!(rule_count(&app, &admin).await, 1);
    app.post_browser_form(
        "/api/admin/forward-rules/remove",
        format!("id={id}"),
        Some(&cookie(&admin)),
    )
    .await;
    assert_eq!(rule_count(&app, &admin).await, 0);
}

async fn listed_rules(app: &TestApp, admin: &Tokens) -> Value {
    app.get(RULES, Some(&admin.access))
        .await
        .json()
        .await
        .unwrap()
}

async fn rule_count(app: &TestApp, admin: &Tokens) -> usize {
    listed_rules(app, admin).await.as_array().unwrap().len()
}
