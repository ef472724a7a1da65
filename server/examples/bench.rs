//! The Gatehouse benchmark: starts the release server twice, on a small and on a big
//! temporary embedded store, and measures them with `wrk` (loopback only, bounded in
//! time), interleaving the runs of every comparison (A/B/A/B), then prints one table.
//! Run it with `scripts/bench` (not part of the tests).
//!
//! Seconds per measurement: `BENCH_SECS` (default 5).

// A benchmark harness, not the service: a failed step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash::phc::PasswordHash};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const PASSWORD: &str = "benchmark passphrase 1";
const SMALL_PORT: u16 = 3477;
const BIG_PORT: u16 = 3478;
const THREADS: &str = "2";
const CONNECTIONS: &str = "32";

struct Table(Vec<[String; 3]>);

impl Table {
    fn add(&mut self, what: impl Into<String>, value: impl Into<String>, target: &str) {
        let row = [what.into(), value.into(), target.to_owned()];
        eprintln!("  {} = {}", row[0], row[1]);
        self.0.push(row);
    }

    fn print(&self) {
        println!("\n| measurement | result | target |\n|---|---|---|");
        for [what, value, target] in &self.0 {
            println!("| {what} | {value} | {target} |");
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Load {
    fn mean(runs: &[Load]) -> Load {
        let n = runs.len() as f64;
        Load {
            rps: runs.iter().map(|r| r.rps).sum::<f64>() / n,
            p50_ms: runs.iter().map(|r| r.p50_ms).sum::<f64>() / n,
            p99_ms: runs.iter().map(|r| r.p99_ms).sum::<f64>() / n,
        }
    }

    fn show(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            self.rps, self.p50_ms, self.p99_ms
        )
    }
}

struct Server {
    child: Child,
    base: String,
    started_in: Duration,
}

impl Server {
    fn start(
        runtime: &Runtime,
        binary: &Path,
        site_root: &Path,
        data_dir: &Path,
        port: u16,
    ) -> Server {
        let begun = Instant::now();
        let child = Command::new(binary)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_DATA_DIR", data_dir)
            .env("LEPTOS_SITE_ROOT", site_root)
            .env("RUST_LOG", "error")
            // One client address sends everything: keep the per-address limits away.
            .env("GATEHOUSE_LOGIN_FAILURES_PER_IP", "100000000")
            .env("GATEHOUSE_SIGNUPS_PER_IP", "100000000")
            .env("GATEHOUSE_REFRESHES_PER_IP", "100000000")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start target/release/gatehouse (cargo leptos build --release)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        runtime.block_on(async {
            loop {
                if let Ok(response) = http.get(format!("{base}/healthz")).send().await
                    && response.status().is_success()
                {
                    break;
                }
                assert!(
                    begun.elapsed() < Duration::from_secs(30),
                    "the server did not start"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        Server {
            child,
            base,
            started_in: begun.elapsed(),
        }
    }

    fn memory_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with(field))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    }

    /// Stops the server; returns its peak RSS in KiB.
    fn stop(mut self) -> u64 {
        let peak = self.memory_kib("VmHWM:");
        let _ = self.child.kill();
        let _ = self.child.wait();
        peak
    }
}

fn wrk(url: &str, secs: u64, extra: &[&str]) -> Load {
    let duration = format!("{secs}s");
    let mut args = vec![
        "-t",
        THREADS,
        "-c",
        CONNECTIONS,
        "-d",
        &duration,
        "--latency",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let output = Command::new("wrk")
        .args(&args)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        eprintln!("warning: wrk saw non-2xx answers from {url}:\n{text}");
    }
    let mut load = Load::default();
    for line in text.lines() {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["Requests/sec:", rps] => load.rps = rps.parse().unwrap_or(0.0),
            ["50%", latency] => load.p50_ms = millis(latency),
            ["99%", latency] => load.p99_ms = millis(latency),
            _ => {}
        }
    }
    load
}

fn millis(latency: &str) -> f64 {
    let split = latency
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(latency.len());
    let (number, unit) = latency.split_at(split);
    let number: f64 = number.parse().unwrap_or(0.0);
    match unit {
        "us" => number / 1000.0,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => number,
    }
}

/// A/B/A/B with the same settings; returns the means.
/// Runs each measurement once per round, in turn, every other round in reverse
/// (A B C, C B A, ...), so that a steady drift over time (heat, a busy host) touches
/// every one alike; returns each one's mean.
fn interleave(rounds: usize, measurements: &mut [&mut dyn FnMut() -> Load]) -> Vec<Load> {
    let mut runs = vec![Vec::new(); measurements.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..measurements.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            runs[index].push(measurements[index]());
        }
    }
    runs.iter().map(|runs| Load::mean(runs)).collect()
}

/// argon2id verifications per second on every core, with the service's default parameters
/// and the same crate version.
fn raw_argon2_rate(secs: u64) -> Load {
    let hash = Argon2::default()
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers: Vec<_> = (0..cores)
        .map(|_| {
            let (hash, stop) = (hash.clone(), stop.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&hash).unwrap();
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    Argon2::default()
                        .verify_password(PASSWORD.as_bytes(), &parsed)
                        .unwrap();
                    count += 1;
                }
                count
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    Load {
        rps: total as f64 / secs as f64,
        ..Load::default()
    }
}

/// Rotation under load: each client owns a session and refreshes it in a chain (clients
/// sharing one refresh token would, correctly, end it by reuse detection).
fn refresh_chain(runtime: &Runtime, base: &str, clients: usize, secs: u64) -> Load {
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (http, base) = (http.clone(), base.to_owned());
                tokio::spawn(async move {
                    let login = log_in(&http, &base).await;
                    let mut refresh = login["refresh_token"].as_str().unwrap().to_owned();
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let begun = Instant::now();
                        let answer: Value = http
                            .post(format!("{base}/auth/refresh"))
                            .bearer_auth(&refresh)
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        latencies.push(begun.elapsed().as_secs_f64() * 1000.0);
                        refresh = answer["refresh_token"]
                            .as_str()
                            .expect("a rotated refresh token")
                            .to_owned();
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort_by(f64::total_cmp);
        let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
        Load {
            rps: all.len() as f64 / secs as f64,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
        }
    })
}

/// A million users and a million revoked token ids, written straight into SQLite, so the
/// hot paths can be measured against a big store.
fn seed_big_store(data_dir: &Path, count: usize) {
    let mut db = rusqlite::Connection::open(data_dir.join("gatehouse.sqlite3")).unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut user = tx
            .prepare(
                "INSERT INTO users (id, username, username_key, password_hash, role, disabled, created_at)
                 VALUES (?1, ?2, ?2, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo', 'user', 0, 0)",
            )
            .unwrap();
        let mut revoked = tx
            .prepare("INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)")
            .unwrap();
        for i in 0..count {
            user.execute(rusqlite::params![
                format!("bulk-user-{i:08}"),
                format!("bulk-{i:08}")
            ])
            .unwrap();
            revoked
                .execute(rusqlite::params![format!("bulk-jti-{i:08}"), i64::MAX / 2])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// A signed-up user "bench" on this server, and a valid access token of theirs.
fn bench_user(runtime: &Runtime, server: &Server) -> String {
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let credentials = json!({"username": "bench", "password": PASSWORD});
        http.post(format!("{}/auth/signup", server.base))
            .json(&credentials)
            .send()
            .await
            .unwrap();
        let login = log_in(&http, &server.base).await;
        login["access_token"].as_str().unwrap().to_owned()
    })
}

/// The login answer (tokens and user) for "bench".
async fn log_in(http: &reqwest::Client, base: &str) -> Value {
    http.post(format!("{base}/auth/login"))
        .json(&json!({"username": "bench", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = workspace.join("target/release/gatehouse");
    let site_root = workspace.join("target/site");
    let scratch = tempfile::tempdir().unwrap();
    let small_dir = scratch.path().join("small");
    let big_dir = scratch.path().join("big");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut table = Table(Vec::new());

    eprintln!(
        "Gatehouse benchmark: {secs} s a measurement, wrk -t{THREADS} -c{CONNECTIONS}, loopback"
    );
    eprintln!("seeding the big store: 1,000,000 users and 1,000,000 revoked token ids");
    let seeding = Instant::now();
    // The server creates the schema; the rows go in while no server runs.
    Server::start(&runtime, &binary, &site_root, &big_dir, BIG_PORT).stop();
    seed_big_store(&big_dir, 1_000_000);
    eprintln!("   seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let small = Server::start(&runtime, &binary, &site_root, &small_dir, SMALL_PORT);
    table.add(
        "6. start to first /healthz answer",
        format!("{:.0} ms", small.started_in.as_secs_f64() * 1000.0),
        "≤ 500 ms",
    );
    std::thread::sleep(Duration::from_millis(300));
    table.add(
        "6. idle RSS after start",
        format!("{:.1} MB", small.memory_kib("VmRSS:") as f64 / 1024.0),
        "≤ 30 MB",
    );
    let big = Server::start(&runtime, &binary, &site_root, &big_dir, BIG_PORT);
    table.add(
        "6. big store: start to first /healthz answer",
        format!("{:.0} ms", big.started_in.as_secs_f64() * 1000.0),
        "≤ 500 ms",
    );

    let small_bearer = format!("Authorization: Bearer {}", bench_user(&runtime, &small));
    let big_bearer = format!("Authorization: Bearer {}", bench_user(&runtime, &big));
    let login_lua = scratch.path().join("login.lua");
    std::fs::File::create(&login_lua)
        .unwrap()
        .write_all(
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.body = '{{\"username\":\"bench\",\"password\":\"{PASSWORD}\"}}'\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let login_lua = login_lua.to_str().unwrap();
    let url = |server: &Server, path: &str| format!("{}{path}", server.base);
    let (small_healthz, big_healthz) = (url(&small, "/healthz"), url(&big, "/healthz"));
    let (small_dashboard, big_dashboard) =
        (url(&small, "/auth/dashboard"), url(&big, "/auth/dashboard"));
    let (small_login, big_login) = (url(&small, "/auth/login"), url(&big, "/auth/login"));

    eprintln!("1. bare vs protected route, small and big store interleaved");
    let loads = interleave(
        2,
        &mut [
            &mut || wrk(&small_healthz, secs, &[]),
            &mut || wrk(&small_dashboard, secs, &["-H", &small_bearer]),
            &mut || wrk(&big_healthz, secs, &[]),
            &mut || wrk(&big_dashboard, secs, &["-H", &big_bearer]),
        ],
    );
    let [bare, protected, big_bare, big_protected] = loads[..] else {
        unreachable!()
    };
    for (label, bare, protected) in [
        ("", bare, protected),
        ("big store: ", big_bare, big_protected),
    ] {
        table.add(format!("1. {label}bare GET /healthz"), bare.show(), "");
        table.add(
            format!("1. {label}protected GET /auth/dashboard"),
            protected.show(),
            "",
        );
        table.add(
            format!("1. {label}protected ÷ bare, req/s"),
            format!("{:.2}", protected.rps / bare.rps),
            "≥ 0.60",
        );
    }

    eprintln!("2. login vs raw argon2id, small and big store interleaved");
    let loads = interleave(
        2,
        &mut [
            &mut || raw_argon2_rate(secs),
            &mut || wrk(&small_login, secs, &["-s", login_lua]),
            &mut || wrk(&big_login, secs, &["-s", login_lua]),
        ],
    );
    let [raw, login, big_login] = loads[..] else {
        unreachable!()
    };
    table.add(
        "2. raw argon2id verifications, all cores",
        format!("{:.1} /s", raw.rps),
        "",
    );
    for (label, login) in [("", login), ("big store: ", big_login)] {
        table.add(format!("2. {label}POST /auth/login"), login.show(), "");
        table.add(
            format!("2. {label}login ÷ raw argon2id"),
            format!("{:.2}", login.rps / raw.rps),
            "≥ 0.90",
        );
    }
    // Each server's figure against its own bare route (or the same raw rate), so that
    // what differs is the store, not how the two processes happen to run.
    table.add(
        "5. big ÷ small store, protected÷bare",
        format!(
            "{:.2}",
            (big_protected.rps / big_bare.rps) / (protected.rps / bare.rps)
        ),
        "≥ 0.90",
    );
    table.add(
        "5. big ÷ small store, login÷raw",
        format!("{:.2}", big_login.rps / login.rps),
        "≥ 0.90",
    );
    table.add(
        "5. big ÷ small store, protected req/s as measured",
        format!("{:.2}", big_protected.rps / protected.rps),
        "",
    );

    eprintln!("3. protected-route latency while logins saturate the CPU");
    // Two rounds (idle, storm, storm, idle): a p99 over a few seconds is a noisy figure.
    let loads = interleave(
        2,
        &mut [
            &mut || wrk(&small_dashboard, secs, &["-H", &small_bearer, "-c", "4"]),
            &mut || {
                std::thread::scope(|scope| {
                    let storm =
                        scope.spawn(|| wrk(&small_login, secs + 2, &["-s", login_lua, "-c", "64"]));
                    std::thread::sleep(Duration::from_millis(700));
                    let during = wrk(&small_dashboard, secs, &["-H", &small_bearer, "-c", "4"]);
                    storm.join().unwrap();
                    during
                })
            },
        ],
    );
    let [idle, storm] = loads[..] else {
        unreachable!()
    };
    table.add("3. protected, idle (4 connections)", idle.show(), "");
    table.add(
        "3. protected, during a login storm (4 connections)",
        storm.show(),
        "",
    );
    table.add(
        "3. storm p99 ÷ idle p99",
        format!("{:.2}", storm.p99_ms / idle.p99_ms.max(0.001)),
        "≤ 3",
    );

    eprintln!("4. refresh (rotation writes)");
    let refresh = refresh_chain(&runtime, &small.base, 16, secs);
    table.add(
        "4. POST /auth/refresh, 16 chained clients",
        refresh.show(),
        "",
    );

    let peak_kib = small.stop().max(big.stop());
    table.add(
        "6. peak RSS during the runs",
        format!("{:.1} MB", peak_kib as f64 / 1024.0),
        "",
    );

    // The build gives it a content-hashed name: gatehouse.<hash>.wasm.
    let wasm_path = std::fs::read_dir(site_root.join("pkg"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("gatehouse") && name.ends_with(".wasm")
        })
        .expect("the release build's WASM in site/pkg");
    let wasm = std::fs::read(wasm_path).unwrap();
    let mut compressed = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &wasm[..], &mut compressed, &params).unwrap();
    table.add(
        "7. release WASM, raw",
        format!("{:.0} KB", wasm.len() as f64 / 1000.0),
        "",
    );
    table.add(
        "7. release WASM, brotli",
        format!("{:.0} KB", compressed.len() as f64 / 1000.0),
        "≤ 150 KB",
    );

    table.print();
}
