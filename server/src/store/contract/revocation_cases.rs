//! Contract cases for the revocation log and for several instances on one store: which
//! writes the log records, that no entry is lost to concurrency, and that a revocation
//! made on one instance is honoured by another within the bound and never accepted
//! after it.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use super::{link_cases::link_for, *};
use crate::{
    domain::LinkPurpose,
    store::{AccessStatus, StoreResult},
};

/// Two server processes' views of one store: the raw backends, each to be put behind
/// its own memory.
pub struct Instances {
    pub here: Arc<dyn Store>,
    pub there: Arc<dyn Store>,
}

pub(super) const BOUND: Duration = DEFAULT_REVOCATION_BOUND;
/// How long past the bound the other instance is still watched, to catch a late accept.
const WATCHED_PAST_THE_BOUND: Duration = Duration::from_millis(300);

async fn position(store: &dyn Store) -> u64 {
    store
        .revocation_position()
        .await
        .unwrap()
        .expect("no revoking write is under way")
}

/// Runs `write`, which must succeed, and says how far it moved the log.
async fn moves<T>(store: &dyn Store, write: impl Future<Output = StoreResult<T>>) -> u64 {
    let before = position(store).await;
    if let Err(error) = write.await {
        panic!("the write failed: {error}");
    }
    position(store).await - before
}

