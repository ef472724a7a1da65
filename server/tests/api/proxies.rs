//! Real reverse proxies in front of an app, with Gatehouse as their gate: Debian's nginx
//! (`auth_request`) and Caddy (`forward_auth`), each started on a random loopback port
//! with the configuration the README shows (read from it, addresses filled in), in front
//! of a tiny app that answers with the identity headers it received.

use std::{
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use axum::{Json, Router, http::HeaderMap, routing::get};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{
    forward_auth::{add_rule, gate},
    helpers::{TestApp, Tokens},
    readme::{fenced_blocks, readme, section},
};

/// The host the apps are reached at (the client resolves it to the proxy).
const WIKI: &str = "wiki.example.test";

/// A proxy process, stopped when dropped.
struct Proxy {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// A client that reaches `WIKI` at this proxy, following no redirect.
    fn client(&self) -> Client {
        crate::helpers::http_client_builder()
            .resolve(WIKI, SocketAddr::from(([127, 0, 0, 1], self.port)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{WIKI}:{}{path}", self.port)
    }
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the proxy exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the proxy did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The app behind the proxy: it answers every path with the identity headers it got.
async fn echo_app() -> SocketAddr {
    async fn echo(headers: HeaderMap) -> Json<Value> {
        let get = |name: &str| {
            headers
                .get(name)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        Json(json!({
            "user": get("remote-user"),
            "name": get("remote-name"),
            "email": get("remote-email"),
            "groups": get("remote-groups"),
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(get(echo));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn readme_blocks(language: &str, count: usize) -> Vec<String> {
    let readme = readme();
    let blocks = fenced_blocks(
        section(&readme, "## Put Gatehouse in front of an app"),
        language,
    );
    assert_eq!(blocks.len(), count, "{language} blocks in the README");
    blocks.into_iter().map(str::to_owned).collect()
}

fn start_nginx(gatehouse: &str, app: SocketAddr) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    // The first block goes into `http { }`, the second into the app's `server { }`.
    let [upstream, locations] = <[String; 2]>::try_from(readme_blocks("nginx", 2)).unwrap();
    let upstream = upstream.replace("127.0.0.1:3000", gatehouse.trim_start_matches("http://"));
    let locations = locations.replace("http://127.0.0.1:8080", &format!("http://{app}"));
    let root = dir.path().display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {root}/body;\n  \
         proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n  \
         uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n{upstream}\n  \
         server {{\n    listen 127.0.0.1:{port};\n    server_name {WIKI};\n{locations}\n  }}\n}}\n"
    );
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, config).unwrap();
    let log = dir.path().join("error.log");
    let mut child = Command::new("nginx")
        .args([
            "-c",
            &file.display().to_string(),
            "-p",
            &root.to_string(),
            "-e",
        ])
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nginx is installed (scripts/setup installs Debian's)");
    wait_for_port(port, &mut child, &log);
    Proxy {
        child,
        port,
        _dir: dir,
    }
}

fn start_caddy(gatehouse: &str, app: SocketAddr) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let gatehouse = gatehouse.trim_start_matches("http://");
    let [site] = <[String; 1]>::try_from(readme_blocks("caddy", 1)).unwrap();
    let site = site
        .replace("wiki.example.org {", &format!("http://{WIKI}:{port} {{"))
        .replace("127.0.0.1:3000", gatehouse)
        .replace("127.0.0.1:8080", &app.to_string());
    // No admin endpoint, no certificates: a plain loopback site.
    let config = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, config).unwrap();
    let log = dir.path().join("caddy.log");
    let mut child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("caddy is installed (scripts/setup installs Debian's)");
    wait_for_port(port, &mut child, &log);
    Proxy {
        child,
        port,
        _dir: dir,
    }
}

/// The gate, with "ada" allowed on the wiki and "bob" not.
async fn gate_with_ada_and_bob() -> (TestApp, Tokens, Tokens) {
    let app = gate().await;
    let admin = app.admin("root").await;
    add_rule(&app, &admin, json!({"host": WIKI, "users": ["ada"]})).await;
    let ada = app.signup_and_login("ada").await;
    let bob = app.signup_and_login("bob").await;
    (app, ada, bob)
}

async fn visit(proxy: &Proxy, path: &str, access: Option<&str>) -> reqwest::Response {
    let mut request = proxy
        .client()
        .get(proxy.url(path))
        // Written by the visitor: the proxy must overwrite every one of them.
        .header("remote-user", "root")
        .header("remote-email", "root@example.test")
        .header("remote-groups", "admin");
    if let Some(access) = access {
        request = request.header("cookie", format!("gatehouse_access={access}"));
    }
    request.send().await.unwrap()
}

/// What every proxy must do: let ada through with her identity (never the visitor's
/// own headers), send the signed-out to sign in and back, refuse bob.
async fn the_gate_holds(proxy: &Proxy, ada: &Tokens, bob: &Tokens) {
    let allowed = visit(proxy, "/page?x=1", Some(&ada.access)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let seen: Value = allowed.json().await.unwrap();
    assert_eq!(seen["user"], "ada", "{seen}");
    assert_eq!(seen["name"], "ada", "{seen}");
    assert_eq!(seen["groups"], "user", "{seen}");
    assert!(
        seen["email"].is_null() || seen["email"] == "",
        "a forged address reached the app: {seen}"
    );

    let signed_out = visit(proxy, "/page?x=1", None).await;
    assert_eq!(signed_out.status(), StatusCode::FOUND);
    let location = url::Url::parse(signed_out.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.host_str(), Some("auth.example.test"));
    assert_eq!(location.path(), "/login");
    let rd = location
        .query_pairs()
        .find(|(name, _)| name == "rd")
        .map(|(_, value)| value.into_owned());
    assert_eq!(rd, Some(proxy.url("/page?x=1")));

    let forbidden = visit(proxy, "/page", Some(&bob.access)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn nginx_lets_through_whom_the_rules_allow_and_nobody_else() {
    let (app, ada, bob) = gate_with_ada_and_bob().await;
    let nginx = start_nginx(&app.address, echo_app().await);
    the_gate_holds(&nginx, &ada, &bob).await;
}

#[tokio::test]
async fn caddy_lets_through_whom_the_rules_allow_and_nobody_else() {
    let (app, ada, bob) = gate_with_ada_and_bob().await;
    let caddy = start_caddy(&app.address, echo_app().await);
    the_gate_holds(&caddy, &ada, &bob).await;
}

#[tokio::test]
async fn a_sign_out_on_another_instance_closes_the_gate_within_the_bound() {
    let (app, ada, _) = gate_with_ada_and_bob().await;
    let other = app.another_instance().await;
    let nginx = start_nginx(&app.address, echo_app().await);
    for _ in 0..2 {
        assert_eq!(
            visit(&nginx, "/", Some(&ada.access)).await.status(),
            StatusCode::OK
        );
    }
    let logout = other.post_bearer("/auth/logout", &ada.access).await;
    assert_eq!(logout.status(), StatusCode::OK);
    let returned = Instant::now();
    let mut last_let_through = None;
    while returned.elapsed() < Duration::from_millis(1_300) {
        let asked = returned.elapsed();
        if visit(&nginx, "/", Some(&ada.access)).await.status() == StatusCode::OK {
            last_let_through = Some(asked);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        last_let_through.is_none_or(|at| at < Duration::from_secs(1)),
        "let through {last_let_through:?} after the sign-out"
    );
    assert_eq!(
        visit(&nginx, "/", Some(&ada.access)).await.status(),
        StatusCode::FOUND
    );
}
