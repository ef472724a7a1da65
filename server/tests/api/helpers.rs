//! `spawn_app()`: the real server on a random port with a temporary embedded store, a
//! clock the test can move, and typed helpers for the common calls.

use std::{sync::Arc, time::Duration};

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use server::{
    clock::ShiftedClock,
    config::{Config, ThrottleConfig},
    startup::Application,
};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ShiftedClock>,
    pub config: Config,
    // Kept alive for as long as the app: dropping it deletes the store.
    pub data_dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    restarting: bool,
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// Limits high enough that only the throttling tests meet them.
pub fn test_config(data_dir: &TempDir) -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = data_dir.path().to_path_buf();
    // With MONGODB_URI set, every test runs on MongoDB, in a database of its own.
    if let Ok(url) = std::env::var("MONGODB_URI") {
        config.database_url = Some(url);
        config.database_name = Some(format!("gatehouse_api_{}", uuid::Uuid::now_v7().simple()));
    }
    config.issuer = "gatehouse-test".into();
    config.throttle = ThrottleConfig {
        login_failures_per_account: 1_000,
        login_failures_per_ip: 1_000,
        signups_per_ip: 1_000,
        refreshes_per_ip: 1_000,
        ..ThrottleConfig::default()
    };
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `TEST_LOG=1` shows the servers' logs (filtered by `RUST_LOG`, default `debug`);
/// without it tests print only their own failures.
fn init_test_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            server::telemetry::init_with_default_filter(false, "debug");
        }
    });
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    init_test_logs();
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(&data_dir);
    customize(&mut config);
    start(config, data_dir, Arc::new(ShiftedClock::default())).await
}

async fn start(config: Config, data_dir: Arc<TempDir>, clock: Arc<ShiftedClock>) -> TestApp {
    let application = Application::build_with_clock(config.clone(), clock.clone())
        .await
        .expect("the application starts");
    let address = format!("http://{}", application.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
    });
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("gatehouse-api-tests")
            // A server that stops answering fails the test that asked, naming the request,
            // instead of holding the whole suite until CI's time limit.
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        clock,
        config,
        data_dir,
        stop: Some(stop),
        server: Some(server),
        restarting: false,
    }
}

impl Drop for TestApp {
    /// A MongoDB test database is dropped with its test (the embedded store's temporary
    /// directory removes itself).
    fn drop(&mut self) {
        if self.restarting {
            return;
        }
        let (Some(url), Some(name)) = (
            self.config.database_url.clone(),
            self.config.database_name.clone(),
        ) else {
            return;
        };
        drop_mongo_database(url, name);
    }
}

/// Drops a test's MongoDB database, from a thread of its own: `Drop` may run inside the
/// test's runtime, which cannot block on another future.
pub fn drop_mongo_database(url: String, name: String) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if let Ok(store) =
                server::store::mongo::MongoStore::connect_lazily(&url, Some(&name)).await
            {
                let _ = store.drop_database().await;
            }
        });
    })
    .join();
}

