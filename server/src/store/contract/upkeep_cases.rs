//! The audit log, signing keys and purging.

use super::*;

pub async fn audit_events_are_listed_newest_first_and_filtered(store: &dyn Store) {
    for (i, kind) in ["login", "login_failed", "login"].iter().enumerate() {
        store
            .append_audit(NewAuditEvent {
                at: NOW + i as i64,
                kind,
                user_id: Some("u1".into()),
                username: Some("ada".into()),
                ip: None,
                user_agent: None,
                detail: None,
            })
            .await
            .unwrap();
    }
    let all = store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].at, NOW + 2);
    let logins = store
        .list_audit(&AuditQuery {
            kind: Some("login".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(logins.total, 2);
}

pub async fn audit_events_past_their_retention_are_purged(store: &dyn Store) {
    for at in [NOW - 100, NOW - 10, NOW] {
        store
            .append_audit(NewAuditEvent {
                at,
                kind: "login",
                user_id: None,
                username: None,
                ip: None,
                user_agent: None,
                detail: None,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.purge_audit_before(NOW - 10).await.unwrap(), 1);
    let left = store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(left.total, 2);
    assert!(left.items.iter().all(|event| event.at >= NOW - 10));
}

fn signing_key(kid: &str, algorithm: &str, created_at: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        algorithm: algorithm.into(),
        generation: 0,
        private_der: vec![1, 2, 3],
        public_raw: vec![4, 5, 6],
        created_at,
    }
}

pub async fn the_first_signing_key_wins(store: &dyn Store) {
    let key = |kid: &str| signing_key(kid, "EdDSA", NOW);
    assert!(store.signing_key("EdDSA").await.unwrap().is_none());
    assert_eq!(
        store.signing_key_or_insert(key("first")).await.unwrap().kid,
        "first"
    );
    assert_eq!(
        store
            .signing_key_or_insert(key("second"))
            .await
            .unwrap()
            .kid,
        "first"
    );
    let found = store.signing_key("EdDSA").await.unwrap().unwrap();
    assert_eq!(
        (found.kid.as_str(), found.public_raw),
        ("first", vec![4, 5, 6])
    );
    assert!(store.signing_key("RS256").await.unwrap().is_none());
}

/// A rotation adds the next generation, which signs from then on on every instance (the
/// revocation log moves); racing rotations take distinct generations; a key is removed
/// once its successor is older than every token it signed.
pub async fn rotated_keys_line_up_by_generation_and_superseded_ones_go(store: &dyn Store) {
    let kids = async |algorithm: &str| -> Vec<(String, i64)> {
        store
            .signing_keys(algorithm)
            .await
            .unwrap()
            .into_iter()
            .map(|key| (key.kid, key.generation))
            .collect()
    };
    store
        .signing_key_or_insert(signing_key("ed-0", "EdDSA", NOW))
        .await
        .unwrap();
    let before = store.revocation_position().await.unwrap();
    let rotated = store
        .add_signing_key(signing_key("ed-1", "EdDSA", NOW + 100))
        .await
        .unwrap();
    assert_eq!((rotated.kid.as_str(), rotated.generation), ("ed-1", 1));
    assert_ne!(store.revocation_position().await.unwrap(), before);
    assert_eq!(
        store.signing_key("EdDSA").await.unwrap().unwrap().kid,
        "ed-1"
    );
    // A starting server finds the newest, and adds nothing.
    assert_eq!(
        store
            .signing_key_or_insert(signing_key("ed-x", "EdDSA", NOW + 101))
            .await
            .unwrap()
            .kid,
        "ed-1"
    );
    // The first RSA key may come by rotation too.
    let first_rsa = store
        .add_signing_key(signing_key("rs-0", "RS256", NOW + 100))
        .await
        .unwrap();
    assert_eq!(first_rsa.generation, 0);

    let racing =
        (2..6).map(|n| store.add_signing_key(signing_key(&format!("ed-{n}"), "EdDSA", NOW + 200)));
    let mut generations: Vec<i64> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|stored| stored.unwrap().generation)
        .collect();
    generations.sort();
    assert_eq!(generations, vec![2, 3, 4, 5]);
    assert_eq!(kids("EdDSA").await.len(), 6);

    // ed-0's successor was made at NOW + 100: not before NOW + 100, so it stays.
    assert_eq!(
        store
            .remove_superseded_signing_keys(NOW + 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .remove_superseded_signing_keys(NOW + 101)
            .await
            .unwrap(),
        1
    );
    assert_eq!(kids("EdDSA").await.first().unwrap().0, "ed-1");
    // Every older generation goes; the newest of each algorithm always stays.
    store
        .remove_superseded_signing_keys(NOW + 10_000)
        .await
        .unwrap();
    assert_eq!(kids("EdDSA").await.len(), 1);
    assert_eq!(kids("EdDSA").await[0].1, 5);
    assert_eq!(kids("RS256").await, vec![("rs-0".to_owned(), 0)]);
}

pub async fn purging_removes_only_what_expired(store: &Served) {
    let live = ada_with_session(&**store).await;
    store.revoke_jti("old", NOW - 1).await.unwrap();
    store.revoke_jti("new", NOW + 900).await.unwrap();
    // Only the expired revocation goes; a second purge finds nothing more.
    assert_eq!(store.purge_expired(NOW).await.unwrap(), 1);
    assert_eq!(store.purge_expired(NOW).await.unwrap(), 0);
    assert!(
        store
            .access_status("new", "s1", "u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .jti_revoked
    );
    assert!(
        !store
            .access_status("old", "s1", "u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .jti_revoked
    );
    assert!(
        store
            .session_by_refresh(&live, NOW)
            .await
            .unwrap()
            .is_some()
    );
}
