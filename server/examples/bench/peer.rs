//! `scripts/bench peer`: Gatehouse beside another auth server, in the same interleaved
//! `wrk` rounds on the same machine: each one's bare route and user-info route. The peer
//! is given, never downloaded:
//!
//! - `PEER_BARE_URL`: a route that answers without any check (a ping or health route);
//! - `PEER_USER_INFO_URL`: its user-info route (OpenID Connect `userinfo`, or the like);
//! - `PEER_TOKEN`: an access token that route accepts, sent as `Authorization: Bearer`;
//! - `PEER_NAME`: how the table names it (default "peer").

use crate::{
    harness::{Server, Table, bench_user, client_runtime, interleave, wrk},
    one_server::in_dir,
    release_build, seconds_per_measurement,
};

const PORT: u16 = 3480;

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "scripts/bench peer needs {name}: set PEER_BARE_URL, PEER_USER_INFO_URL and \
             PEER_TOKEN (see the README's Benchmark section)"
        )
    })
}

pub fn run() {
    let peer_bare = required("PEER_BARE_URL");
    let peer_user_info = required("PEER_USER_INFO_URL");
    let peer_bearer = format!("Authorization: Bearer {}", required("PEER_TOKEN"));
    let peer = std::env::var("PEER_NAME").unwrap_or_else(|_| "peer".to_owned());
    let secs = seconds_per_measurement();
    let (binary, site_root) = release_build();
    let scratch = tempfile::tempdir().unwrap();
    let runtime = client_runtime();
    let mut table = Table(Vec::new());
    eprintln!("Gatehouse beside {peer}: {secs} s a measurement, loopback");

    // Both answer before anything is measured: a wrong URL or token stops here.
    for (url, header) in [
        (peer_bare.as_str(), None),
        (&peer_user_info, Some(&peer_bearer)),
    ] {
        let mut request = std::process::Command::new("curl");
        request.args(["-sS", "-o", "/dev/null", "--fail-with-body", url]);
        if let Some(header) = header {
            request.args(["-H", header]);
        }
        let answered = request.status().expect("curl");
        assert!(answered.success(), "{peer} did not answer {url} with a 2xx");
    }

    let server = Server::start(
        &runtime,
        &binary,
        &site_root,
        &in_dir(&scratch.path().join("peer")),
        PORT,
    );
    let bearer = format!("Authorization: Bearer {}", bench_user(&runtime, &server));
    let (healthz, me) = (
        format!("{}/healthz", server.base),
        format!("{}/auth/me", server.base),
    );
    eprintln!("1. bare and user-info routes of both, interleaved");
    let loads = interleave(
        2,
        &mut [
            &mut || wrk(&healthz, secs, &[]),
            &mut || wrk(&me, secs, &["-H", &bearer]),
            &mut || wrk(&peer_bare, secs, &[]),
            &mut || wrk(&peer_user_info, secs, &["-H", &peer_bearer]),
        ],
    );
    let [bare, user_info, peer_bare_load, peer_user_info_load] = loads[..] else {
        unreachable!()
    };
    for (name, bare, user_info) in [
        ("Gatehouse", bare, user_info),
        (peer.as_str(), peer_bare_load, peer_user_info_load),
    ] {
        table.add(format!("9. {name}: bare route"), bare.show(), "");
        table.add(format!("9. {name}: user-info route"), user_info.show(), "");
        table.add(
            format!("9. {name}: user info ÷ bare, req/s"),
            format!("{:.2}", user_info.rps / bare.rps),
            "",
        );
    }
    table.add(
        format!("9. Gatehouse ÷ {peer}, user-info req/s"),
        format!("{:.2}", user_info.rps / peer_user_info_load.rps),
        "",
    );
    server.stop();
    table.print();
}
