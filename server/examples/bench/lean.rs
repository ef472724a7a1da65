//! `scripts/bench lean`: what an identity provider's hot paths and memory cost, on one
//! server with a small embedded store (or MongoDB when `MONGODB_URI` is set): the
//! user-info and forward-auth routes against the bare and the protected route, an app
//! through nginx with and without the auth request, and the memory the server holds
//! after start, under load and after a login burst has ended.

use std::time::{Duration, Instant};

use crate::{
    harness::{
        ChosenStore, Load, Server, Table, bench_user, chosen_store, client_runtime,
        interleave_rounds, login_script, round_ratios, wrk,
    },
    instances::drop_database,
    one_server::login_against_raw,
    proxy, release_build, seconds_per_measurement,
};

const PORT: u16 = 3479;
/// Rounds of the route comparison: each ratio is the median of its rounds' ratios.
const ROUTE_ROUNDS: usize = 5;
/// How long after its last login a server must have given the hashing memory back.
const SETTLE: Duration = Duration::from_secs(30);

fn megabytes(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

pub fn run() {
    let secs = seconds_per_measurement();
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let runtime = client_runtime();
    let mut table = Table(Vec::new());
    let ChosenStore {
        env: store,
        label: store_label,
        mongo,
    } = chosen_store(&scratch.path().join("lean"));
    eprintln!("Gatehouse lean benchmark ({store_label} store): {secs} s a measurement, loopback");
    // Where no rule says, anyone signed in passes: the gate's whole decision, no store.
    let mut store = store;
    store.push(("GATEHOUSE_FORWARD_AUTH_DEFAULT", "signed_in".to_owned()));

    table.add(
        "8. functions of server/hot-functions.txt in the binary, and where",
        hot_functions_layout(&binary),
        "all, in one span (else `scripts/bench hot-code`)",
    );
    let server = Server::start(&runtime, &binary, &site_root, &store, PORT);
    std::thread::sleep(Duration::from_millis(300));
    let idle_kib = server.memory_kib("VmRSS:");
    table.add("8. idle RSS after start", megabytes(idle_kib), "");

    let access_token = bench_user(&runtime, &server);
    let bearer = format!("Authorization: Bearer {access_token}");
    std::thread::sleep(Duration::from_millis(300));
    table.add(
        "8. RSS after signing up 129 accounts and one login",
        megabytes(server.memory_kib("VmRSS:")),
        "",
    );

    let url = |path: &str| format!("{}{path}", server.base);
    let (healthz, dashboard, me) = (url("/healthz"), url("/auth/dashboard"), url("/auth/me"));
    let forward = url("/auth/forward/auth-request");
    let original = "X-Original-URL: https://wiki.example.org/page";
    eprintln!("1. bare, protected, user-info and forward-auth routes interleaved");
    let routes: [(&str, &str, Vec<&str>); 4] = [
        ("bare GET /healthz", &healthz, vec![]),
        (
            "protected GET /auth/dashboard",
            &dashboard,
            vec!["-H", &bearer],
        ),
        ("user info GET /auth/me", &me, vec!["-H", &bearer]),
        (
            "forward-auth GET /auth/forward/auth-request",
            &forward,
            vec!["-H", &bearer, "-H", original],
        ),
    ];
    // The first seconds of a fresh server run slower (caches, page faults, the
    // allocator's arenas growing): not part of any round.
    for (_, url, headers) in &routes {
        wrk(url, 1, headers);
    }
    let rounds = {
        let mut measurements: Vec<Box<dyn FnMut() -> Load>> = routes
            .iter()
            .map(|(_, url, headers)| {
                let server = &server;
                Box::new(move || server.cpu_of(|| wrk(url, secs, headers)))
                    as Box<dyn FnMut() -> Load>
            })
            .collect();
        let mut measurements: Vec<&mut dyn FnMut() -> Load> = measurements
            .iter_mut()
            .map(|measure| measure.as_mut() as &mut dyn FnMut() -> Load)
            .collect();
        interleave_rounds(ROUTE_ROUNDS, &mut measurements)
    };
    for ((label, _, _), runs) in routes.iter().zip(&rounds) {
        let mean = Load::mean(runs);
        table.add(
            format!("1. {label}"),
            format!(
                "{}, server CPU {:.1} µs/request",
                mean.show(),
                mean.server_cpu_us
            ),
            "",
        );
    }
    let bare = &rounds[0];
    for (route, runs, target) in [
        ("protected", &rounds[1], "≥ 0.90"),
        ("/auth/me", &rounds[2], "≥ 0.80"),
        ("forward-auth", &rounds[3], "≥ 0.80"),
    ] {
        table.add(
            format!("1. {route} ÷ bare, req/s, median of {ROUTE_ROUNDS} rounds"),
            round_ratios(runs, bare, |load| load.rps).show(),
            target,
        );
        // Inverted, so that higher is better on both rows.
        table.add(
            format!("1. {route} ÷ bare, requests per server CPU second"),
            round_ratios(bare, runs, |load| load.server_cpu_us).show(),
            target,
        );
    }

    eprintln!("9. an app through nginx, without and with the auth request, interleaved");
    let nginx = proxy::start(scratch.path(), &server.base, PORT + 1);
    let [open, gated] = proxy::measure(&nginx, &access_token, secs);
    drop(nginx);
    table.add("9. the app through nginx, no auth request", open.show(), "");
    table.add(
        "9. the app through nginx with the README's auth request",
        gated.show(),
        "",
    );
    table.add(
        "9. with ÷ without the auth request, req/s",
        format!("{:.2}", gated.rps / open.rps),
        "",
    );

    eprintln!("2. login vs raw argon2id, interleaved");
    let login_lua = login_script(scratch.path());
    let login_lua = login_lua.to_str().unwrap();
    let login = url("/auth/login");
    let last_login = login_against_raw(&mut table, &server, &login, login_lua, 2, secs);

    let settled_at = last_login + SETTLE;
    std::thread::sleep(settled_at.saturating_duration_since(Instant::now()));
    let settled_kib = server.memory_kib("VmRSS:");
    table.add(
        format!("8. RSS {} s after the last login", SETTLE.as_secs()),
        format!(
            "{} (+{})",
            megabytes(settled_kib),
            megabytes(settled_kib.saturating_sub(idle_kib))
        ),
        "≤ idle after start + 10 MB",
    );
    table.add(
        "8. peak RSS during the runs",
        megabytes(server.stop()),
        "≤ 64 MB",
    );
    if let Some((url, name)) = &mongo {
        drop_database(&runtime, url, name);
    }
    table.print();
}

/// Where the functions the linker was asked to keep together lie: how many of them the
/// binary has (fewer when the list was written before a dependency changed their names),
/// and the megabytes of code from the first to the last of them, of all its code (all of
/// it when the linker did not read the list).
fn hot_functions_layout(binary: &std::path::Path) -> String {
    let symbols = std::process::Command::new("nm")
        .args(["--defined-only", "--print-size"])
        .arg(binary)
        .output()
        .expect("nm (binutils)");
    let symbols = String::from_utf8(symbols.stdout).unwrap();
    // "address size type name"; t and T are code.
    let functions: Vec<(u64, u64, &str)> = symbols
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, ' ');
            let address = u64::from_str_radix(fields.next()?, 16).ok()?;
            let size = u64::from_str_radix(fields.next()?, 16).ok()?;
            let kind = fields.next()?;
            let name = fields.next()?;
            matches!(kind, "t" | "T").then_some((address, address + size, name))
        })
        .collect();
    let list = std::fs::read_to_string(crate::hot_code::list_path()).unwrap();
    let listed: std::collections::HashSet<&str> =
        list.lines().filter(|line| !line.starts_with('#')).collect();
    let span = |of: &mut dyn Iterator<Item = &(u64, u64, &str)>| {
        of.fold((u64::MAX, 0), |(start, end), function| {
            (start.min(function.0), end.max(function.1))
        })
    };
    let found: Vec<&(u64, u64, &str)> = functions
        .iter()
        .filter(|(_, _, name)| listed.contains(name))
        .collect();
    let (hot_start, hot_end) = span(&mut found.iter().copied());
    let (code_start, code_end) = span(&mut functions.iter());
    let megabytes = |bytes: u64| bytes as f64 / 1e6;
    format!(
        "{} of {}, in {:.1} of {:.1} MB of code",
        found.len(),
        listed.len(),
        megabytes(hot_end.saturating_sub(hot_start)),
        megabytes(code_end.saturating_sub(code_start))
    )
}
