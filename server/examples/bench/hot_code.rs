//! `scripts/bench hot-code`: writes `server/hot-functions.txt`, the functions a running
//! server executes, for the linker to lay out side by side at the front of `.text`.
//!
//! Why: the kernel maps up to 64 kB of cached file pages around every code page a
//! process faults in, so the code a server runs, scattered over a 33 MB `.text`, kept
//! 14–17 MB of the binary resident; laid out together, 6–7 MB.
//!
//! How: the release server runs under callgrind, which records every function executed,
//! while a workload goes through the pages and the REST routes a deployment serves (sign
//! up, log in, a refused login, the user-info, protected and forward-auth routes,
//! refresh, logout, refused tokens and bodies) on the embedded store, and again on
//! MongoDB when `MONGODB_URI` is set. The list holds the functions both runs executed,
//! then those of one store only, each group hottest first (by instructions). Run it
//! again after changing dependencies: their symbol names carry hashes of the dependency
//! graph, so a stale list orders fewer functions (`scripts/bench lean` prints how many
//! of them the binary has, and the span they lie in).

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::json;

use crate::{
    harness::{PASSWORD, Server, client_runtime, http_client, log_in_as},
    instances::drop_database,
    release_build,
};

const PORT: u16 = 3481;
/// Generic instances of the page types have symbol names of up to a megabyte; the 50
/// names past this length held 2.2 MB of the list's 2.5 MB for 12 kB of code.
const LONGEST_NAME: usize = 2000;

pub fn list_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hot-functions.txt")
}

pub fn run() {
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let mut stores = vec![(
        "embedded",
        crate::one_server::in_dir(&scratch.path().join("hot")).to_vec(),
        None,
    )];
    if let Ok(url) = std::env::var("MONGODB_URI") {
        let name = format!("gatehouse_hot_{}", uuid::Uuid::now_v7().simple());
        stores.push((
            "MongoDB",
            vec![
                ("GATEHOUSE_DATABASE_URL", url.clone()),
                ("GATEHOUSE_DATABASE_NAME", name.clone()),
            ],
            Some((url, name)),
        ));
    }
    let runtime = client_runtime();
    let every_store = (1u8 << stores.len()) - 1;
    // Instructions, and which stores' runs executed it (one bit each).
    let mut executed: HashMap<String, (u64, u8)> = HashMap::new();
    for (run, (label, mut store, mongo)) in stores.into_iter().enumerate() {
        eprintln!("the workload under callgrind, {label} store");
        store.push(("GATEHOUSE_FORWARD_AUTH_DEFAULT", "signed_in".to_owned()));
        let profile = scratch.path().join(format!("callgrind-{label}.out"));
        let mut valgrind = Command::new("valgrind");
        valgrind
            .arg("--quiet")
            .arg("--tool=callgrind")
            .arg("--demangle=no")
            .arg(format!("--callgrind-out-file={}", profile.display()))
            .arg(&binary)
            // The server falls back to it: the store is the one named in `store`.
            .env_remove("MONGODB_URI");
        let server = Server::start_command(&runtime, valgrind, &site_root, &store, PORT);
        runtime.block_on(workload(&server.base));
        server.terminate();
        for (name, instructions) in functions_of(&profile, &binary) {
            let (total, runs) = executed.entry(name).or_default();
            *total += instructions;
            *runs |= 1 << run;
        }
        if let Some((url, name)) = mongo {
            drop_database(&runtime, &url, &name);
        }
    }
    // What every store runs first, then what only one store runs, store by store: a
    // deployment on one store then touches none of the other's code in between its own.
    let mut hottest_first: Vec<(String, (u64, u8))> = executed
        .into_iter()
        .filter(|(name, _)| name.len() <= LONGEST_NAME)
        .collect();
    hottest_first.sort_by_key(|(name, (instructions, runs))| {
        (
            *runs != every_store,
            *runs,
            std::cmp::Reverse(*instructions),
            name.clone(),
        )
    });
    let mut list = String::from(
        "# The functions a running server executes (those of every store, then those of one\n\
         # store), hottest first: the linker lays them out side by side (server/build.rs).\n\
         # Written by `scripts/bench hot-code`; not by hand.\n",
    );
    for (name, _) in &hottest_first {
        list.push_str(name);
        list.push('\n');
    }
    std::fs::write(list_path(), list).unwrap();
    eprintln!(
        "{} functions written to {}",
        hottest_first.len(),
        list_path().display()
    );
}