impl TestApp {
    /// Stops this server and starts a new one on the same store (new port).
    pub async fn restart(mut self) -> TestApp {
        // The same store lives on in the restarted app.
        self.restarting = true;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the server stops")
                .unwrap();
        }
        start(
            self.config.clone(),
            self.data_dir.clone(),
            self.clock.clone(),
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A second server on the same store (its own port and memory), as another instance
    /// behind a load balancer would be.
    pub async fn another_instance(&self) -> TestApp {
        let mut other = start(
            self.config.clone(),
            self.data_dir.clone(),
            self.clock.clone(),
        )
        .await;
        // The store is this app's: the other leaves it in place when it stops.
        other.restarting = true;
        other
    }

    /// An admin's Bearer request with a JSON body, any method.
    pub async fn send_json_bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A page's HTML as a browser signed in with `cookie` gets it.
    pub async fn page_text(&self, path: &str, cookie: &str) -> String {
        self.client
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn post_json_bearer(&self, path: &str, bearer: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A plain form post from a page of this site (its `Origin`), with the cookies given
    /// as a `Cookie` header value.
    pub async fn post_form(&self, path: &str, body: String, cookie: Option<&str>) -> Response {
        self.form_request(path, body, cookie).send().await.unwrap()
    }

    /// The same form post as a browser sends it, asking for a page: answered with a
    /// redirect rather than JSON.
    pub async fn post_browser_form(
        &self,
        path: &str,
        body: String,
        cookie: Option<&str>,
    ) -> Response {
        self.form_request(path, body, cookie)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }

    fn form_request(&self, path: &str, body: String, cookie: Option<&str>) -> RequestBuilder {
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.address)
            .body(body);
        match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    pub async fn post_bearer(&self, path: &str, bearer: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
    }

    pub async fn signup(&self, username: &str) -> Response {
        self.post_json(
            "/auth/signup",
            &json!({ "username": username, "password": PASSWORD }),
        )
        .await
    }

    pub async fn login_response(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    pub async fn login(&self, username: &str) -> Tokens {
        let response = self.login_response(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        tokens_of(response.json().await.unwrap())
    }

    /// Guesses wrong passwords for `username` until `failures` of them were counted,
    /// waiting out each lockout as a patient guesser would; then waits out the last one.
    pub async fn fail_sign_ins(&self, username: &str, failures: usize) {
        let mut wrong = 0;
        while wrong < failures {
            let answer = self.login_response(username, "not the password").await;
            match error_code(answer).await.as_str() {
                "invalid_credentials" => wrong += 1,
                "throttled" => self.clock.shift(15 * 60),
                other => panic!("after {wrong} wrong passwords: {other}"),
            }
        }
        self.clock.shift(15 * 60);
    }

    pub async fn signup_and_login(&self, username: &str) -> Tokens {
        assert_eq!(self.signup(username).await.status(), StatusCode::CREATED);
        self.login(username).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_bearer("/auth/refresh", refresh_token).await
    }

    pub async fn patch_user(&self, admin: &str, id: &str, body: Value) -> Response {
        self.client
            .patch(self.url(&format!("/auth/admin/users/{id}")))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn user_id(&self, access: &str) -> String {
        let me: Value = self
            .get("/auth/me", Some(access))
            .await
            .json()
            .await
            .unwrap();
        me["id"].as_str().unwrap().to_owned()
    }

    /// The audit log's events of one kind, newest first, as an admin reads them.
    pub async fn audit_events(&self, admin: &str, kind: &str) -> Vec<Value> {
        let log: Value = self
            .get(
                &format!("/auth/admin/audit?kind={kind}&per_page=100"),
                Some(admin),
            )
            .await
            .json()
            .await
            .unwrap();
        log["items"].as_array().unwrap().clone()
    }

    /// An admin made the way an operator makes one (the core call behind `admin create`),
    /// signed in.
    pub async fn admin(&self, username: &str) -> Tokens {
        self.create_admin(username, PASSWORD).await;
        self.login(username).await
    }

    /// The core call behind `gatehouse admin create`.
    pub async fn create_admin(&self, username: &str, password: &str) {
        use server::clock::Clock;
        let store = server::startup::open_store_for_operator_task(&self.config)
            .await
            .unwrap();
        server::auth::operator::create_admin(
            store.as_ref(),
            self.config.hash_params,
            username,
            password.into(),
            server::clock::SystemClock.now(),
        )
        .await
        .unwrap();
    }
}

/// A loopback port free a moment ago: for a server whose address another process must
/// know before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn tokens_of(body: Value) -> Tokens {
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("an access token")
            .into(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .into(),
    }
}

/// Asserts the JSON error shape and returns its code.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error"]["message"].is_string(), "no message in {body}");
    body["error"]["code"]
        .as_str()
        .expect("an error code")
        .to_owned()
}

/// `text` as a form field's value.
pub fn form_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// An HTTP client for a test that starts no server in-process first (the TLS crypto is
/// the server's to install; see `server::install_tls_crypto`).
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap()
}

pub fn http_client_builder() -> reqwest::ClientBuilder {
    server::install_tls_crypto();
    reqwest::Client::builder()
}

/// Every cookie a response sets, as its `Set-Cookie` headers say them.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}
