//! Three servers on one store, as behind a load balancer: the embedded store by default,
//! MongoDB when `MONGODB_URI` is set (in a database of its own, dropped afterwards).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::runtime::Runtime;

use crate::{
    harness::{
        CONNECTIONS, Load, Server, THREADS, Table, client_runtime, interleave, log_in,
        login_script, refresh_chain, sign_up_bench_accounts, wrk,
    },
    release_build, seconds_per_measurement,
};

const PORTS: [u16; 3] = [3481, 3482, 3483];
/// Sign-in, revoke on one, watch the other two: this many times.
const VISIBILITY_TRIALS: usize = 60;
/// The servers run with the default bound.
const BOUND: Duration = Duration::from_secs(1);

pub fn run() {
    let secs = seconds_per_measurement();
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let runtime = client_runtime();
    let mongo = std::env::var("MONGODB_URI").ok().map(|url| {
        let name = format!("gatehouse_bench_{}", uuid::Uuid::now_v7().simple());
        (url, name)
    });
    let store: Vec<(&str, String)> = match &mongo {
        Some((url, name)) => vec![
            ("GATEHOUSE_DATABASE_URL", url.clone()),
            ("GATEHOUSE_DATABASE_NAME", name.clone()),
        ],
        None => vec![("GATEHOUSE_DATA_DIR", scratch.path().display().to_string())],
    };
    let store_name = if mongo.is_some() {
        "MongoDB"
    } else {
        "embedded"
    };
    let mut table = Table(Vec::new());
    eprintln!(
        "Gatehouse benchmark, three instances on one {store_name} store: {secs} s a \
         measurement, wrk -t{THREADS} -c{CONNECTIONS}, loopback"
    );
    let servers: Vec<Server> = PORTS
        .iter()
        .map(|&port| Server::start(&runtime, &binary, &site_root, &store, port))
        .collect();
    let bases: Vec<String> = servers.iter().map(|server| server.base.clone()).collect();
    let bearers = runtime.block_on(sign_up_and_log_in_everywhere(&bases));

    eprintln!("1. bare vs protected route on each instance, interleaved");
    let healthz: Vec<String> = bases.iter().map(|base| format!("{base}/healthz")).collect();
    let dashboard: Vec<String> = bases
        .iter()
        .map(|base| format!("{base}/auth/dashboard"))
        .collect();
    let headers: Vec<String> = bearers
        .iter()
        .map(|bearer| format!("Authorization: Bearer {bearer}"))
        .collect();
    let mut runs: Vec<Box<dyn FnMut() -> Load + '_>> = Vec::new();
    for instance in 0..servers.len() {
        let (bare, protected, header) =
            (&healthz[instance], &dashboard[instance], &headers[instance]);
        runs.push(Box::new(move || wrk(bare, secs, &[])));
        runs.push(Box::new(move || wrk(protected, secs, &["-H", header])));
    }
    let mut measurements: Vec<&mut dyn FnMut() -> Load> =
        runs.iter_mut().map(|run| run.as_mut() as _).collect();
    let loads = interleave(2, &mut measurements);
    for (instance, pair) in loads.chunks(2).enumerate() {
        let [bare, protected] = pair else {
            unreachable!()
        };
        let name = instance + 1;
        table.add(
            format!("1. instance {name}: bare GET /healthz"),
            bare.show(),
            "",
        );
        table.add(
            format!("1. instance {name}: protected GET /auth/dashboard"),
            protected.show(),
            "",
        );
        table.add(
            format!("1. instance {name}: protected ÷ bare, req/s"),
            format!("{:.2}", protected.rps / bare.rps),
            "≥ 0.60",
        );
    }

    eprintln!("2. revocation on one instance, seen by the other two ({VISIBILITY_TRIALS} trials)");
    let (visible, late) = runtime.block_on(revocation_visibility(&bases));
    table.add(
        "2. logout on one instance → refused by the others",
        format!(
            "p50 {:.1} ms, p99 {:.1} ms ({} observations)",
            visible.p50_ms,
            visible.p99_ms,
            VISIBILITY_TRIALS * (bases.len() - 1)
        ),
        "p99 ≤ 250 ms",
    );
    table.add("2. accepted after the bound (1 s)", late.to_string(), "0");

    eprintln!("3. logins spread over the three instances");
    let login_lua = login_script(scratch.path());
    let login_lua = login_lua.to_str().unwrap();
    let logins: Vec<String> = bases
        .iter()
        .map(|base| format!("{base}/auth/login"))
        .collect();
    let per_instance: Vec<Load> = std::thread::scope(|scope| {
        let storms: Vec<_> = logins
            .iter()
            .map(|url| scope.spawn(move || wrk(url, secs, &["-s", login_lua, "-c", "8"])))
            .collect();
        storms
            .into_iter()
            .map(|storm| storm.join().unwrap())
            .collect()
    });
    table.add(
        "3. POST /auth/login, all three at once",
        format!(
            "{:.1} logins/s in all (p99 {:.0} ms)",
            per_instance.iter().map(|load| load.rps).sum::<f64>(),
            per_instance
                .iter()
                .map(|load| load.p99_ms)
                .fold(0.0, f64::max)
        ),
        "",
    );

    eprintln!("4. refresh chains, each refresh sent to the next instance");
    let refresh = refresh_chain(&runtime, &bases, 16, secs);
    table.add(
        "4. POST /auth/refresh, 16 chained clients across instances",
        refresh.show(),
        "",
    );

    for server in servers {
        server.stop();
    }
    if let Some((url, name)) = mongo {
        drop_database(&runtime, &url, &name);
    }
    println!("\nThree instances on one {store_name} store");
    table.print();
}

