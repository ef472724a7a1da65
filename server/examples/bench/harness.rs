//! What every benchmark mode shares: the table, `wrk` runs and their figures, a server
//! process, interleaving, chained refreshes, the benchmark user.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

pub const PASSWORD: &str = "benchmark passphrase 1";
pub const THREADS: &str = "2";
pub const CONNECTIONS: &str = "32";
/// Accounts the login loads sign in to, in turn: parallel guesses at one account are
/// throttled (at most the lockout threshold may be in flight), so a login load spreads
/// over many accounts as real sign-ins do.
pub const LOGIN_ACCOUNTS: usize = 128;

pub struct Table(pub Vec<[String; 3]>);

impl Table {
    pub fn add(&mut self, what: impl Into<String>, value: impl Into<String>, target: &str) {
        let row = [what.into(), value.into(), target.to_owned()];
        eprintln!("  {} = {}", row[0], row[1]);
        self.0.push(row);
    }

    pub fn print(&self) {
        println!("\n| measurement | result | target |\n|---|---|---|");
        for [what, value, target] in &self.0 {
            println!("| {what} | {value} | {target} |");
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers that were not 2xx (wrk counts them in the rate).
    pub failed: f64,
    /// Requests answered in the run (`wrk` only).
    pub requests: f64,
    /// The server's CPU time (user and system, all threads) per answered request, in
    /// microseconds, where the run was measured with `Server::cpu_of`: unlike the rate,
    /// it does not depend on how the two cores were shared with the load generator.
    pub server_cpu_us: f64,
}

impl Load {
    pub fn mean(runs: &[Load]) -> Load {
        let n = runs.len() as f64;
        Load {
            rps: runs.iter().map(|r| r.rps).sum::<f64>() / n,
            p50_ms: runs.iter().map(|r| r.p50_ms).sum::<f64>() / n,
            p99_ms: runs.iter().map(|r| r.p99_ms).sum::<f64>() / n,
            failed: runs.iter().map(|r| r.failed).sum::<f64>() / n,
            requests: runs.iter().map(|r| r.requests).sum::<f64>() / n,
            server_cpu_us: runs.iter().map(|r| r.server_cpu_us).sum::<f64>() / n,
        }
    }

    /// p50 and p99 of latencies in milliseconds (no rate).
    pub fn of_latencies(mut latencies_ms: Vec<f64>) -> Load {
        latencies_ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            latencies_ms
                .get(
                    ((latencies_ms.len() as f64 * q) as usize)
                        .min(latencies_ms.len().saturating_sub(1)),
                )
                .copied()
                .unwrap_or(0.0)
        };
        Load {
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            ..Load::default()
        }
    }

    pub fn show(&self) -> String {
        let failed = if self.failed > 0.0 {
            format!(" ({:.0} answers not 2xx)", self.failed)
        } else {
            String::new()
        };
        format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{failed}",
            self.rps, self.p50_ms, self.p99_ms
        )
    }
}

pub struct Server {
    child: Child,
    pub base: String,
    pub started_in: Duration,
}

impl Server {
    /// `store` names the store in environment variables (`GATEHOUSE_DATA_DIR`, or a
    /// MongoDB URL and database).
    pub fn start(
        runtime: &Runtime,
        binary: &Path,
        site_root: &Path,
        store: &[(&str, String)],
        port: u16,
    ) -> Server {
        Server::start_command(runtime, Command::new(binary), site_root, store, port)
    }

