//! Three real server processes on one store (the embedded one, or MongoDB when
//! `MONGODB_URI` is set): what one of them revokes, the others refuse within the
//! revocation bound and never accept after it; refresh tokens rotate across them; a
//! killed instance that comes back refuses what was revoked while it was down.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{
    helpers::{PASSWORD, Tokens, drop_mongo_database, tokens_of},
    processes::{Process, start},
};

/// The default bound, which these servers run with.
const BOUND: Duration = Duration::from_secs(1);
/// How long past the bound the others are still watched, to catch a late accept.
const WATCHED_PAST_THE_BOUND: Duration = Duration::from_millis(300);
const ADMIN: &str = "root";

/// One store for several processes, and what every one of them is started with.
struct SharedStore {
    env: Vec<(&'static str, String)>,
    mongo_database: Option<(String, String)>,
    _data_dir: TempDir,
}

impl SharedStore {
    fn new() -> SharedStore {
        let data_dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("GATEHOUSE_DATA_DIR", data_dir.path().display().to_string()),
            // Every instance is told; exactly one creates the admin.
            ("GATEHOUSE_BOOTSTRAP_ADMIN_USERNAME", ADMIN.to_owned()),
            ("GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD.to_owned()),
        ];
        let mongo_database = std::env::var("MONGODB_URI").ok().map(|url| {
            let name = format!("gatehouse_instances_{}", uuid::Uuid::now_v7().simple());
            env.push(("GATEHOUSE_DATABASE_URL", url.clone()));
            env.push(("GATEHOUSE_DATABASE_NAME", name.clone()));
            (url, name)
        });
        SharedStore {
            env,
            mongo_database,
            _data_dir: data_dir,
        }
    }

