//! The README as a newcomer reads it: its API examples run, in order, against a fresh
//! server, and its map of the repository ("Where things are") names what is there.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use crate::helpers::{TestApp, spawn_app};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn readme() -> String {
    std::fs::read_to_string(repository().join("README.md")).unwrap()
}

/// The text of the section under `heading` (up to the next heading of its level).
pub fn section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the README has no `{heading}`"));
    let rest = &readme[start + heading.len() + 2..];
    // It ends at the next heading of its level or above; from `##` only, since a shell
    // comment in a code block reads like a `#` heading.
    let level = heading.split(' ').next().unwrap().len();
    let end = (2..=level)
        .filter_map(|depth| rest.find(&format!("\n{} ", "#".repeat(depth))))
        .min()
        .map_or(rest.len(), |end| end + 1);
    &rest[..end]
}

/// The fenced blocks of `language` in `text`, in order.
pub fn fenced_blocks<'a>(text: &'a str, language: &str) -> Vec<&'a str> {
    let opening = format!("```{language}\n");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&opening) {
        let body = &rest[start + opening.len()..];
        let end = body.find("```").expect("a closed fence");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    blocks
}

/// Every shell block of "Using the API", run in one shell as a reader would paste them,
/// against a fresh server. Each `curl` is made strict (`--fail-with-body`): an answer
/// that is not 2xx stops the script, so a block that only printed an error would fail.
#[tokio::test]
async fn the_readmes_api_examples_run_in_order_against_a_fresh_server() {
    let readme = readme();
    let blocks = fenced_blocks(section(&readme, "## Using the API"), "sh");
    assert!(blocks.len() >= 2, "the API section's shell blocks");
    let app = spawn_app().await;
    let examples = blocks.concat();
    assert!(examples.matches("curl ").count() >= 10, "{examples}");
    let printed = run_strictly(&app, &examples).await;
    assert!(
        printed.contains("Refresh token revoked; logged out"),
        "{printed}"
    );
}

