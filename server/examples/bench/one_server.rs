//! One server at a time, on a small and on a big embedded store.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::runtime::Runtime;

use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash::phc::PasswordHash};

use crate::{
    harness::{
        CONNECTIONS, Load, PASSWORD, Server, THREADS, Table, bench_user, client_runtime,
        interleave, login_script, paced, refresh_chain, wrk,
    },
    release_build, seconds_per_measurement,
};

const SMALL_PORT: u16 = 3477;
const BIG_PORT: u16 = 3478;

pub fn in_dir(data_dir: &Path) -> [(&'static str, String); 1] {
    [("GATEHOUSE_DATA_DIR", data_dir.display().to_string())]
}

/// argon2id verifications per second on every core, with the service's default parameters
/// and the same crate version.
pub fn raw_argon2_rate(secs: u64) -> Load {
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

pub fn run() {
    let secs = seconds_per_measurement();
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let small_dir = scratch.path().join("small");
    let big_dir = scratch.path().join("big");
    let runtime = client_runtime();
    let mut table = Table(Vec::new());

    eprintln!(
        "Gatehouse benchmark: {secs} s a measurement, wrk -t{THREADS} -c{CONNECTIONS}, loopback"
    );
    eprintln!("seeding the big store: 1,000,000 users and 1,000,000 revoked token ids");
    let seeding = Instant::now();
    // The server creates the schema; the rows go in while no server runs.
    Server::start(&runtime, &binary, &site_root, &in_dir(&big_dir), BIG_PORT).stop();
    seed_big_store(&big_dir, 1_000_000);
    eprintln!("   seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let small = Server::start(
        &runtime,
        &binary,
        &site_root,
        &in_dir(&small_dir),
        SMALL_PORT,
    );
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
    let big = Server::start(&runtime, &binary, &site_root, &in_dir(&big_dir), BIG_PORT);
    table.add(
        "6. big store: start to first /healthz answer",
        format!("{:.0} ms", big.started_in.as_secs_f64() * 1000.0),
        "≤ 500 ms",
    );

    let small_bearer = format!("Authorization: Bearer {}", bench_user(&runtime, &small));
    let big_bearer = format!("Authorization: Bearer {}", bench_user(&runtime, &big));
    let login_lua = login_script(scratch.path());
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
        add_login_rows(&mut table, label, login, raw);
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
    let target = StormTarget {
        dashboard: &small_dashboard,
        login: &small_login,
        bearer: &small_bearer,
        login_lua,
    };
    login_storm(&mut table, &runtime, &target, 2, secs);

    eprintln!("4. refresh (rotation writes)");
    let refresh = refresh_chain(&runtime, std::slice::from_ref(&small.base), 16, secs);
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

/// Section 2 for one server: its login rate against raw argon2id, interleaved `rounds`
/// times. Returns when the last login measurement ended.
pub fn login_against_raw(
    table: &mut Table,
    server: &Server,
    login: &str,
    login_lua: &str,
    rounds: usize,
    secs: u64,
) -> Instant {
    let mut last_login = Instant::now();
    let mut machine = MachineCpu::default();
    let loads = interleave(
        rounds,
        &mut [&mut || raw_argon2_rate(secs), &mut || {
            let before = MachineCpu::now();
            let load = server.cpu_of(|| wrk(login, secs, &["-s", login_lua]));
            machine.add_since(&before);
            last_login = Instant::now();
            load
        }],
    );
    let [raw, logins] = loads[..] else {
        unreachable!()
    };
    table.add(
        "2. raw argon2id verifications, all cores",
        format!("{:.1} /s", raw.rps),
        "",
    );
    add_login_rows(table, "", logins, raw);
    // Where the machine's CPU went while logins ran: a login rate below the raw rate with
    // the server's share below the machine's is the store's processes on the same cores.
    let server_share = logins.server_cpu_us * logins.rps / 1e6 / cores();
    table.add(
        "2. during the logins: server CPU per login; the machine's CPU, server and the rest",
        format!(
            "{:.1} ms; {:.0} % and {:.0} %",
            logins.server_cpu_us / 1000.0,
            server_share * 100.0,
            (machine.busy_share() - server_share) * 100.0
        ),
        "",
    );
    last_login
}

/// The machine's CPU time, busy and in all, from `/proc/stat`'s first line (in ticks).
#[derive(Default)]
struct MachineCpu {
    busy: u64,
    total: u64,
}

impl MachineCpu {
    fn now() -> MachineCpu {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        // cpu user nice system idle iowait irq softirq steal …
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        let field = |index: usize| ticks.get(index).copied().unwrap_or(0);
        let idle = field(3) + field(4);
        let total: u64 = ticks.iter().take(8).sum();
        MachineCpu {
            busy: total - idle,
            total,
        }
    }

    fn add_since(&mut self, before: &MachineCpu) {
        let now = MachineCpu::now();
        self.busy += now.busy - before.busy;
        self.total += now.total - before.total;
    }

    fn busy_share(&self) -> f64 {
        self.busy as f64 / self.total.max(1) as f64
    }
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |cores| cores.get() as f64)
}

/// Section 2's rows for one server: its login rate, and that rate against raw argon2id.
fn add_login_rows(table: &mut Table, label: &str, login: Load, raw: Load) {
    table.add(format!("2. {label}POST /auth/login"), login.show(), "");
    table.add(
        format!("2. {label}login ÷ raw argon2id"),
        format!("{:.2}", login.rps / raw.rps),
        "≥ 0.90",
    );
}

/// Protected requests a second in section 3: a steady load well below what the server
/// answers, as real traffic is.
const PACED_RATE: u32 = 1000;

/// Section 3: the protected route at a steady rate, idle and while 64 connections log
/// in, `rounds` times each (idle, storm, storm, idle, …): a p99 over a few seconds is a
/// noisy figure.
/// The URLs and credentials a login storm is measured with.
struct StormTarget<'a> {
    dashboard: &'a str,
    login: &'a str,
    bearer: &'a str,
    login_lua: &'a str,
}

fn login_storm(
    table: &mut Table,
    runtime: &Runtime,
    target: &StormTarget,
    rounds: usize,
    secs: u64,
) {
    let StormTarget {
        dashboard,
        login,
        bearer,
        login_lua,
    } = *target;
    let loads = interleave(
        rounds,
        &mut [
            &mut || paced(runtime, dashboard, bearer, PACED_RATE, secs),
            &mut || {
                std::thread::scope(|scope| {
                    let storm =
                        scope.spawn(|| wrk(login, secs + 2, &["-s", login_lua, "-c", "64"]));
                    std::thread::sleep(Duration::from_millis(700));
                    let during = paced(runtime, dashboard, bearer, PACED_RATE, secs);
                    let storm = storm.join().unwrap();
                    assert_eq!(storm.failed, 0.0, "every login of the storm must succeed");
                    during
                })
            },
        ],
    );
    let [idle, storm] = loads[..] else {
        unreachable!()
    };
    table.add(
        format!("3. protected at {PACED_RATE} req/s, idle"),
        idle.show(),
        "",
    );
    table.add(
        format!("3. protected at {PACED_RATE} req/s, during a login storm (64 connections)"),
        storm.show(),
        "",
    );
    table.add(
        "3. storm p99 ÷ idle p99",
        format!("{:.2}", storm.p99_ms / idle.p99_ms.max(0.001)),
        "≤ 2",
    );
}

/// `scripts/bench storm`: only what a login storm moves (sections 2 and 3), on a small
/// store, in three rounds each. The server inherits this process's environment, so
/// `GATEHOUSE_MAX_CONCURRENT_HASHES=1 scripts/bench storm` measures fewer hashing threads.
pub fn storm() {
    let secs = seconds_per_measurement();
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let runtime = client_runtime();
    let mut table = Table(Vec::new());
    eprintln!("Gatehouse login-storm benchmark: {secs} s a measurement, loopback");
    let server = Server::start(
        &runtime,
        &binary,
        &site_root,
        &in_dir(&scratch.path().join("small")),
        SMALL_PORT,
    );
    let bearer = format!("Authorization: Bearer {}", bench_user(&runtime, &server));
    let login_lua = login_script(scratch.path());
    let login_lua = login_lua.to_str().unwrap();
    let dashboard = format!("{}/auth/dashboard", server.base);
    let login = format!("{}/auth/login", server.base);

    eprintln!("2. login vs raw argon2id");
    login_against_raw(&mut table, &server, &login, login_lua, 3, secs);
    eprintln!("3. protected-route latency while logins saturate the CPU");
    let target = StormTarget {
        dashboard: &dashboard,
        login: &login,
        bearer: &bearer,
        login_lua,
    };
    login_storm(&mut table, &runtime, &target, 3, secs);
    let peak_kib = server.stop();
    table.add(
        "6. peak RSS during the runs",
        format!("{:.1} MB", peak_kib as f64 / 1024.0),
        "",
    );
    table.print();
}