pub async fn every_write_that_can_refuse_a_token_moves_the_log_by_one_and_no_other_write_does(
    instances: Instances,
) {
    let store = instances.here.as_ref();
    let start = position(store).await;
    store
        .create_user(new_user("u0", "root", Role::Admin))
        .await
        .unwrap();
    let first_refresh = ada_with_session(store).await;
    let second = fresh_hash();
    rotate_with_grace(store, &first_refresh, &second, NOW).await;
    store.append_audit(event_for_ada()).await.unwrap();
    let link = link_for(store, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
    assert_eq!(
        position(store).await,
        start,
        "adding and rotating refuse nothing"
    );

    assert_eq!(moves(store, store.revoke_jti("j1", NOW + 900)).await, 1);
    assert_eq!(moves(store, store.revoke_session("u1", "s1", NOW)).await, 1);
    assert_eq!(
        moves(store, store.revoke_session("u1", "s1", NOW)).await,
        0,
        "nothing left to revoke"
    );
    session_for(store, "s2", "u1").await;
    session_for(store, "s3", "u1").await;
    assert_eq!(
        moves(store, store.revoke_user_sessions("u1", Some("s2"), NOW)).await,
        1
    );
    assert_eq!(
        moves(store, store.revoke_user_sessions("u1", Some("s2"), NOW)).await,
        0
    );
    let disable = UserChange {
        disabled: Some(true),
        ..Default::default()
    };
    assert_eq!(moves(store, store.update_user("u1", &disable)).await, 1);
    let promote = UserChange {
        role: Some(Role::Admin),
        disabled: Some(false),
    };
    assert_eq!(moves(store, store.update_user("u1", &promote)).await, 1);
    let demote_both = async {
        store
            .update_user(
                "u1",
                &UserChange {
                    role: Some(Role::User),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let refused = store.update_user("u0", &disable).await;
        assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");
        StoreResult::Ok(())
    };
    assert_eq!(
        moves(store, demote_both).await,
        1,
        "a refused change moved it"
    );

    let replayed = session_for(store, "s4", "u1").await;
    rotate_with_grace(store, &replayed, &fresh_hash(), NOW).await;
    let replay = async {
        let outcome = store
            .rotate_refresh(&replayed, &fresh_hash(), NOW + 60, NOW + WEEK, NO_GRACE)
            .await
            .unwrap();
        assert!(matches!(outcome, Rotation::Reused { .. }), "{outcome:?}");
        StoreResult::Ok(())
    };
    assert_eq!(moves(store, replay).await, 1);

    let new_password = PasswordHashString::from_phc("$argon2id$new".into());
    let reset = async {
        let used = store.use_reset_link(&link, &new_password, NOW).await;
        assert!(used.unwrap().is_some());
        StoreResult::Ok(())
    };
    assert_eq!(moves(store, reset).await, 1);
    assert_eq!(
        moves(store, store.use_reset_link(&link, &new_password, NOW)).await,
        0,
        "a used link changes nothing"
    );
    // Second factors and step-up tickets refuse no token already accepted.
    let factors = async {
        store
            .begin_totp(crate::store::NewTotp {
                user_id: "u1".into(),
                sealed_secret: "sealed".into(),
                sealed_recovery_codes: "codes".into(),
                created_at: NOW,
            })
            .await?;
        store.confirm_totp("u1", 10, &[], NOW).await?;
        store.use_totp_step("u1", 11, None).await?;
        let hash = crate::domain::TicketHash::of_issued("ticket");
        store
            .create_step_up(crate::store::NewStepUp {
                hash: hash.clone(),
                user_id: "u1".into(),
                first_step: crate::domain::FirstStep::Password,
                created_at: NOW,
                expires_at: NOW + 1,
            })
            .await?;
        store.take_step_up(&hash, NOW).await?;
        store.remove_second_factors("u1").await?;
        StoreResult::Ok(())
    };
    assert_eq!(moves(store, factors).await, 0);
    let expiring_ticket = crate::store::NewStepUp {
        hash: crate::domain::TicketHash::of_issued("expiring"),
        user_id: "u1".into(),
        first_step: crate::domain::FirstStep::Password,
        created_at: NOW - 10,
        expires_at: NOW - 1,
    };
    store.create_step_up(expiring_ticket).await.unwrap();
    assert_eq!(
        moves(store, store.purge_expired(NOW)).await,
        0,
        "nothing that refuses a token had expired (only a ticket)"
    );
    assert_eq!(moves(store, store.purge_expired(NOW + 2 * WEEK)).await, 1);
}

fn event_for_ada() -> NewAuditEvent {
    NewAuditEvent {
        at: NOW,
        kind: "login",
        user_id: Some("u1".into()),
        username: Some("ada".into()),
        ip: None,
        user_agent: None,
        detail: None,
    }
}

pub async fn parallel_revocations_take_consecutive_positions_none_lost(instances: Instances) {
    const WRITES: u64 = 24;
    let start = position(instances.here.as_ref()).await;
    let writers: Vec<_> = (0..WRITES)
        .map(|n| {
            // Half from each instance, as from two processes.
            let store = if n % 2 == 0 {
                instances.here.clone()
            } else {
                instances.there.clone()
            };
            tokio::spawn(async move { store.revoke_jti(&format!("j{n}"), NOW + 900).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(position(instances.there.as_ref()).await, start + WRITES);
}

/// Ada signed in on session `session` with access token id `jti`, as both instances
/// see it: accepted, and remembered by the other one.
pub(super) async fn signed_in_everywhere(
    here: &Served,
    there: &Served,
    session: &str,
    jti: &str,
) -> RefreshHash {
    let refresh = session_for(&**here, session, "u1").await;
    wait_until_trusted(there).await;
    for store in [here, there] {
        let status = store.access_status(jti, session, "u1", NOW).await.unwrap();
        assert!(accepted(status.as_ref()), "{status:?}");
    }
    refresh
}

async fn wait_until_trusted(store: &Served) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !store.trusts_its_memory() {
        assert!(Instant::now() < deadline, "the log was never read");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Accepted as a signed-in admin would need: live token, live session, enabled admin.
fn accepted(status: Option<&AccessStatus>) -> bool {
    status.is_some_and(|status| {
        !status.jti_revoked
            && status.session_active
            && !status.user_disabled
            && status.role == Role::Admin
    })
}

/// After `revoke` returned on `here`: refused there at once; on `there`, refused from
/// some moment within the bound on, and never accepted after the bound.
pub(super) async fn honoured_within_the_bound(
    what: &str,
    here: &Served,
    there: &Served,
    session: &str,
    jti: &str,
    bound: Duration,
) -> Duration {
    let returned = Instant::now();
    let here_now = here.access_status(jti, session, "u1", NOW).await.unwrap();
    assert!(
        !accepted(here_now.as_ref()),
        "{what}: accepted where it was made"
    );
    let mut last_accepted: Option<Duration> = None;
    while returned.elapsed() < bound + WATCHED_PAST_THE_BOUND {
        let asked = returned.elapsed();
        let status = there.access_status(jti, session, "u1", NOW).await.unwrap();
        if accepted(status.as_ref()) {
            last_accepted = Some(asked);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let visible_after = last_accepted.unwrap_or_default();
    assert!(
        visible_after < bound,
        "{what}: the other instance still accepted {visible_after:?} after the revocation"
    );
    visible_after
}

pub async fn another_instance_refuses_each_kind_of_revocation_within_the_bound_and_never_after(
    instances: Instances,
) {
    let here = Served::new(instances.here.clone(), BOUND);
    let there = Served::new(instances.there.clone(), BOUND);
    here.create_user(new_user("u0", "root", Role::Admin))
        .await
        .unwrap();
    here.create_user(new_user("u1", "ada", Role::Admin))
        .await
        .unwrap();

    signed_in_everywhere(&here, &there, "s1", "j1").await;
    here.revoke_jti("j1", NOW + 900).await.unwrap();
    honoured_within_the_bound("a revoked token", &here, &there, "s1", "j1", BOUND).await;

    signed_in_everywhere(&here, &there, "s2", "j2").await;
    assert!(here.revoke_session("u1", "s2", NOW).await.unwrap());
    honoured_within_the_bound("a revoked session", &here, &there, "s2", "j2", BOUND).await;

    signed_in_everywhere(&here, &there, "s3", "j3").await;
    here.revoke_user_sessions("u1", None, NOW).await.unwrap();
    honoured_within_the_bound("revoke-all", &here, &there, "s3", "j3", BOUND).await;

    let replayed = signed_in_everywhere(&here, &there, "s4", "j4").await;
    rotate_with_grace(&*here, &replayed, &fresh_hash(), NOW).await;
    let outcome = here
        .rotate_refresh(&replayed, &fresh_hash(), NOW + 60, NOW + WEEK, NO_GRACE)
        .await
        .unwrap();
    assert!(matches!(outcome, Rotation::Reused { .. }), "{outcome:?}");
    honoured_within_the_bound("a detected replay", &here, &there, "s4", "j4", BOUND).await;

    signed_in_everywhere(&here, &there, "s5", "j5").await;
    let demote = UserChange {
        role: Some(Role::User),
        ..Default::default()
    };
    here.update_user("u1", &demote).await.unwrap();
    honoured_within_the_bound("a demotion", &here, &there, "s5", "j5", BOUND).await;

    let promote = UserChange {
        role: Some(Role::Admin),
        ..Default::default()
    };
    here.update_user("u1", &promote).await.unwrap();
    signed_in_everywhere(&here, &there, "s6", "j6").await;
    let disable = UserChange {
        disabled: Some(true),
        ..Default::default()
    };
    here.update_user("u1", &disable).await.unwrap();
    honoured_within_the_bound("a disabled account", &here, &there, "s6", "j6", BOUND).await;
}

pub async fn with_a_bound_of_zero_another_instance_refuses_at_once(instances: Instances) {
    let here = Served::new(instances.here.clone(), Duration::ZERO);
    let there = Served::new(instances.there.clone(), Duration::ZERO);
    assert!(!there.trusts_its_memory());
    here.create_user(new_user("u1", "ada", Role::Admin))
        .await
        .unwrap();
    session_for(&*here, "s1", "u1").await;
    let before = there.access_status("j1", "s1", "u1", NOW).await.unwrap();
    assert!(accepted(before.as_ref()));
    here.revoke_jti("j1", NOW + 900).await.unwrap();
    let after = there.access_status("j1", "s1", "u1", NOW).await.unwrap();
    assert!(!accepted(after.as_ref()), "{after:?}");
}

pub async fn an_instance_started_after_a_revocation_refuses_at_once(instances: Instances) {
    let here = Served::new(instances.here.clone(), BOUND);
    here.create_user(new_user("u1", "ada", Role::Admin))
        .await
        .unwrap();
    session_for(&*here, "s1", "u1").await;
    {
        let there = Served::new(instances.there.clone(), BOUND);
        wait_until_trusted(&there).await;
        let status = there.access_status("j1", "s1", "u1", NOW).await.unwrap();
        assert!(accepted(status.as_ref()));
    }
    here.revoke_session("u1", "s1", NOW).await.unwrap();
    let restarted = Served::new(instances.there.clone(), BOUND);
    let status = restarted
        .access_status("j1", "s1", "u1", NOW)
        .await
        .unwrap();
    assert!(!accepted(status.as_ref()), "{status:?}");
}
