//! MongoDB without transactions: a revoking write is several operations, and any one of
//! them can fail alone (a lost connection, a server stepping down). These cases make one
//! step fail (`MongoStore::fail`) and check that the bound still holds on another
//! instance and that a reset leaves no session beside a changed password. They need a
//! live server (`MONGODB_URI`); the embedded store writes each of these in one
//! transaction.

use std::time::{Duration, Instant};

use super::{
    link_cases::link_for,
    revocation_cases::{BOUND, honoured_within_the_bound, signed_in_everywhere},
    *,
};
use crate::{domain::LinkPurpose, store::Rotation};

/// A fresh database and two instances on it; `None` without a server to run against.
async fn two_instances() -> Option<(MongoStore, Served, Served)> {
    let Ok(url) = std::env::var("MONGODB_URI") else {
        eprintln!("MONGODB_URI is not set: the MongoDB failure cases did not run");
        return None;
    };
    let name = format!("gatehouse_interrupted_{}", uuid::Uuid::now_v7().simple());
    let mongo = MongoStore::connect(&url, Some(&name)).await.unwrap();
    let here = Served::new(Arc::new(mongo.clone()), BOUND);
    let there = Served::new(Arc::new(mongo.as_another_instance()), BOUND);
    here.create_user(new_user("u1", "ada", Role::Admin))
        .await
        .unwrap();
    Some((mongo, here, there))
}

/// Every pass through the close fails, the writer's retries too.
const EVERY_CLOSE: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_position_cannot_be_written_is_refused_elsewhere_within_the_bound() {
    let Some((mongo, here, there)) = two_instances().await else {
        return;
    };
    signed_in_everywhere(&here, &there, "s1", "j1").await;
    mongo.fail("revocation: close", EVERY_CLOSE);
    // The session is revoked whether or not the position moved: the caller hears so.
    let revoked = here.revoke_session("u1", "s1", NOW).await;
    assert!(matches!(revoked, Ok(true)), "{revoked:?}");
    honoured_within_the_bound("an unlogged revocation", &here, &there, "s1", "j1", BOUND).await;
    mongo.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_retried_after_its_answer_was_lost_is_refused_elsewhere_within_the_bound() {
    let Some((mongo, here, there)) = two_instances().await else {
        return;
    };
    signed_in_everywhere(&here, &there, "s1", "j1").await;
    // The update commits; its answer is lost.
    mongo.fail("session: revoked", 1);
    let lost = here.revoke_session("u1", "s1", NOW).await;
    assert!(matches!(lost, Err(StoreError::Unavailable(_))), "{lost:?}");
    // The client retries: nothing is left to change.
    let retried = here.revoke_session("u1", "s1", NOW).await;
    assert!(matches!(retried, Ok(false)), "{retried:?}");
    honoured_within_the_bound("a retried revocation", &here, &there, "s1", "j1", BOUND).await;
    mongo.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_interrupted_at_any_step_leaves_no_live_session_beside_a_new_password() {
    let new_password = PasswordHashString::from_phc("$argon2id$new".into());
    for (step, session) in [
        ("reset: sessions ended", "s1"),
        ("reset: password set", "s2"),
    ] {
        let Some((mongo, here, there)) = two_instances().await else {
            return;
        };
        let refresh = signed_in_everywhere(&here, &there, session, "j1").await;
        let link = link_for(&*here, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
        mongo.fail(step, 1);
        let interrupted = here.use_reset_link(&link, &new_password, NOW).await;
        assert!(interrupted.is_err(), "{step}: {interrupted:?}");
        let password = here.user_by_id("u1").await.unwrap().unwrap().password_hash;
        let changed = password.as_ref() == Some(&new_password);
        let rotation = here
            .rotate_refresh(&refresh, &fresh_hash(), NOW + 60, NOW + WEEK, GRACE)
            .await
            .unwrap();
        assert!(
            !matches!(rotation, Rotation::Rotated { .. }),
            "{step}: the session lives on (password changed: {changed})"
        );
        honoured_within_the_bound(step, &here, &there, session, "j1", BOUND).await;
        if !changed {
            // Nothing lost: the link still changes the password.
            let retried = here.use_reset_link(&link, &new_password, NOW).await;
            assert!(retried.unwrap().is_some(), "{step}: the link was lost");
        }
        mongo.drop_database().await.unwrap();
    }
}

#[tokio::test]
async fn an_entry_its_writer_abandoned_is_closed_by_a_reader_and_moves_the_position() {
    let Some((mongo, here, _there)) = two_instances().await else {
        return;
    };
    here.revoke_jti("j1", NOW + 900).await.unwrap();
    let before = here.revocation_position().await.unwrap().unwrap();
    mongo.abandon_a_revocation(Duration::from_secs(3600)).await;
    assert_eq!(
        here.revocation_position().await.unwrap(),
        None,
        "an open entry settles nothing"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        if let Some(after) = here.revocation_position().await.unwrap() {
            break after;
        }
        assert!(Instant::now() < deadline, "never closed");
    };
    assert_eq!(after, before + 1);
    mongo.drop_database().await.unwrap();
}

#[tokio::test]
async fn an_entry_still_open_keeps_the_position_unsettled_until_it_closes() {
    let Some((mongo, here, _there)) = two_instances().await else {
        return;
    };
    let before = here.revocation_position().await.unwrap().unwrap();
    // A fresh entry (its writer still at work) is left alone.
    mongo.abandon_a_revocation(Duration::ZERO).await;
    for _ in 0..3 {
        assert_eq!(here.revocation_position().await.unwrap(), None);
    }
    mongo.close_every_open_revocation().await;
    assert_eq!(here.revocation_position().await.unwrap(), Some(before));
    mongo.drop_database().await.unwrap();
}