/// What a deployment's server does, each route at least once and the per-request ones a
/// few times, answers checked so that a broken run cannot pass for a profile.
async fn workload(base: &str) {
    let http = http_client();
    let url = |path: &str| format!("{base}{path}");
    for page in ["/", "/login", "/signup", "/healthz", "/no-such-page"] {
        http.get(url(page)).send().await.unwrap();
    }
    let credentials =
        |username: &str, password: &str| json!({"username": username, "password": password});
    for username in ["hot-1", "hot-2"] {
        let signup = http.post(url("/auth/signup"));
        expect(signup.json(&credentials(username, PASSWORD)), 201).await;
    }
    let refused = http.post(url("/auth/login"));
    expect(
        refused.json(&credentials("hot-1", "not the passphrase")),
        401,
    )
    .await;
    let malformed = http
        .post(url("/auth/signup"))
        .header("content-type", "application/json")
        .body("{\"username\": ");
    expect(malformed, 400).await;
    let login = log_in_as(&http, base, "hot-1").await;
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap();
    for _ in 0..20 {
        for path in ["/auth/me", "/auth/dashboard", "/auth/forward/auth-request"] {
            let request = http
                .get(url(path))
                .bearer_auth(access)
                .header("x-original-url", "https://wiki.example.org/page");
            expect(request, 200).await;
        }
        expect(http.get(url("/healthz")), 200).await;
    }
    expect(http.post(url("/auth/refresh")).bearer_auth(refresh), 200).await;
    expect(http.post(url("/auth/logout")).bearer_auth(access), 200).await;
    expect(http.get(url("/auth/me")).bearer_auth(access), 401).await;
}

async fn expect(request: reqwest::RequestBuilder, status: u16) {
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status().as_u16(), status, "{}", answer.url());
}

/// The functions of `binary` in a callgrind profile, with the instructions each executed
/// itself. The format (valgrind's callgrind_format): `ob=`/`fn=` name the object and
/// function the following cost lines belong to, `(id) name` the first time and `(id)`
/// after; a `calls=` line's next cost line is the callee's inclusive cost, not the
/// caller's own.
fn functions_of(profile: &Path, binary: &Path) -> HashMap<String, u64> {
    let binary = binary.canonicalize().unwrap();
    let mut objects: HashMap<String, String> = HashMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut in_binary = false;
    let mut current: Option<String> = None;
    let mut after_calls = false;
    let mut executed: HashMap<String, u64> = HashMap::new();
    let file = std::fs::File::open(profile).expect("callgrind wrote no profile");
    for line in BufReader::new(file).lines() {
        let line = line.unwrap();
        if let Some((key, value)) = line.split_once('=')
            && let Some(name) = compressed_name(value, key, &mut objects, &mut names)
        {
            match key {
                "ob" => in_binary = Path::new(&name) == binary,
                // Recursion shows as `name'2`; the symbol is the name before it.
                "fn" => {
                    current = in_binary
                        .then(|| name.split('\'').next().unwrap_or_default().to_owned())
                        .filter(|name| !name.starts_with("0x") && !name.starts_with('('));
                    if let Some(name) = &current {
                        executed.entry(name.clone()).or_default();
                    }
                }
                _ => {}
            }
            continue;
        }
        if line.starts_with("calls=") {
            after_calls = true;
            continue;
        }
        let is_cost = line
            .bytes()
            .next()
            .is_some_and(|first| first.is_ascii_digit() || b"+-*".contains(&first));
        if !is_cost {
            continue;
        }
        if std::mem::take(&mut after_calls) {
            continue;
        }
        if let Some(name) = &current
            && let Some(instructions) = line.split_whitespace().last()
        {
            *executed.get_mut(name).unwrap() += instructions.parse::<u64>().unwrap_or(0);
        }
    }
    executed
}

/// The name a `key=(id) name` or `key=(id)` line gives, for the object and function
/// keys (their `c` forms share the tables).
fn compressed_name(
    value: &str,
    key: &str,
    objects: &mut HashMap<String, String>,
    names: &mut HashMap<String, String>,
) -> Option<String> {
    let table = match key {
        "ob" | "cob" => objects,
        "fn" | "cfn" => names,
        _ => return None,
    };
    let rest = value.strip_prefix('(')?;
    let (id, name) = rest.split_once(')')?;
    let name = name.trim_start();
    if name.is_empty() {
        table.get(id).cloned()
    } else {
        table.insert(id.to_owned(), name.to_owned());
        Some(name.to_owned())
    }
}
