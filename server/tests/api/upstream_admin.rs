//! Providers added, changed, turned off and removed by admins over REST, with panva's
//! `oidc-provider` as the provider a browser then signs in through: what is stored is
//! offered at once here and within the revocation bound on another instance, the client
//! secret only sealed, and a removed provider's accounts never inherited.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app_with};
use crate::upstream::{
    Browser, CLIENT_ID, CLIENT_SECRET, Upstream, me, sign_in_through, start_upstream,
};

const PROVIDERS: &str = "/auth/admin/providers";

/// Gatehouse with no provider configured, and the upstream ready to send browsers back
/// to provider `corp` here.
async fn gatehouse_and_unconfigured_upstream() -> (TestApp, Upstream) {
    let port = crate::helpers::free_port();
    let upstream = start_upstream(
        &format!("http://127.0.0.1:{port}/login/with/corp/callback"),
        "",
    );
    let app = spawn_app_with(|config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    })
    .await;
    (app, upstream)
}

fn corp(upstream: &Upstream) -> Value {
    json!({
        "id": "corp",
        "name": "Corp SSO",
        "issuer": upstream.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    })
}

async fn offers_corp(app: &TestApp) -> bool {
    let page = app.get("/login", None).await.text().await.unwrap();
    page.contains("href=\"/login/with/corp\"")
}

