//! Sessions: refresh rotation, the grace for concurrent refreshes, reuse detection, revocation.

use super::*;

pub async fn a_current_refresh_token_rotates_exactly_once(store: &dyn Store) {
    let first = ada_with_session(store).await;
    let second = fresh_hash();
    match store
        .rotate_refresh(&first, &second, NOW + 10, NOW + 10 + WEEK, NO_GRACE)
        .await
        .unwrap()
    {
        Rotation::Rotated { session, user } => {
            assert_eq!(session.id, "s1");
            assert_eq!(session.last_used_at, NOW + 10);
            assert_eq!(user.id, "u1");
        }
        other => panic!("expected a rotation, got {other:?}"),
    }
    let live = store.session_by_refresh(&second, NOW + 11).await.unwrap();
    assert_eq!(live.unwrap().id, "s1");
    assert!(
        store
            .session_by_refresh(&first, NOW + 11)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_rotated_refresh_token_presented_again_revokes_the_session(store: &dyn Store) {
    let first = ada_with_session(store).await;
    let second = fresh_hash();
    store
        .rotate_refresh(&first, &second, NOW, NOW + WEEK, NO_GRACE)
        .await
        .unwrap();
    let reused = store
        .rotate_refresh(&first, &fresh_hash(), NOW + 1, NOW + WEEK, NO_GRACE)
        .await
        .unwrap();
    assert!(matches!(reused, Rotation::Reused { ref session_id, .. } if session_id == "s1"));
    // The legitimate successor dies with the session.
    assert!(matches!(
        store
            .rotate_refresh(&second, &fresh_hash(), NOW + 2, NOW + WEEK, NO_GRACE)
            .await
            .unwrap(),
        Rotation::Invalid
    ));
    assert!(store.list_sessions("u1", NOW + 2).await.unwrap().is_empty());
}

pub async fn parallel_rotations_of_one_token_rotate_exactly_once_and_the_replays_end_the_session(
    store: &dyn Store,
) {
    let first = ada_with_session(store).await;
    let successors: Vec<RefreshHash> = (0..20).map(|_| fresh_hash()).collect();
    let outcomes = futures::future::join_all(
        successors
            .iter()
            .map(|successor| store.rotate_refresh(&first, successor, NOW, NOW + WEEK, NO_GRACE)),
    )
    .await;
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Rotation::Rotated { .. })))
        .count();
    let reused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Rotation::Reused { .. })))
        .count();
    assert_eq!((rotated, reused), (1, 19), "{outcomes:?}");
    // The nineteen losers presented a token that had just been superseded: reuse
    // detection ended the session, so not even the one successor lives on.
    let mut live = 0;
    for successor in &successors {
        if store
            .session_by_refresh(successor, NOW + 1)
            .await
            .unwrap()
            .is_some()
        {
            live += 1;
        }
    }
    assert_eq!(live, 0, "{live} live successors");
}

pub async fn an_expired_or_unknown_refresh_token_is_invalid(store: &dyn Store) {
    let first = ada_with_session(store).await;
    assert!(matches!(
        store
            .rotate_refresh(&fresh_hash(), &fresh_hash(), NOW, NOW + WEEK, NO_GRACE)
            .await
            .unwrap(),
        Rotation::Invalid
    ));
    assert!(matches!(
        store
            .rotate_refresh(
                &first,
                &fresh_hash(),
                NOW + WEEK + 1,
                NOW + 2 * WEEK,
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Invalid
    ));
}

pub async fn revoking_other_sessions_keeps_the_current_one(store: &dyn Store) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    for id in ["s1", "s2", "s3"] {
        session_for(store, id, "u1").await;
    }
    assert_eq!(
        store
            .revoke_user_sessions("u1", Some("s2"), NOW)
            .await
            .unwrap(),
        2
    );
    let left: Vec<String> = store
        .list_sessions("u1", NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec!["s2".to_string()]);
    // Another user's session cannot be revoked through this user.
    store
        .create_user(new_user("u2", "bob", Role::User))
        .await
        .unwrap();
    session_for(store, "s9", "u2").await;
    assert!(!store.revoke_session("u1", "s9", NOW).await.unwrap());
}

