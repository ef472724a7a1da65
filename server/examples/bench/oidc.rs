//! `scripts/bench oidc`: Gatehouse as an OpenID Connect provider — the token endpoint's
//! code redemption and refresh per second with their p99, and UserInfo beside the bare
//! route — on the embedded store, or MongoDB when `MONGODB_URI` is set.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::{
    harness::{
        ChosenStore, Load, Server, Table, bench_user, chosen_store, client_runtime, interleave, wrk,
    },
    instances::drop_database,
    release_build, seconds_per_measurement,
};

const PORT: u16 = 3489;
const CALLBACK: &str = "http://127.0.0.1/callback";
/// Redemptions (and refresh chains) in flight at once.
const CONCURRENCY: usize = 8;

struct Client {
    id: String,
    secret: String,
}

/// Registers the benchmark's client as the bootstrap admin.
async fn register(http: &reqwest::Client, base: &str) -> Client {
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "oidc-admin", "password": "bench admin passphrase"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: Value = http
        .post(format!("{base}/auth/admin/clients"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .json(&json!({"name": "Bench", "redirect_uris": [CALLBACK]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Client {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// `count` codes for "bench", through the consent form as a browser without JavaScript
/// sends it.
async fn codes(
    base: &str,
    client: &Client,
    cookie: &str,
    scope: &str,
    count: usize,
) -> Vec<String> {
    let http = crate::harness::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}",
        client.id,
        urlencoding(CALLBACK),
        urlencoding(scope)
    );
    futures::stream::iter(0..count)
        .map(|_| {
            let (http, query) = (http.clone(), query.clone());
            async move {
                let answer = http
                    .post(format!("{base}/api/oauth2/consent"))
                    .header("origin", base)
                    .header("accept", "text/html")
                    .header("cookie", cookie)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("query={}&decision=allow", urlencoding(&query)))
                    .send()
                    .await
                    .unwrap();
                let location = answer.headers()["location"].to_str().unwrap().to_owned();
                url::Url::parse(&location)
                    .unwrap()
                    .query_pairs()
                    .find(|(name, _)| name == "code")
                    .expect("a code")
                    .1
                    .into_owned()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn token_call(http: &reqwest::Client, base: &str, client: &Client, body: String) -> Value {
    let answer = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "token endpoint: {}",
        answer.status()
    );
    answer.json().await.unwrap()
}

/// Redeems `codes` from `CONCURRENCY` tasks, each timing its calls.
fn redeem_all(runtime: &Runtime, base: &str, client: &Arc<Client>, codes: Vec<String>) -> Load {
    runtime.block_on(async {
        let queue = Arc::new(Mutex::new(codes));
        let http = crate::harness::http_client();
        let begun = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (queue, http, client, base) =
                    (queue.clone(), http.clone(), client.clone(), base.to_owned());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    loop {
                        let Some(code) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        let started = Instant::now();
                        let body = format!(
                            "grant_type=authorization_code&code={code}&redirect_uri={}",
                            urlencoding(CALLBACK)
                        );
                        token_call(&http, &base, &client, body).await;
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let elapsed = begun.elapsed().as_secs_f64();
        Load {
            rps: all.len() as f64 / elapsed,
            ..Load::of_latencies(all)
        }
    })
}

/// Each of `CONCURRENCY` tasks refreshes its own session in a chain for `secs`.
fn refresh_chains(
    runtime: &Runtime,
    base: &str,
    client: &Arc<Client>,
    refresh_tokens: Vec<String>,
    secs: u64,
) -> Load {
    runtime.block_on(async {
        let http = crate::harness::http_client();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = refresh_tokens
            .into_iter()
            .map(|mut refresh| {
                let (http, client, base) = (http.clone(), client.clone(), base.to_owned());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let started = Instant::now();
                        let answer = token_call(
                            &http,
                            &base,
                            &client,
                            format!("grant_type=refresh_token&refresh_token={refresh}"),
                        )
                        .await;
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        Load {
            rps: all.len() as f64 / secs as f64,
            ..Load::of_latencies(all)
        }
    })
}

pub fn run() {
    let secs = seconds_per_measurement();
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let runtime = client_runtime();
    let mut table = Table(Vec::new());
    let ChosenStore {
        env: mut store,
        label: store_label,
        mongo,
    } = chosen_store(&scratch.path().join("oidc"));
    store.push((
        "GATEHOUSE_BOOTSTRAP_ADMIN_USERNAME",
        "oidc-admin".to_owned(),
    ));
    store.push((
        "GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD",
        "bench admin passphrase".to_owned(),
    ));
    eprintln!("Gatehouse OpenID Connect benchmark ({store_label} store): {secs} s a measurement");
    let server = Server::start(&runtime, &binary, &site_root, &store, PORT);
    let access = bench_user(&runtime, &server);
    let cookie = format!("gatehouse_access={access}");
    let base = server.base.clone();
    let client = Arc::new(runtime.block_on(register(&crate::harness::http_client(), &base)));

    eprintln!("10. code redemption");
    // Codes live a minute: made just before, as many as a measurement redeems at most.
    let count = (secs as usize * 600).clamp(500, 6000);
    let fresh = runtime.block_on(codes(&base, &client, &cookie, "openid profile", count));
    let redemption = redeem_all(&runtime, &base, &client, fresh);
    table.add(
        "10. code redemption POST /oauth2/token",
        redemption.show(),
        "",
    );

    eprintln!("10. refresh");
    let offline = runtime.block_on(codes(
        &base,
        &client,
        &cookie,
        "openid offline_access",
        CONCURRENCY,
    ));
    let refresh_tokens: Vec<String> = runtime.block_on(async {
        let http = crate::harness::http_client();
        let mut tokens = Vec::new();
        for code in offline {
            let body = format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}",
                urlencoding(CALLBACK)
            );
            let answer = token_call(&http, &base, &client, body).await;
            tokens.push(answer["refresh_token"].as_str().unwrap().to_owned());
        }
        tokens
    });
    let refresh = refresh_chains(&runtime, &base, &client, refresh_tokens, secs);
    table.add("10. refresh POST /oauth2/token", refresh.show(), "");

    eprintln!("10. UserInfo and the bare route, interleaved");
    let app_token = runtime.block_on(async {
        let code = codes(&base, &client, &cookie, "openid profile email", 1).await;
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}",
            code[0],
            urlencoding(CALLBACK)
        );
        let answer = token_call(&crate::harness::http_client(), &base, &client, body).await;
        answer["access_token"].as_str().unwrap().to_owned()
    });
    let bearer = format!("Authorization: Bearer {app_token}");
    let (healthz, userinfo) = (format!("{base}/healthz"), format!("{base}/oauth2/userinfo"));
    let loads = interleave(
        2,
        &mut [&mut || wrk(&healthz, secs, &[]), &mut || {
            wrk(&userinfo, secs, &["-H", &bearer])
        }],
    );
    let [bare, info] = loads[..] else {
        unreachable!()
    };
    table.add("10. bare GET /healthz", bare.show(), "");
    table.add("10. UserInfo GET /oauth2/userinfo", info.show(), "");
    table.add(
        "10. UserInfo ÷ bare, req/s",
        format!("{:.2}", info.rps / bare.rps),
        "≥ 0.60",
    );
    server.stop();
    if let Some((url, name)) = &mongo {
        drop_database(&runtime, url, name);
    }
    table.print();
}
