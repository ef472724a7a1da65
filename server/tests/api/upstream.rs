//! Signing in THROUGH another provider: panva's `oidc-provider` (npm, OpenID Certified)
//! runs on loopback as the upstream, and a browser's whole round trip — Gatehouse's
//! start page, the provider's authorization and interaction, Gatehouse's callback — is
//! followed redirect by redirect, each host with its own cookies.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::{Response, StatusCode};
use serde_json::Value;
use server::config::parse_providers;
use server::store::{IdentityStore, LinkedIdentity, mongo::MongoStore, sqlite::SqliteStore};

use crate::helpers::{TestApp, set_cookies, spawn_app_with};

pub(crate) const CLIENT_ID: &str = "gatehouse";
pub(crate) const CLIENT_SECRET: &str = "upstream-test-secret-upstream-test-secret";

/// The upstream provider's process group (end2end's start-provider.mjs and the script
/// it runs), stopped with its test.
pub(crate) struct Upstream {
    child: Child,
    pub(crate) issuer: String,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        // The whole group: killing only the starter would leave the provider running.
        if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: a plain kill(2) of the group this test made; no memory is involved.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

pub(crate) fn start_upstream(redirect_uri: &str, tamper: &str) -> Upstream {
    start_provider_script("upstream-provider.mjs", redirect_uri, tamper)
}

/// Longer than start-provider.mjs's three tries of 20 s (each with its 2 s report), so
/// that it is the starter that gives up, saying why.
const PROVIDER_START: Duration = Duration::from_secs(75);

/// One of end2end's provider scripts, on a free loopback port, started as Playwright
/// starts it: through start-provider.mjs, which makes a stalled start again.
fn start_provider_script(script: &str, redirect_uri: &str, tamper: &str) -> Upstream {
    let support = format!("{}/../end2end/tests/support", env!("CARGO_MANIFEST_DIR"));
    let child = Command::new("node")
        .arg(format!("{support}/start-provider.mjs"))
        .arg(script)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", redirect_uri)
        .env("TAMPER", tamper)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/setup installs end2end's packages)");
    // Stopped (and waited for) by its drop, whatever happens from here.
    let mut upstream = Upstream {
        child,
        issuer: String::new(),
    };
    let stdout = BufReader::new(upstream.child.stdout.take().unwrap());
    let stderr = BufReader::new(upstream.child.stderr.take().unwrap());
    let (issuer_tx, issuer_rx) = std::sync::mpsc::channel();
    // Both read to the end: a closed pipe would end the provider at its next notice.
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("ISSUER=") {
                let _ = issuer_tx.send(issuer.trim().to_owned());
            }
        }
    });
    let said = std::thread::spawn(move || {
        stderr
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n")
    });
    match issuer_rx.recv_timeout(PROVIDER_START) {
        Ok(issuer) => upstream.issuer = issuer,
        Err(_) => {
            // Its group killed, its stderr ends.
            drop(upstream);
            panic!(
                "{script} did not start; its starter said:\n{}",
                said.join().unwrap_or_default()
            );
        }
    }
    upstream
}

/// Gatehouse with the upstream configured as provider `corp` (`extra` lines added to
/// its entry). Gatehouse's port is chosen first: the provider must know the callback.
async fn gatehouse_and_upstream(extra: &str) -> (TestApp, Upstream) {
    gatehouse_and_tampered_upstream(extra, "").await
}

async fn gatehouse_and_tampered_upstream(extra: &str, tamper: &str) -> (TestApp, Upstream) {
    let port = crate::helpers::free_port();
    let upstream = start_upstream(
        &format!("http://127.0.0.1:{port}/login/with/corp/callback"),
        tamper,
    );
    let providers = parse_providers(&format!(
        "[[provider]]\nid = \"corp\"\nname = \"Corp SSO\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n{extra}\n",
        upstream.issuer
    ))
    .unwrap();
    let app = spawn_app_with(|config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.providers = providers;
    })
    .await;
    (app, upstream)
}

/// A browser: cookies kept per host and port, redirects followed one by one.
pub(crate) struct Browser {
    client: reqwest::Client,
    jars: HashMap<String, HashMap<String, String>>,
    /// Whom the upstream's interaction page signs in.
    upstream_account: String,
}

impl Browser {
    pub(crate) fn new(app: &TestApp, upstream_account: &str) -> Browser {
        Browser {
            client: app.client.clone(),
            jars: HashMap::new(),
            upstream_account: upstream_account.to_owned(),
        }
    }