pub async fn parallel_refreshes_within_the_grace_all_get_the_same_successor_and_one_session_lives(
    store: &dyn Store,
) {
    let first = ada_with_session(store).await;
    // Every racer derives the same successor from the token it presents.
    let successor = fresh_hash();
    let outcomes = futures::future::join_all(
        (0..20).map(|_| store.rotate_refresh(&first, &successor, NOW, NOW + WEEK, GRACE)),
    )
    .await;
    let rotated_in_s1 = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Rotation::Rotated { session, .. }) if session.id == "s1"))
        .count();
    assert_eq!(rotated_in_s1, 20, "{outcomes:?}");
    assert_eq!(store.list_sessions("u1", NOW + 1).await.unwrap().len(), 1);
    let live = store.session_by_refresh(&successor, NOW + 1).await.unwrap();
    assert_eq!(live.map(|session| session.id).as_deref(), Some("s1"));
    assert!(
        store
            .session_by_refresh(&first, NOW + 1)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_replay_within_the_grace_gets_the_successor_only_while_it_is_current(
    store: &dyn Store,
) {
    let first = ada_with_session(store).await;
    let second = fresh_hash();
    assert!(matches!(
        rotate_with_grace(store, &first, &second, NOW).await,
        Rotation::Rotated { .. }
    ));
    // A retry a moment later: the same answer, nothing revoked.
    assert!(matches!(
        rotate_with_grace(store, &first, &second, NOW + GRACE).await,
        Rotation::Rotated { .. }
    ));
    assert!(
        store
            .session_by_refresh(&second, NOW + GRACE)
            .await
            .unwrap()
            .is_some()
    );
    // The successor is used in turn: the first token's grace is over for good.
    let third = fresh_hash();
    assert!(matches!(
        rotate_with_grace(store, &second, &third, NOW + 2).await,
        Rotation::Rotated { .. }
    ));
    assert!(matches!(
        rotate_with_grace(store, &first, &second, NOW + 3).await,
        Rotation::Reused { .. }
    ));
    assert!(
        store
            .session_by_refresh(&third, NOW + 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_sessions("u1", NOW + 3).await.unwrap().is_empty());
}

pub async fn a_replay_after_the_grace_or_with_another_successor_is_reuse(store: &dyn Store) {
    let late = ada_with_session(store).await;
    let late_successor = fresh_hash();
    store
        .rotate_refresh(&late, &late_successor, NOW, NOW + WEEK, GRACE)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh(&late, &late_successor, NOW + GRACE + 1, NOW + WEEK, GRACE)
            .await
            .unwrap(),
        Rotation::Reused { .. }
    ));
    assert!(
        store
            .session_by_refresh(&late_successor, NOW + GRACE + 1)
            .await
            .unwrap()
            .is_none()
    );

    // A successor other than the one the token was rotated to (another key, a forgery).
    let other = session_for(store, "s2", "u1").await;
    store
        .rotate_refresh(&other, &fresh_hash(), NOW, NOW + WEEK, GRACE)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh(&other, &fresh_hash(), NOW + 1, NOW + WEEK, GRACE)
            .await
            .unwrap(),
        Rotation::Reused { .. }
    ));
    assert!(store.list_sessions("u1", NOW + 1).await.unwrap().is_empty());
}

pub async fn a_session_is_authenticated_at_its_sign_in_until_a_later_proof_and_only_while_live(
    store: &dyn Store,
) {
    let refresh = ada_with_session(store).await;
    let authenticated_at = |at| async move {
        store
            .session_authentication("u1", "s1", at)
            .await
            .unwrap()
            .map(|found| found.at)
    };
    assert_eq!(
        store
            .session_authentication("u1", "s1", NOW + 1)
            .await
            .unwrap(),
        Some(SessionAuthentication {
            at: NOW,
            method: SignInMethod::Password
        })
    );
    // A rotation is not a proof of who is holding the token.
    store
        .rotate_refresh(&refresh, &fresh_hash(), NOW + 50, NOW + WEEK, NO_GRACE)
        .await
        .unwrap();
    assert_eq!(authenticated_at(NOW + 51).await, Some(NOW));
    assert!(
        store
            .mark_session_authenticated("u1", "s1", NOW + 100)
            .await
            .unwrap()
    );
    assert_eq!(authenticated_at(NOW + 101).await, Some(NOW + 100));
    // Two proofs that race: the later one stays, whichever lands last.
    assert!(
        store
            .mark_session_authenticated("u1", "s1", NOW + 90)
            .await
            .unwrap()
    );
    assert_eq!(authenticated_at(NOW + 101).await, Some(NOW + 100));
    // Someone else's session is not this user's to mark or read.
    store
        .create_user(new_user("u2", "bob", Role::User))
        .await
        .unwrap();
    session_for(store, "s2", "u2").await;
    assert!(
        !store
            .mark_session_authenticated("u1", "s2", NOW + 100)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .session_authentication("u1", "s2", NOW + 101)
            .await
            .unwrap(),
        None
    );
    assert!(store.revoke_session("u1", "s1", NOW + 200).await.unwrap());
    assert_eq!(authenticated_at(NOW + 201).await, None);
    assert!(
        !store
            .mark_session_authenticated("u1", "s1", NOW + 300)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .session_authentication("u2", "s2", NOW + WEEK + 1)
            .await
            .unwrap(),
        None,
        "an expired session proves nothing"
    );
}
