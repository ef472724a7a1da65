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

pub async fn the_first_signing_key_wins(store: &dyn Store) {
    let key = |kid: &str| StoredSigningKey {
        kid: kid.into(),
        algorithm: "EdDSA".into(),
        private_der: vec![1, 2, 3],
        public_raw: vec![4, 5, 6],
        created_at: NOW,
    };
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