    /// As `start`, with the binary inside `command` (e.g. under valgrind).
    pub fn start_command(
        runtime: &Runtime,
        mut command: Command,
        site_root: &Path,
        store: &[(&str, String)],
        port: u16,
    ) -> Server {
        let begun = Instant::now();
        let child = command
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .envs(store.iter().map(|(name, value)| (*name, value)))
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
        let http = http_client();
        runtime.block_on(async {
            loop {
                if let Ok(response) = http.get(format!("{base}/healthz")).send().await
                    && response.status().is_success()
                {
                    break;
                }
                assert!(
                    begun.elapsed() < Duration::from_secs(120),
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

    pub fn memory_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with(field))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    }

    /// Runs `measure` (a `wrk` run against this server) and notes the server's CPU time
    /// per request it answered.
    pub fn cpu_of(&self, measure: impl FnOnce() -> Load) -> Load {
        let before = self.cpu_seconds();
        let mut load = measure();
        let spent = self.cpu_seconds() - before;
        if load.requests > 0.0 {
            load.server_cpu_us = spent * 1e6 / load.requests;
        }
        load
    }

    /// User and system time of all the server's threads so far (`/proc/PID/stat`).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The command name may hold spaces; the fields counted here follow its `)`.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|t| t.parse::<f64>().ok());
        // utime and stime are the 14th and 15th fields, 12th and 13th after the name.
        let (Some(user), Some(system)) = (ticks(11), ticks(12)) else {
            return 0.0;
        };
        // SAFETY: sysconf only reads a constant of the system.
        let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (user + system) / ticks_per_second
    }

    /// Stops the server as a service manager would (SIGTERM) and waits for it to exit.
    pub fn terminate(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.child.wait();
    }

    /// Stops the server; returns its peak RSS in KiB.
    pub fn stop(mut self) -> u64 {
        let peak = self.memory_kib("VmHWM:");
        let _ = self.child.kill();
        let _ = self.child.wait();
        peak
    }
}

pub fn wrk(url: &str, secs: u64, extra: &[&str]) -> Load {
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
            [requests, "requests", "in", ..] => load.requests = requests.parse().unwrap_or(0.0),
            ["50%", latency] => load.p50_ms = millis(latency),
            ["99%", latency] => load.p99_ms = millis(latency),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                load.failed = count.parse().unwrap_or(0.0)
            }
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

/// Runs each measurement once per round, in turn, every other round in reverse
/// (A B C, C B A, ...), so that a steady drift over time (heat, a busy host) touches
/// every one alike; returns each one's mean.
pub fn interleave(rounds: usize, measurements: &mut [&mut dyn FnMut() -> Load]) -> Vec<Load> {
    interleave_rounds(rounds, measurements)
        .iter()
        .map(|runs| Load::mean(runs))
        .collect()
}

/// As `interleave`, but returns every round of each measurement, so that ratios can be
/// taken within a round, between runs seconds apart.
pub fn interleave_rounds(
    rounds: usize,
    measurements: &mut [&mut dyn FnMut() -> Load],
) -> Vec<Vec<Load>> {
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
    runs
}

/// The ratio `of(top) ÷ of(bottom)` in each round: its median, lowest and highest. A
/// drift between rounds (on a shared 2-core machine a round's rate varies by ±10 %)
/// moves both sides of a round together; the median keeps one odd round from deciding.
pub fn round_ratios(top: &[Load], bottom: &[Load], of: fn(&Load) -> f64) -> Ratio {
    let mut ratios: Vec<f64> = top
        .iter()
        .zip(bottom)
        .map(|(top, bottom)| of(top) / of(bottom))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let middle = ratios.len() / 2;
    let median = if ratios.len().is_multiple_of(2) {
        (ratios[middle - 1] + ratios[middle]) / 2.0
    } else {
        ratios[middle]
    };
    Ratio {
        median,
        lowest: ratios[0],
        highest: ratios[ratios.len() - 1],
    }
}

pub struct Ratio {
    pub median: f64,
    pub lowest: f64,
    pub highest: f64,
}

impl Ratio {
    pub fn show(&self) -> String {
        format!(
            "{:.2} (rounds {:.2}–{:.2})",
            self.median, self.lowest, self.highest
        )
    }
}

/// Rotation under load: each client owns a session and refreshes it in a chain (clients
/// sharing one refresh token would, correctly, end it by reuse detection). With several
/// servers, each client sends each refresh to the next one in turn.
pub fn refresh_chain(runtime: &Runtime, bases: &[String], clients: usize, secs: u64) -> Load {
    runtime.block_on(async {
        let http = http_client();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..clients)
            .map(|client| {
                let (http, bases) = (http.clone(), bases.to_vec());
                tokio::spawn(async move {
                    let login =
                        log_in_as(&http, &bases[client % bases.len()], &login_account(client))
                            .await;
                    let mut refresh = login["refresh_token"].as_str().unwrap().to_owned();
                    let mut latencies = Vec::new();
                    for step in client.. {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let base = &bases[step % bases.len()];
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
        Load {
            rps: all.len() as f64 / secs as f64,
            ..Load::of_latencies(all)
        }
    })
}

/// GETs `url` with `header` (`name: value`, as `wrk -H` takes it) at a steady `rate` per
/// second for `secs` seconds, from `PACED_CLIENTS` connections taking turns, and times
/// each answer from its request's send. Each connection sends every 16 ms at 1000/s,
/// far longer than an answer takes, so a slow answer seldom holds back the next one. A
/// closed loop such as `wrk` measures something else: a saturating load generator's own
/// share of the CPU sets its tail, busy or not.
pub fn paced(runtime: &Runtime, url: &str, header: &str, rate: u32, secs: u64) -> Load {
    let (name, value) = header.split_once(": ").expect("a `name: value` header");
    const PACED_CLIENTS: u32 = 16;
    runtime.block_on(async {
        let period = Duration::from_secs(1) / rate;
        let begun = tokio::time::Instant::now() + Duration::from_millis(10);
        let total = rate as u64 * secs;
        let tasks: Vec<_> = (0..PACED_CLIENTS)
            .map(|client| {
                let http = http_client_builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let (url, name, value) = (url.to_owned(), name.to_owned(), value.to_owned());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    for turn in (client as u64..total).step_by(PACED_CLIENTS as usize) {
                        let due = begun + period * turn as u32;
                        tokio::time::sleep_until(due).await;
                        let sent = Instant::now();
                        let answer = http.get(&url).header(&name, &value).send().await.unwrap();
                        assert!(answer.status().is_success(), "{}", answer.status());
                        answer.bytes().await.unwrap();
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let answered = all.len() as f64;
        Load {
            rps: answered / begun.elapsed().as_secs_f64(),
            ..Load::of_latencies(all)
        }
    })
}

/// The benchmark's own runtime for its HTTP clients: one worker, so that it takes as
/// little of the server's cores as it can.
pub fn client_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The store of a one-server mode.
pub struct ChosenStore {
    /// As the server's environment variables.
    pub env: Vec<(&'static str, String)>,
    /// Its name for the table.
    pub label: &'static str,
    /// The MongoDB URL and database, to drop afterwards.
    pub mongo: Option<(String, String)>,
}

/// MongoDB in a database of its own when `MONGODB_URI` is set, else the embedded store
/// in `data_dir`.
pub fn chosen_store(data_dir: &Path) -> ChosenStore {
    match std::env::var("MONGODB_URI") {
        Ok(url) => {
            let name = format!("gatehouse_bench_{}", uuid::Uuid::now_v7().simple());
            ChosenStore {
                env: vec![
                    ("GATEHOUSE_DATABASE_URL", url.clone()),
                    ("GATEHOUSE_DATABASE_NAME", name.clone()),
                ],
                label: "MongoDB",
                mongo: Some((url, name)),
            }
        }
        Err(_) => ChosenStore {
            env: crate::one_server::in_dir(data_dir).to_vec(),
            label: "embedded",
            mongo: None,
        },
    }
}

/// The name of the `index`th login account.
pub fn login_account(index: usize) -> String {
    format!("bench-{}", index % LOGIN_ACCOUNTS)
}

/// Signs up "bench" and the `LOGIN_ACCOUNTS` login accounts on `base` (instances on one
/// store need it once).
pub async fn sign_up_bench_accounts(base: &str) {
    let http = http_client();
    let names = std::iter::once("bench".to_owned()).chain((0..LOGIN_ACCOUNTS).map(login_account));
    futures::stream::iter(names)
        .map(|username| {
            let http = http.clone();
            async move {
                let signup = http
                    .post(format!("{base}/auth/signup"))
                    .json(&json!({"username": username, "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    signup.status().is_success(),
                    "signing up {username}: {}",
                    signup.status()
                );
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
}

/// The benchmark accounts signed up on this server, and a valid access token of "bench".
pub fn bench_user(runtime: &Runtime, server: &Server) -> String {
    runtime.block_on(async {
        sign_up_bench_accounts(&server.base).await;
        let login = log_in(&http_client(), &server.base).await;
        login["access_token"].as_str().unwrap().to_owned()
    })
}

/// The login answer (tokens and user) for "bench".
pub async fn log_in(http: &reqwest::Client, base: &str) -> Value {
    log_in_as(http, base, "bench").await
}

/// The login answer (tokens and user) for one of the benchmark accounts.
pub async fn log_in_as(http: &reqwest::Client, base: &str, username: &str) -> Value {
    let answer = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "logging in {username}: {}",
        answer.status()
    );
    answer.json().await.unwrap()
}

/// A `wrk` script that logs in with every request, each thread taking the login accounts
/// in turn from its own starting point, so that no account has more than one or two
/// attempts in flight.
pub fn login_script(dir: &Path) -> PathBuf {
    let path = dir.join("login.lua");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(
            format!(
                r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads_set_up = 0
function setup(thread)
  thread:set("turn", threads_set_up * 61)
  threads_set_up = threads_set_up + 1
end
function request()
  turn = turn + 1
  local body = string.format('{{"username":"bench-%d","password":"{PASSWORD}"}}', turn % {LOGIN_ACCOUNTS})
  return wrk.format(nil, nil, nil, body)
end
"#
            )
            .as_bytes(),
        )
        .unwrap();
    path
}

/// The bench's HTTP clients use the server's TLS crypto (reqwest brings none of its own).
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap()
}

pub fn http_client_builder() -> reqwest::ClientBuilder {
    server::install_tls_crypto();
    reqwest::Client::builder()
}