/// The forward-auth section's REST example, with the first admin made as "The first
/// admin" says (its name and passphrase).
#[tokio::test]
async fn the_readmes_forward_rules_example_runs_against_a_fresh_server() {
    let readme = readme();
    let first_admin = fenced_blocks(section(&readme, "## The first admin"), "sh").concat();
    assert!(
        first_admin.contains("echo 'a long admin passphrase'")
            && first_admin.contains("--username root"),
        "{first_admin}"
    );
    let blocks: Vec<&str> = fenced_blocks(
        section(&readme, "## Put Gatehouse in front of an app"),
        "sh",
    )
    .into_iter()
    .filter(|block| block.contains("/auth/admin/forward-rules"))
    .collect();
    assert_eq!(blocks.len(), 1, "the forward-auth section's REST example");
    let app = spawn_app().await;
    app.create_admin("root", "a long admin passphrase").await;
    let printed = run_strictly(&app, blocks[0]).await;
    let list: serde_json::Value = serde_json::from_str(printed.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(list[0]["host"], "wiki.example.org", "{printed}");
    assert_eq!(list[0]["users"], serde_json::json!(["ada"]), "{printed}");
}

/// "Providers added by an admin": its REST example, run as written with an admin's
/// token, adds a provider that the sign-in page then offers, its secret kept sealed.
#[tokio::test]
async fn the_readmes_provider_example_runs_and_the_sign_in_page_offers_it() {
    let readme = readme();
    let blocks: Vec<&str> =
        fenced_blocks(section(&readme, "### Providers added by an admin"), "sh");
    assert_eq!(blocks.len(), 1, "the section's REST example");
    let app = spawn_app().await;
    let admin = app.admin("root").await;
    let example = blocks[0].replace("https://auth.example.org", &app.address);
    let printed = run_strictly(&app, &format!("ADMIN_TOKEN='{}'\n{example}", admin.access)).await;
    let added: serde_json::Value =
        serde_json::from_str(printed.trim()).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(added["id"], "corp", "{printed}");
    assert_eq!(added["has_client_secret"], true, "{printed}");
    assert_eq!(
        added["callback_url"],
        app.url("/login/with/corp/callback"),
        "the answer says what to register at the provider"
    );
    assert!(
        added.get("client_secret").is_none() && !printed.contains('…'),
        "never shown again: {printed}"
    );
    let page = app.get("/login", None).await.text().await.unwrap();
    assert!(
        page.contains("href=\"/login/with/corp\"") && page.contains("Corp SSO</a>"),
        "offered on /login"
    );
}

/// The OpenID Connect section's CLI example, run as written (the built binary, on a
/// fresh embedded store): it prints the client as JSON, and a server on that store then
/// has it, with the settings the section's table names in its discovery document.
#[tokio::test]
async fn the_readmes_client_registration_example_runs_and_the_client_is_there() {
    let readme = readme();
    let part = section(&readme, "## Use Gatehouse to sign in to your apps");
    let blocks = fenced_blocks(part, "sh");
    assert_eq!(blocks.len(), 1, "the CLI example");
    let command = blocks[0]
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("target/release/gatehouse", env!("CARGO_BIN_EXE_gatehouse"));
    let data_dir = tempfile::tempdir().unwrap();
    let ran = std::process::Command::new("bash")
        .args(["-c", &format!("set -euo pipefail\n{command}")])
        .env("GATEHOUSE_DATA_DIR", data_dir.path())
        .env_remove("MONGODB_URI")
        .env_remove("GATEHOUSE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert!(
        created["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("gcs_")
    );
    assert_eq!(created["name"], "Grafana");

    let app = crate::helpers::spawn_app_with(|config| {
        config.data_dir = data_dir.path().to_path_buf();
        config.database_url = None;
        config.database_name = None;
    })
    .await;
    let admin = app.admin("root").await;
    let clients: serde_json::Value = app
        .get("/auth/admin/clients", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clients[0]["client_id"], created["client_id"]);
    let discovery: serde_json::Value = app
        .get("/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    for endpoint in [
        "/oauth2/authorize",
        "/oauth2/token",
        "/oauth2/userinfo",
        "/.well-known/jwks.json",
    ] {
        assert!(
            part.contains(&format!("GATEHOUSE_PUBLIC_URL{endpoint}")),
            "{endpoint}"
        );
        assert!(
            discovery
                .to_string()
                .contains(&format!("{}{endpoint}", app.address)),
            "{endpoint}"
        );
    }
}

/// Runs `examples` in one bash against `app`, each `curl` made strict
/// (`--fail-with-body`): an answer that is not 2xx stops the script and fails the test.
/// Returns what it printed.
async fn run_strictly(app: &TestApp, examples: &str) -> String {
    let host = app.address.trim_start_matches("http://").to_owned();
    let script = format!(
        "set -euo pipefail\n\
         curl() {{ command curl --fail-with-body --show-error --max-time 10 \"$@\"; echo; }}\n\
         {}",
        examples.replace("localhost:3000", &host)
    );
    let ran = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("bash")
    })
    .await
    .unwrap();
    assert!(
        ran.status.success(),
        "a README example failed:\n--- printed\n{}\n--- errors\n{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    String::from_utf8_lossy(&ran.stdout).into_owned()
}

/// What the README's tree names: each entry's path (a name at the start of a line, under
/// the nearest less-indented entry) and, per entry, every word its lines mention.
struct Map {
    entries: Vec<(PathBuf, String)>,
}

impl Map {
    fn parse(tree: &str) -> Map {
        let mut entries: Vec<(PathBuf, String)> = Vec::new();
        let mut parents: Vec<(usize, PathBuf)> = Vec::new();
        for line in tree.lines() {
            let indent = line.len() - line.trim_start().len();
            let first = line.split_whitespace().next().unwrap_or("");
            // Descriptions run on in deeper-indented lines of their own.
            let names_a_path = indent <= 8 && (first.ends_with('/') || first.contains('.'));
            if names_a_path {
                while parents.last().is_some_and(|(depth, _)| *depth >= indent) {
                    parents.pop();
                }
                let path = parents
                    .last()
                    .map_or_else(PathBuf::new, |(_, parent)| parent.clone())
                    .join(first.trim_end_matches('/'));
                parents.push((indent, path.clone()));
                entries.push((path, line.to_owned()));
            } else if let Some((_, text)) = entries.last_mut() {
                text.push('\n');
                text.push_str(line);
            }
        }
        Map { entries }
    }

    /// Every name mentioned in the entry for `dir` and in the entries under it.
    fn names_under(&self, dir: &Path) -> BTreeSet<String> {
        self.entries
            .iter()
            .filter(|(path, _)| path.starts_with(dir))
            .flat_map(|(path, text)| {
                let own = path
                    .strip_prefix(dir)
                    .ok()
                    .and_then(|relative| relative.components().next())
                    .map(|name| name.as_os_str().to_string_lossy().into_owned());
                let words = text
                    .split(|c: char| !(c.is_alphanumeric() || "._-/".contains(c)))
                    .map(|word| word.trim_end_matches(['/', '.']).to_owned());
                own.into_iter().chain(words).collect::<Vec<_>>()
            })
            .collect()
    }
}

/// The tree in "Where things are" names only paths that exist, and in the directories a
/// newcomer looks through it names every file and folder (a crate's `lib.rs` and a
/// module's `mod.rs` aside).
#[test]
fn the_readmes_layout_names_what_is_there() {
    let readme = readme();
    let tree = fenced_blocks(section(&readme, "## Where things are"), "")
        .into_iter()
        .next()
        .expect("the tree");
    let map = Map::parse(tree);
    let root = repository();
    assert!(map.entries.len() > 40, "the tree's entries");
    for (path, _) in &map.entries {
        assert!(
            root.join(path).exists(),
            "the README's tree names {}, which is not there",
            path.display()
        );
    }
    let listed_in_full = [
        "app/src",
        "server/src",
        "server/src/auth",
        "server/src/api",
        "server/src/store",
        "server/src/config",
        "server/src/server_fns",
        "server/examples/bench",
        "scripts",
        "public",
    ];
    for dir in listed_in_full {
        let named = map.names_under(Path::new(dir));
        for child in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = child.unwrap().file_name().to_string_lossy().into_owned();
            if name == "lib.rs" || name == "mod.rs" {
                continue;
            }
            assert!(
                named.contains(&name),
                "the README's tree leaves out {dir}/{name}"
            );
        }
    }
    // At the top: every folder but git's and those git ignores (the build, a local store).
    let ignored: BTreeSet<String> = std::fs::read_to_string(root.join(".gitignore"))
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix('/')?.strip_suffix('/'))
        .map(str::to_owned)
        .chain([".git".to_owned()])
        .collect();
    let named = map.names_under(Path::new(""));
    for child in std::fs::read_dir(&root).unwrap() {
        let child = child.unwrap();
        let name = child.file_name().to_string_lossy().into_owned();
        if child.file_type().unwrap().is_dir() && !ignored.contains(&name) {
            assert!(
                named.contains(&name),
                "the README's tree leaves out {name}/"
            );
        }
    }
}
