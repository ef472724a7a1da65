//! Findings of the independent security review, each proven closed: redirects only to
//! this site's paths, and sign-in attempts that reserve their slot before they guess.

use futures::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{
    PASSWORD, TestApp, error_code, form_encoded, set_cookies, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn the_market_web_prefix_redirects_only_to_paths_of_this_site() {
    let app = spawn_app().await;
    for (asked, expected) in [
        // Browsers read `/\host` and `/<tab>/host` as `//host`: another site.
        ("/market/web/%5Cevil.example", "/"),
        ("/market/web/%09/evil.example", "/"),
        ("/market/web//evil.example", "/"),
        ("/market/web/%2F%2Fevil.example", "/"),
        ("/market/web/login", "/login"),
        ("/market/web/admin?search=ada", "/admin?search=ada"),
    ] {
        let response = app.client.get(app.url(asked)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{asked}");
        assert_eq!(response.headers()["location"], expected, "{asked}");
    }
}

#[tokio::test]
async fn a_plain_form_goes_back_only_to_a_path_of_this_site() {
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://");
    for referer in [
        format!("http://{host}//evil.example/reset-password"),
        format!("http://{host}/\\evil.example"),
    ] {
        let response = app
            .client
            .post(app.url("/api/reset"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &app.address)
            .header("accept", "text/html")
            .header("referer", &referer)
            .body(format!(
                "token={}&new_password={}",
                form_encoded("gh_reset_not-a-real-one"),
                form_encoded("a brand new passphrase")
            ))
            .send()
            .await
            .unwrap();
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with('/') && !location.starts_with("//") && !location.contains('\\'),
            "{referer} -> {location}"
        );
        assert!(location.starts_with("/?error="), "{referer} -> {location}");
    }
}

#[tokio::test]
async fn parallel_wrong_passwords_get_exactly_the_threshold_of_guesses() {
    let app = spawn_app_with(|config| {
        config.throttle.login_failures_per_account = 5;
    })
    .await;
    app.signup("ada").await;
    let guesses: Vec<String> = (0..60).map(|n| format!("wrong guess {n}")).collect();
    let answers = join_all(guesses.iter().map(|guess| app.login_response("ada", guess))).await;
    let mut codes = Vec::new();
    for answer in answers {
        codes.push(error_code(answer).await);
    }
    let guessed = codes.iter().filter(|code| *code == "invalid_credentials");
    assert_eq!(guessed.count(), 5, "{codes:?}");
    let throttled = codes.iter().filter(|code| *code == "throttled");
    assert_eq!(throttled.count(), 55, "{codes:?}");
}

#[tokio::test]
async fn after_a_hundred_failures_without_a_success_the_account_waits_for_a_reset() {
    let app = spawn_app_with(|config| {
        config.throttle.login_failures_per_account = 5;
    })
    .await;
    app.signup("ada").await;
    app.fail_sign_ins("ada", 100).await;
    let right = app.login_response("ada", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(right).await, "sign_in_locked");
    // The same answer for a name nobody has, so the cap tells nothing either.
    let mut ghost_wrong = 0;
    while ghost_wrong < 100 {
        let answer = app.login_response("ghost", "not the password").await;
        match error_code(answer).await.as_str() {
            "invalid_credentials" => ghost_wrong += 1,
            "throttled" => app.clock.shift(15 * 60),
            other => panic!("after {ghost_wrong} wrong passwords: {other}"),
        }
    }
    app.clock.shift(15 * 60);
    let ghost = app.login_response("ghost", PASSWORD).await;
    assert_eq!(error_code(ghost).await, "sign_in_locked");

    // The admin console shows why, and an admin lifts it.
    let admin = app.admin("root").await;
    let listed: serde_json::Value = app
        .get("/auth/admin/users?search=ada", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["sign_in_locked"], true, "{listed}");
    let ada_id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let unlocked = app
        .client
        .delete(app.url(&format!("/auth/admin/users/{ada_id}/sign-in-lock")))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert_eq!(
        app.login_response("ada", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.audit_events(&admin.access, "sign_in_unlocked")
            .await
            .len(),
        1
    );
}

/// Signs `username` in through the plain sign-in form, presenting `cookie`; the answer.
async fn browser_sign_in(app: &TestApp, username: &str, cookie: Option<&str>) -> reqwest::Response {
    app.post_browser_form(
        "/api/login",
        format!("username={username}&password={}", form_encoded(PASSWORD)),
        cookie,
    )
    .await
}

fn device_cookie_of(response: &reqwest::Response) -> String {
    set_cookies(response)
        .into_iter()
        .find(|cookie| cookie.starts_with("gatehouse_device="))
        .and_then(|cookie| cookie.split(';').next().map(str::to_owned))
        .expect("a device cookie")
}

#[tokio::test]
async fn a_browser_that_signed_in_before_is_not_locked_out_by_failures_from_elsewhere() {
    let app = spawn_app_with(|config| {
        config.throttle.login_failures_per_account = 5;
        config.throttle.login_failure_cap = 10;
    })
    .await;
    app.signup("ada").await;
    app.signup("bob").await;
    let owners_browser = device_cookie_of(&browser_sign_in(&app, "ada", None).await);
    let someone_elses = device_cookie_of(&browser_sign_in(&app, "bob", None).await);
    assert!(owners_browser.len() > "gatehouse_device=".len() + 20);

    app.fail_sign_ins("ada", 10).await;
    assert_eq!(
        error_code(app.login_response("ada", PASSWORD).await).await,
        "sign_in_locked"
    );
    // Another account's device cookie is no key to this one.
    let stranger = browser_sign_in(&app, "ada", Some(&someone_elses)).await;
    let location = stranger.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=sign_in_locked"), "{location}");
    // The owner's browser signs in.
    let owner = browser_sign_in(&app, "ada", Some(&owners_browser)).await;
    assert_eq!(owner.headers()["location"], "/dashboard");
    assert!(
        set_cookies(&owner)
            .iter()
            .any(|cookie| cookie.starts_with("gatehouse_access=")),
        "the owner got no session"
    );
}

#[tokio::test]
async fn a_name_typed_for_no_account_is_not_kept_in_the_audit_log() {
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    // People type their password into the name field.
    let typed = "MyPassw0rdTypedAsName";
    app.login_response(typed, "anything at all").await;
    let log = app.audit_events(&admin.access, "login_failed").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(!log[0].to_string().contains(typed), "{}", log[0]);
}

#[tokio::test]
async fn signing_keys_are_sealed_at_rest_and_still_sign_after_a_restart() {
    use server::store::{KeyStore, StoredSigningKey, mongo::MongoStore, sqlite::SqliteStore};
    let app = spawn_app().await;
    let before = app.signup_and_login("ada").await;
    let store: Box<dyn KeyStore> = match &app.config.database_url {
        Some(url) => Box::new(
            MongoStore::connect(url, app.config.database_name.as_deref())
                .await
                .unwrap(),
        ),
        None => Box::new(SqliteStore::open(&app.config.data_dir).await.unwrap()),
    };
    for (kid, algorithm) in [
        ("unused", "EdDSA"),
        (
            "refresh-successor-hmac-sha256",
            "refresh-successor-hmac-sha256",
        ),
    ] {
        let stored = store
            .signing_key_or_insert(StoredSigningKey {
                kid: kid.into(),
                algorithm: algorithm.into(),
                generation: 0,
                private_der: b"a candidate that must lose".to_vec(),
                public_raw: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
        assert!(
            stored.private_der.starts_with(b"v1."),
            "{algorithm} is kept in the clear"
        );
    }
    drop(store);
    let app = app.restart().await;
    assert_eq!(
        app.get("/auth/me", Some(&before.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.refresh(&before.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn over_https_cookies_carry_the_host_prefix_and_only_those_are_read() {
    let app = spawn_app_with(|config| config.https = true).await;
    app.signup("ada").await;
    let signed_in = browser_sign_in(&app, "ada", None).await;
    let cookies = set_cookies(&signed_in);
    for name in ["gatehouse_access", "gatehouse_refresh", "gatehouse_device"] {
        let cookie = cookies
            .iter()
            .find(|cookie| cookie.starts_with(&format!("__Host-{name}=")))
            .unwrap_or_else(|| panic!("no __Host-{name} in {cookies:?}"));
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
            "{cookie}"
        );
    }
    let pair = |name: &str| {
        cookies
            .iter()
            .find(|cookie| cookie.starts_with(name))
            .and_then(|cookie| cookie.split(';').next())
            .unwrap()
            .to_owned()
    };
    let access = pair("__Host-gatehouse_access=");
    let page = |cookie: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/sessions"))
                .header("accept", "text/html")
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(page(access.clone()).await.status(), StatusCode::OK);
    // The same token under the name a sibling subdomain could set is not read.
    let tossed = access.replacen("__Host-", "", 1);
    assert!(page(tossed).await.status().is_redirection());
}
