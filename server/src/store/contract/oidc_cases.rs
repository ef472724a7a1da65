//! OpenID Connect clients and authorization codes: a code is spent exactly once, however
//! many redemptions race, and a later use is told apart from an unknown code.

use super::*;
use crate::store::{AuthorizationCode, CodeRedemption, OidcClient};

fn client(id: &str) -> OidcClient {
    OidcClient {
        id: id.into(),
        name: "Wiki".into(),
        secret_hash: Some("ab".repeat(32)),
        redirect_uris: vec![
            "https://wiki.example.org/callback".into(),
            "http://127.0.0.1/cb".into(),
        ],
        post_logout_redirect_uris: vec!["https://wiki.example.org/".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        pre_consented: false,
        id_token_alg: "ES256".into(),
        disabled: false,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn code(hash: &str, expires_at: i64) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        redirect_uri: "https://wiki.example.org/callback".into(),
        scope: "openid profile".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: None,
        session_id: "s-code".into(),
        auth_time: NOW - 30,
        sign_in: SignInMethod::PasswordAndPasskey,
        created_at: NOW,
        expires_at,
    }
}

pub async fn clients_are_added_found_listed_replaced_and_removed(store: &dyn Store) {
    assert!(store.clients().await.unwrap().is_empty());
    assert_eq!(store.client("c1").await.unwrap(), None);
    store.add_client(client("c1")).await.unwrap();
    let public = OidcClient {
        secret_hash: None,
        post_logout_redirect_uris: vec![],
        ..client("c2")
    };
    store.add_client(public.clone()).await.unwrap();
    assert!(matches!(
        store.add_client(client("c1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.client("c1").await.unwrap(), Some(client("c1")));
    assert_eq!(store.client("c2").await.unwrap(), Some(public.clone()));
    let mut listed = store.clients().await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, vec![client("c1"), public]);

    let changed = OidcClient {
        name: "Wiki (new)".into(),
        secret_hash: Some("cd".repeat(32)),
        redirect_uris: vec!["https://wiki.example.org/oidc".into()],
        disabled: true,
        pre_consented: true,
        id_token_alg: "EdDSA".into(),
        updated_at: NOW + 10,
        ..client("c1")
    };
    store.replace_client(changed.clone()).await.unwrap();
    assert_eq!(store.client("c1").await.unwrap(), Some(changed));
    assert!(matches!(
        store.replace_client(client("missing")).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.remove_client("c1").await.unwrap());
    assert!(!store.remove_client("c1").await.unwrap());
    assert_eq!(store.client("c1").await.unwrap(), None);
}

pub async fn a_code_is_redeemed_once_then_seen_as_a_replay(store: &dyn Store) {
    store.save_code(code("h1", NOW + 60)).await.unwrap();
    assert_eq!(
        store.redeem_code("h1", NOW + 1).await.unwrap(),
        CodeRedemption::Redeemed(code("h1", NOW + 60))
    );
    assert_eq!(
        store.redeem_code("h1", NOW + 2).await.unwrap(),
        CodeRedemption::Replayed(code("h1", NOW + 60))
    );
    // Still a replay after its minute: the first use's tokens are what it revokes.
    assert_eq!(
        store.redeem_code("h1", NOW + 120).await.unwrap(),
        CodeRedemption::Replayed(code("h1", NOW + 60))
    );
    assert_eq!(
        store.redeem_code("unknown", NOW).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert!(matches!(
        store.save_code(code("h1", NOW + 60)).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn parallel_redemptions_of_one_code_redeem_exactly_once(store: &dyn Store) {
    store.save_code(code("h-race", NOW + 60)).await.unwrap();
    let outcomes =
        futures::future::join_all((0..12).map(|_| store.redeem_code("h-race", NOW + 1))).await;
    let redeemed = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(CodeRedemption::Redeemed(_))))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(CodeRedemption::Replayed(_))))
        .count();
    assert_eq!((redeemed, replayed), (1, 11), "{outcomes:?}");
}

pub async fn an_expired_code_is_refused_and_purged_once_its_memory_is_over(store: &dyn Store) {
    store.save_code(code("h-old", NOW + 60)).await.unwrap();
    store.save_code(code("h-spent", NOW + 60)).await.unwrap();
    assert!(matches!(
        store.redeem_code("h-spent", NOW + 1).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    assert_eq!(
        store.redeem_code("h-old", NOW + 60).await.unwrap(),
        CodeRedemption::Unknown
    );
    // Within the memory a purge keeps the spent code (a replay is still seen as one).
    store.purge_expired(NOW + 61).await.unwrap();
    assert!(matches!(
        store.redeem_code("h-spent", NOW + 62).await.unwrap(),
        CodeRedemption::Replayed(_)
    ));
    store
        .purge_expired(NOW + 60 + crate::store::codes::SPENT_CODE_MEMORY_SECS)
        .await
        .unwrap();
    assert_eq!(
        store.redeem_code("h-spent", NOW + 700).await.unwrap(),
        CodeRedemption::Unknown
    );
}

pub async fn an_apps_session_keeps_its_client_and_scope_through_rotation_and_ends_with_it(
    store: &dyn Store,
) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    let first = fresh_hash();
    let grant = crate::store::ClientGrant {
        client_id: "c1".into(),
        scope: "openid offline_access".into(),
    };
    store
        .create_session(NewSession {
            id: "s-app".into(),
            user_id: "u1".into(),
            refresh_hash: first.clone(),
            created_at: NOW,
            expires_at: NOW + WEEK,
            user_agent: Some("Wiki (signed in through Gatehouse)".into()),
            ip: None,
            sign_in: SignInMethod::Password,
            grant: Some(grant.clone()),
        })
        .await
        .unwrap();
    let own = session_for(store, "s-own", "u1").await;
    match store
        .rotate_refresh(&first, &fresh_hash(), NOW + 1, NOW + WEEK, NO_GRACE)
        .await
        .unwrap()
    {
        Rotation::Rotated { session, .. } => assert_eq!(session.grant, Some(grant.clone())),
        other => panic!("{other:?}"),
    }
    match store
        .rotate_refresh(&own, &fresh_hash(), NOW + 1, NOW + WEEK, NO_GRACE)
        .await
        .unwrap()
    {
        Rotation::Rotated { session, .. } => assert_eq!(session.grant, None),
        other => panic!("{other:?}"),
    }
    let listed = store.list_sessions("u1", NOW + 2).await.unwrap();
    let app = listed.iter().find(|session| session.id == "s-app").unwrap();
    assert_eq!(app.grant, Some(grant));

    // The client is disabled: its sessions end, the user's own stays.
    assert_eq!(
        store.revoke_client_sessions("c2", NOW + 3).await.unwrap(),
        0
    );
    assert_eq!(
        store.revoke_client_sessions("c1", NOW + 3).await.unwrap(),
        1
    );
    assert_eq!(
        store.revoke_client_sessions("c1", NOW + 3).await.unwrap(),
        0
    );
    let left: Vec<String> = store
        .list_sessions("u1", NOW + 4)
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(left, vec!["s-own".to_owned()]);
}

pub async fn a_consent_is_kept_per_user_and_client_replaced_and_removed(store: &dyn Store) {
    use crate::store::Consent;
    let consent = |user: &str, client: &str, scope: &str, at: i64| Consent {
        user_id: user.into(),
        client_id: client.into(),
        scope: scope.into(),
        granted_at: at,
    };
    assert_eq!(store.consent("u1", "c1").await.unwrap(), None);
    store
        .save_consent(consent("u1", "c1", "openid", NOW))
        .await
        .unwrap();
    store
        .save_consent(consent("u1", "c2", "openid email", NOW))
        .await
        .unwrap();
    store
        .save_consent(consent("u2", "c1", "openid", NOW))
        .await
        .unwrap();
    store
        .save_consent(consent("u1", "c1", "openid profile", NOW + 5))
        .await
        .unwrap();
    assert_eq!(
        store.consent("u1", "c1").await.unwrap(),
        Some(consent("u1", "c1", "openid profile", NOW + 5))
    );
    let mut mine = store.consents_of("u1").await.unwrap();
    mine.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert_eq!(
        mine,
        vec![
            consent("u1", "c1", "openid profile", NOW + 5),
            consent("u1", "c2", "openid email", NOW)
        ]
    );
    assert!(store.remove_consent("u1", "c1").await.unwrap());
    assert!(!store.remove_consent("u1", "c1").await.unwrap());
    assert_eq!(store.consent("u1", "c1").await.unwrap(), None);
    assert!(store.consent("u2", "c1").await.unwrap().is_some());
}
