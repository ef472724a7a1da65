//! A server whose MongoDB is down starts anyway: healthy, not ready, and every door that
//! needs the store answers 503 in JSON (a plain form comes back to its page with the
//! code); once the database answers, it creates its
//! indexes and serves.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{PASSWORD, TestApp, error_code, spawn_app_with};

/// A loopback port nothing listens on (it was free a moment ago).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// `url` with its host and port replaced (`mongodb://user:pass@host:port/?options`).
fn with_host(url: &str, host_and_port: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = match rest.split_once('@') {
        Some((credentials, rest)) => (format!("{credentials}@"), rest),
        None => (String::new(), rest),
    };
    let path = rest.find('/').map_or("/", |at| &rest[at..]);
    format!("{scheme}://{credentials}{host_and_port}{path}")
}

async fn app_on_mongodb_at(url: String) -> TestApp {
    spawn_app_with(move |config| {
        config.database_url = Some(url);
        config.database_name = Some(format!("gatehouse_down_{}", uuid::Uuid::now_v7().simple()));
        config.bootstrap_admin = Some(("root".into(), PASSWORD.into()));
    })
    .await
}

async fn assert_not_ready(app: &TestApp) {
    assert_eq!(
        app.get("/healthz", None).await.status(),
        StatusCode::OK,
        "the process itself is healthy"
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    for response in [
        app.signup("ada").await,
        app.login_response("ada", PASSWORD).await,
        app.get("/.well-known/jwks.json", None).await,
        app.get("/auth/dashboard", Some("not.a.token")).await,
    ] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_code(response).await, "store_unavailable");
    }
    // The web app's doors: its server function, a plain form post, the page itself.
    let form = "username=ada&password=correct+horse+battery+staple";
    let login = |accept: &'static str| {
        app.client
            .post(app.url("/api/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", accept)
            .header("origin", &app.address)
            .header("referer", app.url("/login"))
            .body(form)
            .send()
    };
    let from_wasm = login("application/json").await.unwrap();
    assert_eq!(from_wasm.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(from_wasm).await, "store_unavailable");
    let plain = login("text/html").await.unwrap();
    assert!(plain.status().is_redirection(), "{}", plain.status());
    let back_to = plain.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back_to.starts_with("/login") && back_to.contains("error=store_unavailable"),
        "{back_to}"
    );
    assert_eq!(app.get("/login", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_its_database_down_a_server_starts_healthy_but_not_ready_and_answers_503() {
    let port = closed_port().await;
    let app = app_on_mongodb_at(format!("mongodb://127.0.0.1:{port}/?directConnection=true")).await;
    assert_not_ready(&app).await;
}

/// Needs a live server (`MONGODB_URI`): the database comes up behind a port the server was
/// given while nothing listened there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_its_database_answers_the_server_creates_its_indexes_and_serves() {
    let Ok(live) = std::env::var("MONGODB_URI") else {
        return;
    };
    let live_address = live
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@').map_or(Some(rest), |(_, at)| Some(at)))
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let port = closed_port().await;
    let app = app_on_mongodb_at(with_host(&live, &format!("127.0.0.1:{port}"))).await;
    assert_not_ready(&app).await;

    // The database "comes up": a relay to the live server on the port it was given.
    let relay = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = relay.accept().await {
            let live_address = live_address.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&live_address).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let admin = app.login("root").await;
    assert_eq!(
        app.get("/auth/admin/users", Some(&admin.access))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.signup("ada").await.status(), StatusCode::CREATED);
    let twin = app
        .post_json(
            "/auth/signup",
            &json!({"username": "ADA", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        twin.status(),
        StatusCode::CONFLICT,
        "the unique index on usernames exists"
    );
}