/// The benchmark accounts signed up once and logged in on each instance: one access token each.
async fn sign_up_and_log_in_everywhere(bases: &[String]) -> Vec<String> {
    let http = crate::harness::http_client();
    sign_up_bench_accounts(&bases[0]).await;
    let mut bearers = Vec::new();
    for base in bases {
        let login = log_in(&http, base).await;
        bearers.push(login["access_token"].as_str().unwrap().to_owned());
    }
    bearers
}

/// From a logout's answer on one instance to each other instance's first refusal, polled
/// every millisecond; and how many of them still accepted once the bound had passed.
async fn revocation_visibility(bases: &[String]) -> (Load, usize) {
    let http = crate::harness::http_client();
    let mut delays = Vec::new();
    let mut late = 0;
    for trial in 0..VISIBILITY_TRIALS {
        let revoker = &bases[trial % bases.len()];
        let login = log_in(&http, revoker).await;
        let access = login["access_token"].as_str().unwrap().to_owned();
        let others: Vec<&String> = bases.iter().filter(|base| *base != revoker).collect();
        for other in &others {
            // Twice: the second answer comes from the instance's memory.
            for _ in 0..2 {
                let status = dashboard(&http, other, &access).await;
                assert_eq!(status, StatusCode::OK);
            }
        }
        let logout = http
            .post(format!("{revoker}/auth/logout"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::OK);
        let returned = Instant::now();
        let watchers = others.iter().map(|other| {
            let (http, access) = (&http, &access);
            async move {
                loop {
                    if dashboard(http, other, access).await != StatusCode::OK {
                        return returned.elapsed();
                    }
                    if returned.elapsed() > 2 * BOUND {
                        return returned.elapsed();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        for delay in futures_util::future::join_all(watchers).await {
            late += usize::from(delay >= BOUND);
            delays.push(delay.as_secs_f64() * 1000.0);
        }
    }
    (Load::of_latencies(delays), late)
}

async fn dashboard(http: &reqwest::Client, base: &str, access: &str) -> StatusCode {
    http.get(format!("{base}/auth/dashboard"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

pub fn drop_database(runtime: &Runtime, url: &str, name: &str) {
    runtime.block_on(async {
        let store = server::store::mongo::MongoStore::connect_lazily(url, Some(name))
            .await
            .unwrap();
        store.drop_database().await.unwrap();
    });
}