/// A PUT or PATCH of provider `corp` by `admin`.
async fn on_corp(app: &TestApp, method: Method, admin: &str, body: Value) -> (StatusCode, Value) {
    send(
        app,
        method,
        &format!("{PROVIDERS}/corp"),
        admin,
        Some(&body),
    )
    .await
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    admin: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let response = app.send_json_bearer(method, path, admin, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_added_over_rest_is_offered_signs_in_and_keeps_its_secret_sealed() {
    let (app, upstream) = gatehouse_and_unconfigured_upstream().await;
    let admin = app.admin("root").await.access;
    let ada = app.signup_and_login("ada").await.access;
    assert!(!offers_corp(&app).await);

    // Only admins, only good fields.
    assert_eq!(
        app.post_json(PROVIDERS, &corp(&upstream)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_json_bearer(PROVIDERS, &ada, &corp(&upstream))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    for (field, value) in [
        ("id", json!("Corp SSO")),
        ("kind", json!("saml")),
        ("issuer", json!("http://sso.example.com")),
        ("name", json!("")),
        ("client_id", json!(" ")),
    ] {
        let mut body = corp(&upstream);
        body[field] = value.clone();
        let refused = app.post_json_bearer(PROVIDERS, &admin, &body).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}"
        );
        let refusal: Value = refused.json().await.unwrap();
        assert_eq!(refusal["error"]["field"], field, "{refusal}");
    }
    let mut unknown = corp(&upstream);
    unknown["secret_key"] = json!("x");
    assert!(
        app.post_json_bearer(PROVIDERS, &admin, &unknown)
            .await
            .status()
            .is_client_error()
    );
    assert!(!offers_corp(&app).await, "nothing refused was stored");

    let added = app
        .post_json_bearer(PROVIDERS, &admin, &corp(&upstream))
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let text = added.text().await.unwrap();
    assert!(
        !text.contains(CLIENT_SECRET),
        "the secret is write-only: {text}"
    );
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["has_client_secret"], true);
    assert_eq!(view["source"], "admin");
    assert_eq!(view["kind"], "oidc");
    assert_eq!(view["sign_up"], true);
    assert_eq!(
        view["callback_url"],
        app.url("/login/with/corp/callback").as_str()
    );
    let again = app
        .post_json_bearer(PROVIDERS, &admin, &corp(&upstream))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "provider_exists");

    // Sealed at rest: the store's files never hold the secret.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            stored.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!stored.is_empty());
    assert!(
        !stored
            .windows(CLIENT_SECRET.len())
            .any(|window| window == CLIENT_SECRET.as_bytes()),
        "the client secret is in the store's files in clear"
    );

    // Offered at once, and it signs in: the secret opened is the one the provider knows.
    assert!(offers_corp(&app).await);
    let mut browser = Browser::new(&app, "grace");
    let (url, status, _) = sign_in_through(&app, &mut browser).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert!(url.ends_with("/dashboard"), "{url}");
    let grace = me(&app, &browser).await;
    assert_eq!(grace["username"], "grace");

    // Accounts are linked at it now: its issuer stays; its name and the rest may change,
    // the secret left out is kept.
    let (status, refusal) = on_corp(
        &app,
        Method::PUT,
        &admin,
        json!({"name": "Corp", "issuer": "https://elsewhere.example.com", "client_id": CLIENT_ID}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refusal["error"]["code"], "provider_in_use");
    let (status, changed) = on_corp(
        &app,
        Method::PUT,
        &admin,
        json!({"name": "Corp Directory", "issuer": upstream.issuer, "client_id": CLIENT_ID}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["has_client_secret"], true);
    assert_eq!(changed["linked_accounts"], 1);
    let (status, _) = on_corp(
        &app,
        Method::PUT,
        &admin,
        json!({"id": "other", "name": "Corp", "issuer": upstream.issuer, "client_id": CLIENT_ID}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an id never changes"
    );
    let page = app.get("/login", None).await.text().await.unwrap();
    assert!(
        page.contains("Corp Directory</a>"),
        "the new name on the button"
    );
    let mut again = Browser::new(&app, "grace");
    sign_in_through(&app, &mut again).await;
    assert_eq!(
        me(&app, &again).await["id"],
        grace["id"],
        "the kept secret still works"
    );

    // Off: offered nowhere and signing nobody in; on again: as before.
    let (status, off) = on_corp(&app, Method::PATCH, &admin, json!({"disabled": true})).await;
    assert_eq!((status, &off["disabled"]), (StatusCode::OK, &json!(true)));
    assert!(!offers_corp(&app).await);
    let mut refused = Browser::new(&app, "grace");
    let (_, status, _) = sign_in_through(&app, &mut refused).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    on_corp(&app, Method::PATCH, &admin, json!({"disabled": false})).await;
    assert!(offers_corp(&app).await);

    // Removed with its links: the same id added again starts with no accounts, and the
    // provider's same person makes a new one rather than finding grace's.
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("{PROVIDERS}/corp"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("{PROVIDERS}/corp"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!offers_corp(&app).await);
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(listed, json!([]));
    let added = app
        .post_json_bearer(PROVIDERS, &admin, &corp(&upstream))
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    assert_eq!(added.json::<Value>().await.unwrap()["linked_accounts"], 0);
    let mut after = Browser::new(&app, "grace");
    sign_in_through(&app, &mut after).await;
    let newcomer = me(&app, &after).await;
    assert_ne!(newcomer["id"], grace["id"]);
    assert_eq!(newcomer["username"], "grace-2");

    for kind in [
        "provider_added",
        "provider_changed",
        "provider_disabled",
        "provider_enabled",
        "provider_removed",
    ] {
        let events = app.audit_events(&admin, kind).await;
        assert!(!events.is_empty(), "no {kind} event");
        assert!(events.iter().all(|event| {
            event["detail"]
                .as_str()
                .unwrap_or_default()
                .starts_with("corp")
        }));
    }
    assert_eq!(app.audit_events(&admin, "provider_added").await.len(), 2);
    let removed = app.audit_events(&admin, "provider_removed").await;
    assert_eq!(removed[0]["detail"], "corp: 1 linked accounts unlinked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_offers_and_stops_offering_a_provider_within_the_bound() {
    // Only the buttons matter here: nothing is asked of the provider.
    let here = crate::helpers::spawn_app().await;
    let there = here.another_instance().await;
    let admin = here.admin("root").await.access;
    // Remembered there first, so that only the log can make it change its mind.
    assert!(!offers_corp(&there).await);
    let corp = json!({
        "id": "corp",
        "name": "Corp SSO",
        "issuer": "https://sso.example.com",
        "client_id": CLIENT_ID,
    });
    let added = here.post_json_bearer(PROVIDERS, &admin, &corp).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let bound = here.config.revocation_bound + Duration::from_secs(1);
    let deadline = Instant::now() + bound;
    while !offers_corp(&there).await {
        assert!(Instant::now() < deadline, "never offered there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = on_corp(&here, Method::PATCH, &admin, json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + bound;
    while offers_corp(&there).await {
        assert!(Instant::now() < deadline, "still offered there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_files_providers_are_listed_and_changed_only_in_the_file() {
    let port = crate::helpers::free_port();
    let providers = server::config::parse_providers(
        "[[provider]]\nid = \"corp\"\nname = \"Corp SSO\"\nissuer = \"https://sso.example.com\"\nclient_id = \"gatehouse\"\nclient_secret = \"from-the-file\"\n",
    )
    .unwrap();
    let app = spawn_app_with(|config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.providers = providers;
    })
    .await;
    let admin = app.admin("root").await.access;
    let (status, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["source"], "file");
    assert_eq!(listed[0]["has_client_secret"], true);
    assert!(!listed.to_string().contains("from-the-file"));

    let taken = app
        .post_json_bearer(
            PROVIDERS,
            &admin,
            &json!({"id": "corp", "name": "Other", "issuer": "https://other.example.com", "client_id": "x"}),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(taken).await, "provider_exists");
    for (method, body) in [
        (
            Method::PUT,
            Some(json!({"name": "Other", "issuer": "https://sso.example.com", "client_id": "x"})),
        ),
        (Method::PATCH, Some(json!({"disabled": true}))),
        (Method::DELETE, None),
    ] {
        let (status, _) = send(
            &app,
            method.clone(),
            &format!("{PROVIDERS}/corp"),
            &admin,
            body.as_ref(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
    }
    assert!(offers_corp(&app).await);
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The console's forms (plain posts, as a browser without JavaScript sends them) go
/// through the same checks as REST; a refused one comes back with what was typed, but
/// never the secret.
#[tokio::test]
async fn the_providers_pages_forms_are_checked_like_rest_and_keep_the_secret_out_of_urls() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin("root").await.access;
    let ada = app.signup_and_login("ada").await.access;
    let cookie = |access: &str| format!("gatehouse_access={access}");
    let add = "/api/admin/providers/save";
    let typed = "id=corp&kind=oidc&name=Corp+SSO&issuer=http%3A%2F%2Fsso.example.com\
                 &api_url=&client_id=gatehouse&client_secret=hunter2&sign_up=on";

    let by_a_user = app
        .post_browser_form(add, typed.into(), Some(&cookie(&ada)))
        .await;
    assert_eq!(by_a_user.status(), StatusCode::FOUND);
    assert!(location(&by_a_user).ends_with("error=forbidden"));

    let refused = app
        .post_browser_form(add, typed.into(), Some(&cookie(&admin)))
        .await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = location(&refused);
    assert!(
        back.starts_with("/admin/providers?id=corp&kind=oidc&name=Corp%20SSO&issuer=http%3A%2F%2Fsso%2Eexample%2Ecom")
            && back.contains("field=issuer")
            && back.ends_with("error=invalid_input"),
        "{back}"
    );
    assert!(!back.contains("hunter2"), "the secret in a URL: {back}");
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(listed, json!([]));

    let added = app
        .post_browser_form(
            add,
            typed.replace("http%3A%2F%2Fsso", "https%3A%2F%2Fsso"),
            Some(&cookie(&admin)),
        )
        .await;
    assert_eq!(location(&added), "/admin/providers?added=corp");
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(
        (
            &listed[0]["id"],
            &listed[0]["has_client_secret"],
            &listed[0]["sign_up"],
            &listed[0]["trust_amr"]
        ),
        (&json!("corp"), &json!(true), &json!(true), &json!(false))
    );
    let page = app
        .client
        .get(app.url("/admin/providers"))
        .header("cookie", cookie(&admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-provider=\"corp\""), "the page lists it");
    assert!(page.contains(&app.url("/login/with/corp/callback")));
    assert!(!page.contains("hunter2"));

    // Changed on the same form, filled in with what is stored (never the secret).
    let page = app
        .client
        .get(app.url("/admin/providers?edit=corp"))
        .header("cookie", cookie(&admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Change Corp SSO")
            && page.contains("name=\"editing\" value=\"corp\"")
            && page.contains("value=\"https://sso.example.com\"")
            && page.contains("Save the provider"),
        "the form is filled in to change it"
    );
    assert!(!page.contains("hunter2"));
    let change = |fields: &str| {
        format!(
            "editing=corp&id=corp&kind=oidc&name=Corp+Login&issuer=https%3A%2F%2Fsso.example.com\
             &api_url=&client_id=gatehouse-2&client_secret=&sign_up=on{fields}"
        )
    };
    let renamed = app
        .post_browser_form(add, change(""), Some(&cookie(&admin)))
        .await;
    assert_eq!(location(&renamed), "/admin/providers?changed=corp");
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(
        (
            &listed[0]["name"],
            &listed[0]["client_id"],
            &listed[0]["has_client_secret"]
        ),
        (&json!("Corp Login"), &json!("gatehouse-2"), &json!(true)),
        "an empty secret field keeps the secret"
    );
    let renamed_id = app
        .post_browser_form(
            add,
            change("").replace("&id=corp", "&id=other"),
            Some(&cookie(&admin)),
        )
        .await;
    let back = location(&renamed_id);
    assert!(
        back.contains("field=id")
            && back.contains("edit=corp")
            && back.ends_with("error=invalid_input"),
        "{back}"
    );
    let public = app
        .post_browser_form(
            add,
            change("&remove_client_secret=on"),
            Some(&cookie(&admin)),
        )
        .await;
    assert_eq!(location(&public), "/admin/providers?changed=corp");
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(listed[0]["has_client_secret"], false);
    assert_eq!(app.audit_events(&admin, "provider_changed").await.len(), 2);

    let manage = "/api/admin/providers/manage";
    let off = app
        .post_browser_form(
            manage,
            "id=corp&change=disable".into(),
            Some(&cookie(&admin)),
        )
        .await;
    assert_eq!(off.status(), StatusCode::FOUND);
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(listed[0]["disabled"], true);
    assert!(!offers_corp(&app).await);
    let unknown = app
        .post_browser_form(
            manage,
            "id=corp&change=explode".into(),
            Some(&cookie(&admin)),
        )
        .await;
    assert!(location(&unknown).ends_with("error=invalid_input"));
    let removed = app
        .post_browser_form(
            manage,
            "id=corp&change=remove".into(),
            Some(&cookie(&admin)),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::FOUND);
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(listed, json!([]));
    assert_eq!(app.audit_events(&admin, "provider_removed").await.len(), 1);
}

/// Two admins (or one retrying after a lost answer) adding the same provider at once:
/// exactly one is added, every other answer is 409 `provider_exists`, and one row and one
/// audit event are left.
#[tokio::test]
async fn parallel_additions_of_one_provider_add_it_exactly_once() {
    const ATTEMPTS: usize = 8;
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin("root").await.access;
    let body = json!({
        "id": "corp", "name": "Corp SSO", "issuer": "https://sso.example.com",
        "client_id": "gatehouse", "client_secret": "hunter2",
    });
    let attempts = (0..ATTEMPTS).map(|_| send(&app, Method::POST, PROVIDERS, &admin, Some(&body)));
    let answers = futures::future::join_all(attempts).await;
    let added = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|(status, refusal)| {
            *status == StatusCode::CONFLICT && refusal["error"]["code"] == "provider_exists"
        })
        .count();
    assert_eq!((added, refused), (1, ATTEMPTS - 1), "{answers:?}");
    let (_, listed) = send(&app, Method::GET, PROVIDERS, &admin, None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(app.audit_events(&admin, "provider_added").await.len(), 1);
}