    fn start_instance(&self) -> Process {
        start(&self.env)
    }
}

impl Drop for SharedStore {
    fn drop(&mut self) {
        if let Some((url, name)) = self.mongo_database.take() {
            drop_mongo_database(url, name);
        }
    }
}

async fn signup(client: &Client, on: &Process, username: &str) -> String {
    let response = client
        .post(on.url("/auth/signup"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["user"]["id"].as_str().unwrap().to_owned()
}

async fn login(client: &Client, on: &Process, username: &str) -> Tokens {
    let response = client
        .post(on.url("/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "login as {username}");
    tokens_of(response.json().await.unwrap())
}

async fn get(client: &Client, on: &Process, path: &str, access: &str) -> StatusCode {
    client
        .get(on.url(path))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

async fn refresh(client: &Client, on: &Process, refresh_token: &str) -> reqwest::Response {
    client
        .post(on.url("/auth/refresh"))
        .bearer_auth(refresh_token)
        .send()
        .await
        .unwrap()
}

async fn change_user(client: &Client, on: &Process, admin: &Tokens, id: &str, change: Value) {
    let response = client
        .patch(on.url(&format!("/auth/admin/users/{id}")))
        .bearer_auth(&admin.access)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "change {change}");
}

/// Asked twice on each instance, so that every one of them has the answer in memory.
async fn accepted_everywhere(client: &Client, instances: &[Process], path: &str, access: &str) {
    for instance in instances {
        for _ in 0..2 {
            assert_eq!(get(client, instance, path, access).await, StatusCode::OK);
        }
    }
}

/// Three instances on `store`, the admin signed in on the second and "ada" signed up on
/// the first (returned with her id).
async fn three_instances_with_ada(store: &SharedStore) -> (Vec<Process>, Client, Tokens, String) {
    let instances: Vec<Process> = (0..3).map(|_| store.start_instance()).collect();
    let client = crate::helpers::http_client();
    let admin = login(&client, &instances[1], ADMIN).await;
    let ada_id = signup(&client, &instances[0], "ada").await;
    (instances, client, admin, ada_id)
}

/// Watches `others` from `returned` until past the bound; the last moment (after
/// `returned`) at which one of them still answered the old way.
async fn last_stale_answer(
    returned: Instant,
    others: &[&Process],
    stale: impl AsyncFn(&Process) -> bool,
) -> Option<Duration> {
    let mut last_stale = None;
    while returned.elapsed() < BOUND + WATCHED_PAST_THE_BOUND {
        for other in others {
            let asked = returned.elapsed();
            if stale(other).await {
                last_stale = Some(asked);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    last_stale
}

/// Called right after the revoking request returned on `here`: refused there at once;
/// on each of `others`, refused from some moment within the bound on and never accepted
/// after it. Returns when the last other instance stopped accepting.
async fn honoured_within_the_bound(
    what: &str,
    client: &Client,
    here: &Process,
    others: &[&Process],
    path: &str,
    access: &str,
) -> Duration {
    let returned = Instant::now();
    assert_ne!(
        get(client, here, path, access).await,
        StatusCode::OK,
        "{what}: accepted by the instance that made it"
    );
    let last_accepted = last_stale_answer(returned, others, async |other| {
        get(client, other, path, access).await == StatusCode::OK
    })
    .await
    .unwrap_or(Duration::ZERO);
    assert!(
        last_accepted < BOUND,
        "{what}: another instance still accepted {last_accepted:?} after it"
    );
    last_accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_instance_revokes_the_others_refuse_within_the_bound_and_never_after() {
    let store = SharedStore::new();
    let (instances, client, admin, ada_id) = three_instances_with_ada(&store).await;
    let [a, b, c] = [&instances[0], &instances[1], &instances[2]];

    let ada = login(&client, a, "ada").await;
    accepted_everywhere(&client, &instances, "/auth/dashboard", &ada.access).await;
    let logout = client
        .post(a.url("/auth/logout"))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    honoured_within_the_bound(
        "logout",
        &client,
        a,
        &[b, c],
        "/auth/dashboard",
        &ada.access,
    )
    .await;

    let phone = login(&client, b, "ada").await;
    let laptop = login(&client, c, "ada").await;
    accepted_everywhere(&client, &instances, "/auth/dashboard", &phone.access).await;
    let sessions: Value = client
        .get(b.url("/auth/sessions"))
        .bearer_auth(&phone.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let phone_session = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = client
        .delete(a.url(&format!("/auth/sessions/{phone_session}")))
        .bearer_auth(&laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    honoured_within_the_bound(
        "a revoked session",
        &client,
        a,
        &[b, c],
        "/auth/dashboard",
        &phone.access,
    )
    .await;

    change_user(&client, a, &admin, &ada_id, json!({"role": "admin"})).await;
    let promoted = login(&client, a, "ada").await;
    accepted_everywhere(&client, &instances, "/auth/admin/users", &promoted.access).await;
    change_user(&client, a, &admin, &ada_id, json!({"role": "user"})).await;
    honoured_within_the_bound(
        "a demotion",
        &client,
        a,
        &[b, c],
        "/auth/admin/users",
        &promoted.access,
    )
    .await;

    let live = login(&client, b, "ada").await;
    accepted_everywhere(&client, &instances, "/auth/dashboard", &live.access).await;
    change_user(&client, a, &admin, &ada_id, json!({"disabled": true})).await;
    honoured_within_the_bound(
        "a disabled account",
        &client,
        a,
        &[b, c],
        "/auth/dashboard",
        &live.access,
    )
    .await;
    change_user(&client, a, &admin, &ada_id, json!({"disabled": false})).await;

    // One session refreshed on each instance in turn; then a replay of the first token.
    let first = login(&client, a, "ada").await;
    let second = refresh(&client, b, &first.refresh).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = tokens_of(second.json().await.unwrap());
    let third = refresh(&client, c, &second.refresh).await;
    assert_eq!(third.status(), StatusCode::OK);
    let third = tokens_of(third.json().await.unwrap());
    accepted_everywhere(&client, &instances, "/auth/dashboard", &third.access).await;
    let replay = refresh(&client, a, &first.refresh).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED, "a replay passed");
    honoured_within_the_bound(
        "a detected replay",
        &client,
        a,
        &[b, c],
        "/auth/dashboard",
        &third.access,
    )
    .await;
    assert_eq!(
        refresh(&client, b, &third.refresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "the replayed session lives on"
    );
}

async fn me(client: &Client, on: &Process, access: &str) -> Value {
    let response = client
        .get(on.url("/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Called right after a change returned on `here`: `/auth/me` shows `field` as `now`
/// there at once; on each of `others` from some moment within the bound on, and never
/// the old value after it.
async fn shown_within_the_bound(
    client: &Client,
    here: &Process,
    others: &[&Process],
    access: &str,
    field: &str,
    now: &Value,
) {
    let returned = Instant::now();
    assert_eq!(
        &me(client, here, access).await[field],
        now,
        "{field}: the instance that changed it shows the old value"
    );
    let last_stale = last_stale_answer(returned, others, async |other| {
        &me(client, other, access).await[field] != now
    })
    .await;
    assert!(
        last_stale.is_none_or(|asked| asked < BOUND),
        "{field}: another instance still showed the old value {last_stale:?} after it"
    );
}

/// `/auth/me` answers from the memory that makes protected routes fast, and follows a
/// change on another instance as a revocation is followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_auth_me_says_follows_a_change_on_another_instance_within_the_bound() {
    let store = SharedStore::new();
    let (instances, client, admin, ada_id) = three_instances_with_ada(&store).await;
    let [a, b, c] = [&instances[0], &instances[1], &instances[2]];
    let ada = login(&client, a, "ada").await;
    for instance in &instances {
        let shown = me(&client, instance, &ada.access).await;
        assert_eq!(shown["id"], ada_id.as_str());
        assert_eq!(shown["username"], "ada");
        assert_eq!(shown["email"], Value::Null);
        assert_eq!(shown["role"], "user");
    }

    let changed = client
        .post(a.url("/auth/email"))
        .bearer_auth(&ada.access)
        .json(&json!({"email": "ada@example.org", "current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    shown_within_the_bound(
        &client,
        a,
        &[b, c],
        &ada.access,
        "email",
        &json!("ada@example.org"),
    )
    .await;

    change_user(&client, a, &admin, &ada_id, json!({"role": "admin"})).await;
    shown_within_the_bound(&client, a, &[b, c], &ada.access, "role", &json!("admin")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_and_started_again_refuses_what_was_revoked_while_it_was_down() {
    let store = SharedStore::new();
    let a = store.start_instance();
    let c = store.start_instance();
    let client = crate::helpers::http_client();
    signup(&client, &a, "ada").await;
    let ada = login(&client, &c, "ada").await;
    for instance in [&a, &c] {
        assert_eq!(
            get(&client, instance, "/auth/dashboard", &ada.access).await,
            StatusCode::OK
        );
    }
    c.kill_9();
    let ended = client
        .post(a.url("/auth/logout-all"))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);

    let c = store.start_instance();
    assert_eq!(
        get(&client, &c, "/auth/dashboard", &ada.access).await,
        StatusCode::UNAUTHORIZED,
        "the restarted instance accepted a token revoked while it was down"
    );
    assert_eq!(
        refresh(&client, &c, &ada.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = login(&client, &c, "ada").await;
    assert_eq!(
        get(&client, &a, "/auth/dashboard", &again.access).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_over_three_instances_share_one_allowance() {
    let store = SharedStore::new();
    let instances: Vec<Process> = (0..3).map(|_| store.start_instance()).collect();
    let client = crate::helpers::http_client();
    signup(&client, &instances[0], "ada").await;
    let attempts = (0..60).map(|attempt| {
        let client = client.clone();
        let url = instances[attempt % 3].url("/auth/login");
        async move {
            let response = client
                .post(url)
                .json(&json!({"username": "ada", "password": format!("wrong guess {attempt}")}))
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    });
    let codes = futures::future::join_all(attempts).await;
    let guessed = codes.iter().filter(|code| *code == "invalid_credentials");
    // The default threshold, whichever instance each guess reached.
    assert_eq!(guessed.count(), 5, "{codes:?}");
    let throttled = codes.iter().filter(|code| *code == "throttled");
    assert_eq!(throttled.count(), 55, "{codes:?}");
}
