//! Through a real nginx (Debian's, as `scripts/setup` installs it): requests per second
//! to an app with and without Gatehouse's auth request in front of it, the gated one
//! configured with the README's very block.

use std::{
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::harness::{Load, interleave, wrk};

/// The host the gated server answers for (the forward-auth rules see it).
const APP_HOST: &str = "wiki.example.org";

pub struct Nginx {
    child: Child,
    /// The app behind nginx, with no gate.
    pub open: String,
    /// The same app behind the auth request.
    pub gated: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's nginx blocks, from "Put Gatehouse in front of an app": the upstream
/// (for `http { }`) and the locations (for the app's `server { }`).
fn readme_blocks() -> (String, String) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("\n## Put Gatehouse in front of an app\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README's forward-auth section");
    let blocks: Vec<&str> = section
        .split("```nginx\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    let [upstream, locations] = blocks[..] else {
        panic!("the README's forward-auth section has two nginx blocks: {blocks:?}")
    };
    (upstream.to_owned(), locations.to_owned())
}

/// One nginx process: the app (a fixed answer, served by nginx itself so that the app
/// costs the same in both measurements), the app behind a plain `proxy_pass`, and the app
/// behind the README's auth request to `gatehouse`.
pub fn start(dir: &Path, gatehouse: &str, first_port: u16) -> Nginx {
    let (app, open, gated) = (first_port, first_port + 1, first_port + 2);
    let (upstream, locations) = readme_blocks();
    let upstream = upstream.replace("127.0.0.1:3000", gatehouse.trim_start_matches("http://"));
    let locations = locations.replace("http://127.0.0.1:8080", &format!("http://127.0.0.1:{app}"));
    let root = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {root}/nginx.pid;\nerror_log {root}/error.log error;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {root}/body;\n  \
         proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n  \
         uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n{upstream}\n  \
         server {{ listen 127.0.0.1:{app}; location / {{ return 200 \"the app\"; }} }}\n  \
         server {{ listen 127.0.0.1:{open}; location / {{ proxy_pass http://127.0.0.1:{app}; }} }}\n  \
         server {{\n    listen 127.0.0.1:{gated};\n    server_name {APP_HOST};\n{locations}\n  }}\n}}\n"
    );
    let file = dir.join("nginx.conf");
    std::fs::write(&file, config).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&file)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx (scripts/setup installs Debian's)");
    let begun = Instant::now();
    for port in [app, open, gated] {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                begun.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Nginx {
        child,
        open: format!("http://127.0.0.1:{open}/page"),
        gated: format!("http://127.0.0.1:{gated}/page"),
    }
}

/// The app without and with the gate, interleaved, as a signed-in browser (the access
/// cookie) asks for it: `[without, with]`.
pub fn measure(nginx: &Nginx, access_token: &str, secs: u64) -> [Load; 2] {
    let cookie = format!("Cookie: gatehouse_access={access_token}");
    let host = format!("Host: {APP_HOST}");
    let headers = ["-H", cookie.as_str(), "-H", host.as_str()];
    let loads = interleave(
        2,
        &mut [&mut || wrk(&nginx.open, secs, &headers), &mut || {
            wrk(&nginx.gated, secs, &headers)
        }],
    );
    [loads[0], loads[1]]
}
