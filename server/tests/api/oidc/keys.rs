//! Signing-key rotation: by an admin or `gatehouse keys rotate`, a new access-token key
//! and ID-token key sign from then on, on every instance within the revocation bound;
//! tokens signed before keep working, and the old public keys stay in the JWKS until
//! every token they signed has expired.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{provider, within_the_bound};
use crate::helpers::TestApp;

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn rotate(app: &TestApp, bearer: &str) -> reqwest::Response {
    app.send_json_bearer(Method::POST, "/auth/admin/keys/rotate", bearer, None)
        .await
}

#[tokio::test]
async fn a_rotation_signs_with_new_keys_and_keeps_the_old_ones_until_their_tokens_expire() {
    let provider = provider().await;
    let app = &provider.app;
    let before: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    let old_id_kid = kid_of(before["id_token"].as_str().unwrap());
    let ada_before = app.login("ada").await;
    let old_access_kid = kid_of(&ada_before.access);
    // The access-token key, and one ID-token key per algorithm (RS256, ES256, EdDSA).
    assert_eq!(published_kids(app).await.len(), 4);

    let refused = rotate(app, &ada_before.access).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let rotated = rotate(app, &provider.admin).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let new_kids: Vec<String> = rotated["kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kid| kid.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new_kids.len(), 4, "{rotated}");

    let published = published_kids(app).await;
    assert_eq!(published.len(), 8, "{published:?}");
    for kid in [&old_access_kid, &old_id_kid, &new_kids[0], &new_kids[1]] {
        assert!(published.contains(kid), "{kid} in {published:?}");
    }
    // What was signed before still works; what is signed now names the new keys.
    assert_eq!(
        app.get("/auth/me", Some(&ada_before.access)).await.status(),
        StatusCode::OK
    );
    let ada_after = app.login("ada").await;
    assert_eq!(kid_of(&ada_after.access), new_kids[0]);
    let after: Value = provider
        .exchange(&provider.code_for("").await)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kid_of(after["id_token"].as_str().unwrap()), new_kids[1]);
    assert_eq!(
        app.audit_events(&provider.admin, "signing_keys_rotated")
            .await
            .len(),
        1
    );

    // Once every token the old keys signed has expired, they are no longer published.
    app.clock.shift(app.config.access_ttl.as_secs() as i64 + 10);
    let published = published_kids(app).await;
    assert_eq!(published, new_kids, "only the new keys");
}

#[tokio::test]
async fn every_instance_signs_and_verifies_with_the_rotated_keys_within_the_bound() {
    let provider = provider().await;
    let here = &provider.app;
    let there = here.another_instance().await;
    // The other instance has read its keys (and answered from them) before the rotation.
    let old_kid = kid_of(&there.login("ada").await.access);
    let rotated: Value = rotate(here, &provider.admin).await.json().await.unwrap();
    let new_kid = rotated["kids"][0].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);

    let signed_here = here.login("ada").await.access;
    assert_eq!(kid_of(&signed_here), new_kid);
    assert!(
        within_the_bound(async || {
            there.get("/auth/me", Some(&signed_here)).await.status() == StatusCode::OK
        })
        .await,
        "a token signed with the new key is accepted there"
    );
    assert!(
        within_the_bound(async || kid_of(&there.login("ada").await.access) == new_kid).await,
        "the other instance signs with the new key"
    );
    assert!(published_kids(&there).await.contains(&new_kid));
}

#[tokio::test]
async fn gatehouse_keys_rotate_on_the_command_line_is_honoured_by_a_running_server() {
    let provider = provider().await;
    let app = &provider.app;
    let old_kid = kid_of(&app.login("ada").await.access);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .args(["keys", "rotate"])
        .env("GATEHOUSE_DATA_DIR", app.data_dir.path())
        .env_remove("MONGODB_URI")
        .env_remove("GATEHOUSE_DATABASE_URL");
    if let (Some(url), Some(name)) = (&app.config.database_url, &app.config.database_name) {
        command
            .env("GATEHOUSE_DATABASE_URL", url)
            .env("GATEHOUSE_DATABASE_NAME", name);
    }
    let ran = command.output().unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let rotated: Value = serde_json::from_slice(&ran.stdout).unwrap();
    let new_kid = rotated["kids"][0].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert!(
        within_the_bound(async || kid_of(&app.login("ada").await.access) == new_kid).await,
        "the running server signs with the key the command made"
    );
    let events = app
        .audit_events(&provider.admin, "signing_keys_rotated")
        .await;
    assert_eq!(events.len(), 1);
}