    pub(crate) async fn get(&mut self, url: &str) -> Response {
        let request = self.client.get(url).header("accept", "text/html");
        self.send(url, request).await
    }

    /// A plain form post from a page of the same site, as a browser without
    /// JavaScript sends it.
    async fn post_form(&mut self, url: &str, body: String) -> Response {
        let origin = reqwest::Url::parse(url)
            .unwrap()
            .origin()
            .ascii_serialization();
        let request = self
            .client
            .post(url)
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(body);
        self.send(url, request).await
    }

    async fn send(&mut self, url: &str, mut request: reqwest::RequestBuilder) -> Response {
        let origin = reqwest::Url::parse(url)
            .unwrap()
            .origin()
            .ascii_serialization();
        let jar = self.jars.entry(origin).or_default();
        if !jar.is_empty() {
            let header = jar
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", header);
        }
        let response = request.send().await.unwrap();
        for cookie in set_cookies(&response) {
            let pair = cookie.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap();
            let cleared = value.is_empty() || cookie.to_ascii_lowercase().contains("max-age=0");
            if cleared {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    /// Signed in here as whoever `access` belongs to (as a sign-in's cookie would be).
    fn sign_in_here(&mut self, app: &TestApp, access: &str) {
        self.jars
            .entry(app.address.clone())
            .or_default()
            .insert("gatehouse_access".into(), access.to_owned());
    }

    fn sign_out_here(&mut self, app: &TestApp) {
        if let Some(jar) = self.jars.get_mut(&app.address) {
            jar.remove("gatehouse_access");
        }
    }

    /// Follows redirects from `url` until `stop` says a URL is where to stop (it is not
    /// asked for), or a page answers: that URL, or the answer and its URL.
    pub(crate) async fn follow(&mut self, url: &str, stop: impl Fn(&str) -> bool) -> Followed {
        let mut url = url.to_owned();
        for _ in 0..20 {
            if stop(&url) {
                return Followed::Stopped(url);
            }
            let response = self.get(&url).await;
            if !response.status().is_redirection() {
                return Followed::Page(url, response);
            }
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            let mut next = reqwest::Url::parse(&url).unwrap().join(&location).unwrap();
            // Where each provider signs someone in: oidc-provider's interaction, the
            // GitHub-like server's authorize page.
            if next.path().starts_with("/interaction/") || next.path() == "/login/oauth/authorize" {
                next.query_pairs_mut()
                    .append_pair("as", &self.upstream_account);
            }
            url = next.to_string();
        }
        panic!("more than 20 redirects");
    }

    fn cookie(&self, origin: &str, name: &str) -> Option<String> {
        self.jars.get(origin)?.get(name).cloned()
    }
}

pub(crate) enum Followed {
    Stopped(String),
    Page(String, Response),
}

impl Followed {
    pub(crate) fn stopped(self) -> String {
        match self {
            Followed::Stopped(url) => url,
            Followed::Page(url, response) => {
                panic!("stopped at {url}: {}", response.status())
            }
        }
    }

    pub(crate) async fn page(self) -> (String, StatusCode, String) {
        match self {
            Followed::Page(url, response) => {
                let status = response.status();
                (url, status, response.text().await.unwrap())
            }
            Followed::Stopped(url) => panic!("expected a page, stopped at {url}"),
        }
    }
}

fn is_callback(url: &str) -> bool {
    url.contains("/login/with/corp/callback")
}

/// The whole sign-in through the upstream as `account`: where the browser ended up.
pub(crate) async fn sign_in_through(
    app: &TestApp,
    browser: &mut Browser,
) -> (String, StatusCode, String) {
    browser
        .follow(&app.url("/login/with/corp"), |_| false)
        .await
        .page()
        .await
}

pub(crate) async fn me(app: &TestApp, browser: &Browser) -> Value {
    let access = browser
        .cookie(&app.address, "gatehouse_access")
        .expect("signed in: an access cookie");
    let response = app.get("/auth/me", Some(&access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub(crate) fn refused_code(body: &str) -> Option<&str> {
    body.split("data-code=\"").nth(1)?.split('"').next()
}

#[tokio::test]
async fn a_first_sign_in_through_the_provider_makes_an_account_and_the_next_finds_it() {
    let (app, _upstream) = gatehouse_and_upstream("").await;
    let page = app.get("/login", None).await.text().await.unwrap();
    assert!(
        page.contains("href=\"/login/with/corp\"") && page.contains("Corp SSO</a>"),
        "the sign-in page offers the provider"
    );

    let mut browser = Browser::new(&app, "ada");
    let (url, status, _) = sign_in_through(&app, &mut browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(url.ends_with("/dashboard"), "on to the dashboard: {url}");
    assert!(
        browser
            .cookie(&app.address, "gatehouse_provider_flow")
            .is_none(),
        "the sealed sign-in is spent"
    );
    let ada = me(&app, &browser).await;
    assert_eq!(ada["username"], "ada");
    assert_eq!(ada["email"], "ada@upstream.test");
    assert_eq!(
        ada["email_verified"], false,
        "the provider's word is not this server's proof of the address"
    );

    // Again, in another browser: the same account, not a second one.
    let mut again = Browser::new(&app, "ada");
    sign_in_through(&app, &mut again).await;
    assert_eq!(me(&app, &again).await["id"], ada["id"]);

    // Someone else whose name is taken here gets a name of their own.
    app.signup("bob").await;
    let mut bob = Browser::new(&app, "bob");
    sign_in_through(&app, &mut bob).await;
    let upstream_bob = me(&app, &bob).await;
    assert_eq!(upstream_bob["username"], "bob-2");

    let admin = app.admin("root").await;
    let signups = app.audit_events(&admin.access, "signup").await;
    assert_eq!(
        signups
            .iter()
            .filter(|event| event["detail"] == "provider corp")
            .count(),
        2
    );
    assert_eq!(
        app.audit_events(&admin.access, "login")
            .await
            .iter()
            .filter(|event| event["detail"] == "provider")
            .count(),
        3
    );
}

#[tokio::test]
async fn an_answer_with_another_state_or_no_started_sign_in_is_refused_with_a_clear_page() {
    let (app, _upstream) = gatehouse_and_upstream("").await;
    let mut browser = Browser::new(&app, "ada");
    let callback = browser
        .follow(&app.url("/login/with/corp"), is_callback)
        .await
        .stopped();
    assert!(callback.contains("code=") && callback.contains("state="));

    // A state of someone else's sign-in (login CSRF): refused, nobody signed in.
    let mut forged = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "state" {
                "not-the-state".to_owned()
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let (_, status, body) = browser
        .follow(forged.as_str(), |_| false)
        .await
        .page()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused_code(&body), Some("provider_flow_invalid"));
    assert!(body.contains("Corp SSO"), "the page names the provider");
    assert!(browser.cookie(&app.address, "gatehouse_access").is_none());

    // The true answer, after the refusal spent the browser's sign-in: refused too.
    let (_, status, body) = browser.follow(&callback, |_| false).await.page().await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused_code(&body), Some("provider_flow_invalid"));
    assert!(browser.cookie(&app.address, "gatehouse_access").is_none());

    // The provider said no: its words, and nobody signed in.
    let mut declined = Browser::new(&app, "ada");
    let callback = declined
        .follow(&app.url("/login/with/corp"), is_callback)
        .await
        .stopped();
    let state = reqwest::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "state")
        .unwrap()
        .1
        .into_owned();
    let (_, status, body) = declined
        .follow(
            &app.url(&format!(
                "/login/with/corp/callback?error=access_denied&error_description=The+user+said+no&state={state}"
            )),
            |_| false,
        )
        .await
        .page()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("access_denied (The user said no)"), "{body}");
    assert!(declined.cookie(&app.address, "gatehouse_access").is_none());

    let unknown = app.get("/login/with/nobody", None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let admin = app.admin("root").await;
    let failures = app
        .audit_events(&admin.access, "provider_sign_in_failed")
        .await;
    assert_eq!(failures.len(), 3, "{failures:?}");
}

#[tokio::test]
async fn a_replayed_code_is_refused_by_the_provider_and_signs_nobody_in() {
    let (app, _upstream) = gatehouse_and_upstream("").await;
    let mut browser = Browser::new(&app, "ada");
    let callback = browser
        .follow(&app.url("/login/with/corp"), is_callback)
        .await
        .stopped();
    let flow = browser
        .cookie(&app.address, "gatehouse_provider_flow")
        .unwrap();
    let (_, status, _) = browser.follow(&callback, |_| false).await.page().await;
    assert_eq!(status, StatusCode::OK);
    assert!(browser.cookie(&app.address, "gatehouse_access").is_some());

    // Whoever kept the answer and the sealed sign-in presents both again: the provider
    // refuses its code a second time.
    let replay = app
        .client
        .get(&callback)
        .header("accept", "text/html")
        .header("cookie", format!("gatehouse_provider_flow={flow}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&replay)
            .iter()
            .all(|cookie| !cookie.starts_with("gatehouse_access=")
                || cookie.starts_with("gatehouse_access=;")),
        "no session for the replay"
    );
    assert_eq!(
        refused_code(&replay.text().await.unwrap()),
        Some("provider_answer_invalid")
    );
}

#[tokio::test]
async fn without_sign_up_through_it_only_linked_accounts_sign_in() {
    let (app, _upstream) = gatehouse_and_upstream("sign_up = false").await;
    let mut browser = Browser::new(&app, "carol");
    let (_, status, body) = sign_in_through(&app, &mut browser).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused_code(&body), Some("no_linked_account"));
    assert!(browser.cookie(&app.address, "gatehouse_access").is_none());
    let admin = app.admin("root").await;
    let users: Value = app
        .get("/auth/admin/users?search=carol", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["total"], 0, "no account was made");
}

#[tokio::test]
async fn an_account_with_a_second_factor_still_takes_its_second_step() {
    let (app, _upstream) = gatehouse_and_upstream("").await;
    let mut first = Browser::new(&app, "dave");
    sign_in_through(&app, &mut first).await;
    let access = first.cookie(&app.address, "gatehouse_access").unwrap();
    app.enrol(&crate::helpers::Tokens {
        access,
        refresh: String::new(),
    })
    .await;

    let mut browser = Browser::new(&app, "dave");
    let (url, status, _) = sign_in_through(&app, &mut browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(url.contains("/login/code"), "on to the second step: {url}");
    assert!(browser.cookie(&app.address, "gatehouse_access").is_none());
    assert!(browser.cookie(&app.address, "gatehouse_step_up").is_some());
}

#[tokio::test]
async fn an_id_token_signed_by_another_key_with_another_nonce_or_expired_is_refused() {
    for (tamper, why) in [
        ("other-key", "signature"),
        ("nonce", "nonce"),
        ("expired", "expired"),
    ] {
        let (app, _upstream) = gatehouse_and_tampered_upstream("", tamper).await;
        let mut browser = Browser::new(&app, "ada");
        let (_, status, body) = sign_in_through(&app, &mut browser).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{tamper}");
        assert_eq!(
            refused_code(&body),
            Some("provider_answer_invalid"),
            "{tamper}"
        );
        assert!(
            browser.cookie(&app.address, "gatehouse_access").is_none(),
            "{tamper}: nobody signed in"
        );
        let admin = app.admin("root").await;
        let users: Value = app
            .get("/auth/admin/users?search=ada", Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(users["total"], 0, "{tamper}: no account was made");
        let failures = app
            .audit_events(&admin.access, "provider_sign_in_failed")
            .await;
        assert_eq!(failures.len(), 1, "{tamper}");
        let detail = failures[0]["detail"].as_str().unwrap().to_lowercase();
        assert!(
            detail.contains("id token") && detail.contains(why),
            "{tamper}: {detail}"
        );
    }
}

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn form_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Asks, on `/account`, to link an account at `corp`: the answer of the plain form.
async fn ask_to_link(app: &TestApp, browser: &mut Browser, password: &str) -> Response {
    browser
        .post_form(
            &app.url("/api/account/providers/link"),
            format!("provider=corp&link_password={}", form_encoded(password)),
        )
        .await
}

#[tokio::test]
async fn an_account_links_a_providers_account_from_its_page_and_then_signs_in_with_it() {
    let (app, upstream) = gatehouse_and_upstream("").await;
    app.signup("erin").await;
    let erin = app.login("erin").await;
    let mut browser = Browser::new(&app, "erin.corp");
    browser.sign_in_here(&app, &erin.access);

    let account = browser.get(&app.url("/account")).await;
    let policy = account.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let issuer_origin = reqwest::Url::parse(&upstream.issuer)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(
        policy.contains(&format!("form-action 'self' {issuer_origin}")),
        "without JavaScript the link form may lead to the provider: {policy}"
    );
    let page = account.text().await.unwrap();
    assert!(page.contains("Link Corp SSO"), "{page}");
    assert!(page.contains("No account at another provider is linked yet."));

    // A wrong password: back to the page with the error, no flow, nothing linked.
    let refused = ask_to_link(&app, &mut browser, "not the password").await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    assert_eq!(
        location(&refused),
        "/account?section=providers&field=link_password&error=invalid_input"
    );
    assert!(
        browser
            .cookie(&app.address, "gatehouse_provider_flow")
            .is_none()
    );

    let started = ask_to_link(&app, &mut browser, crate::helpers::PASSWORD).await;
    assert_eq!(started.status(), StatusCode::FOUND);
    let to_provider = location(&started);
    assert!(to_provider.starts_with(&upstream.issuer), "{to_provider}");
    let (url, status, page) = browser.follow(&to_provider, |_| false).await.page().await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        url.ends_with("/account?linked=1#linked-title") || url.ends_with("/account?linked=1"),
        "{url}"
    );
    assert!(page.contains("Linked: you can now sign in with that account too."));
    assert!(page.contains("erin.corp@upstream.test"), "listed: {page}");

    // The provider's account now signs in to erin's, in another browser: no new account.
    let mut elsewhere = Browser::new(&app, "erin.corp");
    let (url, status, _) = sign_in_through(&app, &mut elsewhere).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert_eq!(me(&app, &elsewhere).await["username"], "erin");

    // Linking it again from erin's page: already hers, fine.
    let again = ask_to_link(&app, &mut browser, crate::helpers::PASSWORD).await;
    let (url, status, _) = browser
        .follow(&location(&again), |_| false)
        .await
        .page()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(url.contains("/account?linked=1"), "{url}");

    // Another account here cannot take it.
    app.signup("frank").await;
    let frank = app.login("frank").await;
    let mut franks = Browser::new(&app, "erin.corp");
    franks.sign_in_here(&app, &frank.access);
    let asked = ask_to_link(&app, &mut franks, crate::helpers::PASSWORD).await;
    let (_, status, body) = franks
        .follow(&location(&asked), |_| false)
        .await
        .page()
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused_code(&body), Some("identity_taken"));
    assert!(body.contains("Corp SSO"), "the page names the provider");

    // A link whose asker signed out before the provider answered: not linked.
    let mut leaving = Browser::new(&app, "frank.corp");
    leaving.sign_in_here(&app, &frank.access);
    let asked = ask_to_link(&app, &mut leaving, crate::helpers::PASSWORD).await;
    let callback = leaving
        .follow(&location(&asked), is_callback)
        .await
        .stopped();
    leaving.sign_out_here(&app);
    let (_, status, body) = leaving.follow(&callback, |_| false).await.page().await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused_code(&body), Some("provider_flow_invalid"));

    let admin = app.admin("root").await;
    let linked = app.audit_events(&admin.access, "identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0]["detail"], "corp");
    assert_eq!(
        app.audit_events(&admin.access, "provider_link_failed")
            .await
            .len(),
        2
    );
    // Frank's sign-in through it is still nobody's but erin's.
    let mut check = Browser::new(&app, "frank.corp");
    sign_in_through(&app, &mut check).await;
    assert_eq!(me(&app, &check).await["username"], "frank.corp");
}

#[tokio::test]
async fn a_linked_account_is_unlinked_unless_it_is_the_last_way_in() {
    let (app, _upstream) = gatehouse_and_upstream("").await;
    let mut browser = Browser::new(&app, "gina");
    sign_in_through(&app, &mut browser).await;
    let gina = me(&app, &browser).await;
    let page = browser
        .get(&app.url("/account"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("gina@upstream.test"), "listed: {page}");
    let subject = page
        .split("value=\"corp ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the unlink choice names the provider and its subject")
        .to_owned();
    let unlink_through = |provider: &str, subject: &str, password: &str| {
        format!(
            "identity={}&unlink_password={}",
            form_encoded(&format!("{provider} {subject}")),
            form_encoded(password)
        )
    };
    let unlink = |password: &str| unlink_through("corp", &subject, password);

    // The account's only way in (no password, its address unverified): it stays.
    let kept = browser
        .post_form(&app.url("/api/account/providers/unlink"), unlink(""))
        .await;
    assert_eq!(
        location(&kept),
        "/account?section=providers&error=last_factor"
    );
    // Beside a link through a provider nothing offers, it is still the last way in; the
    // dead link goes.
    link_through_a_provider_gone(&app, gina["id"].as_str().unwrap(), "gina-elsewhere").await;
    let still_kept = browser
        .post_form(&app.url("/api/account/providers/unlink"), unlink(""))
        .await;
    assert_eq!(
        location(&still_kept),
        "/account?section=providers&error=last_factor"
    );
    let dead_link = browser
        .post_form(
            &app.url("/api/account/providers/unlink"),
            unlink_through("gone", "gina-elsewhere", ""),
        )
        .await;
    assert_eq!(location(&dead_link), "/account?unlinked=1#linked-title");

    // With a password set, it goes; the next sign-in through it is someone new.
    let set = browser
        .post_form(
            &app.url("/api/password"),
            format!(
                "current_password=&new_password={}",
                form_encoded(crate::helpers::PASSWORD)
            ),
        )
        .await;
    assert_eq!(location(&set), "/account?password=set");
    let gone = browser
        .post_form(
            &app.url("/api/account/providers/unlink"),
            unlink(crate::helpers::PASSWORD),
        )
        .await;
    assert_eq!(location(&gone), "/account?unlinked=1#linked-title");
    let page = browser
        .get(&app.url("/account"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("No account at another provider is linked yet."));
    let again = browser
        .post_form(
            &app.url("/api/account/providers/unlink"),
            unlink(crate::helpers::PASSWORD),
        )
        .await;
    assert_eq!(
        location(&again),
        "/account?section=providers&error=not_found"
    );

    let mut later = Browser::new(&app, "gina");
    sign_in_through(&app, &mut later).await;
    let someone_new = me(&app, &later).await;
    assert_ne!(someone_new["id"], gina["id"]);
    assert_eq!(someone_new["username"], "gina-2");

    let admin = app.admin("root").await;
    let unlinked = app.audit_events(&admin.access, "identity_unlinked").await;
    let mut unlinked: Vec<_> = unlinked
        .iter()
        .map(|event| event["detail"].as_str())
        .collect();
    unlinked.sort();
    assert_eq!(unlinked, [Some("corp"), Some("gone")]);
}

#[tokio::test]
async fn linked_accounts_are_listed_and_unlinked_over_rest_as_on_the_page() {
    let (app, _upstream) = gatehouse_and_upstream("").await;
    app.signup("hana").await;
    let hana = app.login("hana").await;
    let mut browser = Browser::new(&app, "hana.corp");
    browser.sign_in_here(&app, &hana.access);
    let asked = ask_to_link(&app, &mut browser, crate::helpers::PASSWORD).await;
    let (url, _, _) = browser
        .follow(&location(&asked), |_| false)
        .await
        .page()
        .await;
    assert!(url.contains("/account?linked=1"), "{url}");

    assert_eq!(
        app.get("/auth/linked-accounts", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let listed: Value = linked_accounts(&app, &hana.access).await;
    let linked = listed["linked"].as_array().unwrap();
    assert_eq!(linked.len(), 1, "{listed}");
    assert_eq!(linked[0]["provider"], "corp");
    assert_eq!(linked[0]["provider_name"], "Corp SSO");
    assert_eq!(linked[0]["email"], "hana.corp@upstream.test");
    let subject = linked[0]["subject"].as_str().unwrap().to_owned();

    let unlink = |subject: &str, password: &str| serde_json::json!({"provider": "corp", "subject": subject, "current_password": password});
    let path = "/auth/linked-accounts/unlink";
    let wrong = app
        .post_json_bearer(path, &hana.access, &unlink(&subject, "not the password"))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let nobody = app
        .post_json_bearer(
            path,
            &hana.access,
            &unlink("someone-else", crate::helpers::PASSWORD),
        )
        .await;
    assert_eq!(nobody.status(), StatusCode::NOT_FOUND);
    assert_eq!(crate::helpers::error_code(nobody).await, "not_found");
    let extra = app
        .post_json_bearer(
            path,
            &hana.access,
            &serde_json::json!({"provider": "corp", "subject": subject, "current_password": crate::helpers::PASSWORD, "also": 1}),
        )
        .await;
    assert!(extra.status().is_client_error(), "{}", extra.status());
    // Refused three ways, still linked.
    let still: Value = linked_accounts(&app, &hana.access).await;
    assert_eq!(still["linked"].as_array().unwrap().len(), 1);

    let gone = app
        .post_json_bearer(
            path,
            &hana.access,
            &unlink(&subject, crate::helpers::PASSWORD),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::OK);
    let empty: Value = linked_accounts(&app, &hana.access).await;
    assert_eq!(empty["linked"], serde_json::json!([]));
    let again = app
        .post_json_bearer(
            path,
            &hana.access,
            &unlink(&subject, crate::helpers::PASSWORD),
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // An account made by the provider, its only way in: the REST door keeps it too.
    let mut ivo = Browser::new(&app, "ivo");
    sign_in_through(&app, &mut ivo).await;
    let access = ivo
        .cookie(&app.address, "gatehouse_access")
        .expect("signed in through the provider");
    let listed: Value = linked_accounts(&app, &access).await;
    let subject = listed["linked"][0]["subject"].as_str().unwrap().to_owned();
    let kept = app
        .post_json_bearer(path, &access, &unlink(&subject, ""))
        .await;
    assert_eq!(kept.status(), StatusCode::CONFLICT);
    assert_eq!(crate::helpers::error_code(kept).await, "last_factor");

    // A link through a provider no longer offered (turned off, or gone from the file)
    // is no way in: beside it, the provider's link is still the last, and it can go.
    link_through_a_provider_gone(&app, &app.user_id(&access).await, "ivo-elsewhere").await;
    let still_kept = app
        .post_json_bearer(path, &access, &unlink(&subject, ""))
        .await;
    assert_eq!(still_kept.status(), StatusCode::CONFLICT);
    assert_eq!(crate::helpers::error_code(still_kept).await, "last_factor");
    let unlink_gone =
        serde_json::json!({"provider": "gone", "subject": "ivo-elsewhere", "current_password": ""});
    let dead_link = app.post_json_bearer(path, &access, &unlink_gone).await;
    assert_eq!(dead_link.status(), StatusCode::OK);
    let listed: Value = linked_accounts(&app, &access).await;
    assert_eq!(listed["linked"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["linked"][0]["subject"], subject.as_str());

    let admin = app.admin("root").await;
    assert_eq!(
        app.audit_events(&admin.access, "identity_unlinked")
            .await
            .len(),
        2
    );
}

/// `GET /auth/linked-accounts` with `access`.
async fn linked_accounts(app: &TestApp, access: &str) -> Value {
    app.get("/auth/linked-accounts", Some(access))
        .await
        .json()
        .await
        .unwrap()
}

/// Links `user_id` through provider `gone`, which nothing offers (as after its removal
/// from the file): written into the store, as no door would.
async fn link_through_a_provider_gone(app: &TestApp, user_id: &str, subject: &str) {
    let gone = LinkedIdentity {
        provider: "gone".into(),
        subject: subject.into(),
        user_id: user_id.into(),
        email: None,
        linked_at: 0,
        last_used_at: None,
    };
    identity_store(app).await.link_identity(gone).await.unwrap();
}

/// The app's store, opened beside it, for what no door may do.
async fn identity_store(app: &TestApp) -> Box<dyn IdentityStore> {
    match &app.config.database_url {
        Some(url) => Box::new(
            MongoStore::connect(url, app.config.database_name.as_deref())
                .await
                .unwrap(),
        ),
        None => Box::new(SqliteStore::open(&app.config.data_dir).await.unwrap()),
    }
}

/// Gatehouse with the GitHub-like server configured as the GitHub preset, provider `corp`
/// (the callback is the same as for every provider).
async fn gatehouse_and_github(extra: &str) -> (TestApp, Upstream) {
    let port = crate::helpers::free_port();
    let github = start_provider_script(
        "github-like.mjs",
        &format!("http://127.0.0.1:{port}/login/with/corp/callback"),
        "",
    );
    let providers = parse_providers(&format!(
        "[[provider]]\nid = \"corp\"\nname = \"Corp GitHub\"\nkind = \"github\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n{extra}\n",
        github.issuer
    ))
    .unwrap();
    assert_eq!(
        providers[0].api_url.as_deref(),
        Some(format!("{}/api/v3", github.issuer).as_str()),
        "an Enterprise Server's API is under its address"
    );
    let app = spawn_app_with(|config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.providers = providers;
    })
    .await;
    (app, github)
}

#[tokio::test]
async fn the_github_preset_signs_in_through_githubs_oauth_and_user_api() {
    let (app, _github) = gatehouse_and_github("").await;
    let page = app.get("/login", None).await.text().await.unwrap();
    assert!(
        page.contains("Corp GitHub</a>"),
        "the sign-in page offers it"
    );

    let mut browser = Browser::new(&app, "mona");
    let (url, status, _) = sign_in_through(&app, &mut browser).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert!(url.ends_with("/dashboard"), "{url}");
    let mona = me(&app, &browser).await;
    assert_eq!(mona["username"], "mona");
    assert_eq!(
        mona["email"], "mona@users.github-like.test",
        "the primary address"
    );
    assert_eq!(mona["email_verified"], false, "GitHub's word is not ours");

    // The next sign-in finds the account by GitHub's numeric id.
    let mut again = Browser::new(&app, "mona");
    sign_in_through(&app, &mut again).await;
    assert_eq!(me(&app, &again).await["id"], mona["id"]);

    // Someone without a public address still gets the primary one from /user/emails.
    let mut private = Browser::new(&app, "private-pat");
    sign_in_through(&app, &mut private).await;
    assert_eq!(
        me(&app, &private).await["email"],
        "private-pat@users.github-like.test"
    );

    // GitHub answers a spent code with 200 and an error: refused, nobody signed in.
    let mut replaying = Browser::new(&app, "mona");
    let callback = replaying
        .follow(&app.url("/login/with/corp"), is_callback)
        .await
        .stopped();
    let flow = replaying
        .cookie(&app.address, "gatehouse_provider_flow")
        .unwrap();
    let (_, status, _) = replaying.follow(&callback, |_| false).await.page().await;
    assert_eq!(status, StatusCode::OK);
    let replay = app
        .client
        .get(&callback)
        .header("accept", "text/html")
        .header("cookie", format!("gatehouse_provider_flow={flow}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused_code(&replay.text().await.unwrap()),
        Some("provider_answer_invalid")
    );

    // The person said no at GitHub: its words on the page.
    let mut declining = Browser::new(&app, "refuse");
    let (_, status, body) = sign_in_through(&app, &mut declining).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("access_denied (The user has denied your application access.)"),
        "{body}"
    );

    let admin = app.admin("root").await;
    let failures = app
        .audit_events(&admin.access, "provider_sign_in_failed")
        .await;
    assert!(
        failures
            .iter()
            .any(|event| event["detail"] == "corp: the code was refused: bad_verification_code"),
        "{failures:?}"
    );
    assert_eq!(failures.len(), 2, "{failures:?}");
}

#[tokio::test]
async fn one_gatehouse_signs_in_through_another() {
    // The upstream Gatehouse: an OpenID provider with a client for the other one.
    let home = crate::helpers::spawn_app().await;
    let port = crate::helpers::free_port();
    let admin = home.admin("root").await.access;
    let registered = crate::oidc::register(
        &home,
        &admin,
        serde_json::json!({
            "name": "Branch office",
            "redirect_uris": [format!("http://127.0.0.1:{port}/login/with/home/callback")],
        }),
    )
    .await;
    let providers = parse_providers(&format!(
        "[[provider]]\nid = \"home\"\nname = \"Head office\"\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n",
        home.address,
        registered.client_id,
        registered.client_secret.unwrap()
    ))
    .unwrap();
    let branch = spawn_app_with(|config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
        config.providers = providers;
    })
    .await;

    // Signed in at the head office, the browser asks the branch to sign in through it.
    home.signup("hana").await;
    let hana = home.login("hana").await;
    let mut browser = Browser::new(&branch, "");
    browser
        .jars
        .entry(home.address.clone())
        .or_default()
        .insert("gatehouse_access".into(), hana.access.clone());
    let (consent_url, status, page) = browser
        .follow(&branch.url("/login/with/home"), |_| false)
        .await
        .page()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Sign in to Branch office?"), "{page}");
    let query = reqwest::Url::parse(&consent_url)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let allowed = browser
        .post_form(
            &home.url("/api/oauth2/consent"),
            format!("query={}&decision=allow", form_encoded(&query)),
        )
        .await;
    let back = location(&allowed);
    assert!(back.contains("/login/with/home/callback?"), "{back}");
    let (url, status, _) = browser.follow(&back, |_| false).await.page().await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert!(url.ends_with("/dashboard"), "{url}");
    let at_branch = me(&branch, &browser).await;
    assert_eq!(at_branch["username"], "hana");

    // Again: the head office remembers the consent, the branch the account.
    let mut again = Browser::new(&branch, "");
    again
        .jars
        .entry(home.address.clone())
        .or_default()
        .insert("gatehouse_access".into(), hana.access.clone());
    let (url, status, _) = sign_in_through_at(&branch, &mut again, "home").await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert_eq!(me(&branch, &again).await["id"], at_branch["id"]);

    // Signed out at the head office: its sign-in page, nobody signed in at the branch.
    home.post_bearer("/auth/logout", &hana.access).await;
    let mut signed_out = Browser::new(&branch, "");
    signed_out
        .jars
        .entry(home.address.clone())
        .or_default()
        .insert("gatehouse_access".into(), hana.access);
    let (url, _, _) = sign_in_through_at(&branch, &mut signed_out, "home").await;
    assert!(
        url.starts_with(&home.address) && url.contains("/login"),
        "{url}"
    );
    assert!(
        signed_out
            .cookie(&branch.address, "gatehouse_access")
            .is_none()
    );
}

async fn sign_in_through_at(
    app: &TestApp,
    browser: &mut Browser,
    provider: &str,
) -> (String, StatusCode, String) {
    browser
        .follow(&app.url(&format!("/login/with/{provider}")), |_| false)
        .await
        .page()
        .await
}
