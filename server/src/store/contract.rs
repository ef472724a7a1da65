//! The storage contract: one test per behaviour, written against `dyn Store`, run for
//! every backend reachable — the embedded one always.

use std::{sync::Arc, time::Duration};

use app::model::Role;

use super::{
    AccessStatus, AuditQuery, NewAuditEvent, NewSession, NewUser, Rotation, SecondFactors, Store,
    StoreError, StoredSigningKey, UserChange, UserQuery,
    mongo::MongoStore,
    remembered::{DEFAULT_REVOCATION_BOUND, RememberedStore},
    sqlite::SqliteStore,
};
use crate::domain::{PasswordHashString, RefreshHash};

const NOW: i64 = 1_800_000_000;
const WEEK: i64 = 7 * 24 * 3600;
/// Rotation as it was before the grace: any second use of a token is reuse.
const NO_GRACE: i64 = 0;
const GRACE: i64 = 5;

fn new_user(id: &str, name: &str, role: Role) -> NewUser {
    NewUser {
        id: id.into(),
        username: name.into(),
        username_key: name.to_lowercase(),
        email: None,
        password_hash: PasswordHashString::from_phc(
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        ),
        role,
        created_at: NOW,
    }
}

fn fresh_hash() -> RefreshHash {
    RefreshHash::of_issued(&uuid::Uuid::now_v7().to_string())
}

async fn session_for(store: &dyn Store, id: &str, user_id: &str) -> RefreshHash {
    let hash = fresh_hash();
    store
        .create_session(NewSession {
            id: id.into(),
            user_id: user_id.into(),
            refresh_hash: hash.clone(),
            created_at: NOW,
            expires_at: NOW + WEEK,
            user_agent: Some("contract-test".into()),
            ip: Some("127.0.0.1".into()),
        })
        .await
        .unwrap();
    hash
}

/// The user most cases need, `u1` "ada", signed in once (session `s1`): its refresh hash.
async fn ada_with_session(store: &dyn Store) -> RefreshHash {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    session_for(store, "s1", "u1").await
}

async fn rotate_with_grace(
    store: &dyn Store,
    presented: &RefreshHash,
    successor: &RefreshHash,
    at: i64,
) -> Rotation {
    store
        .rotate_refresh(presented, successor, at, at + WEEK, GRACE)
        .await
        .unwrap()
}

/// What keeps a backend's storage alive for one case, and cleans it up afterwards.
enum Scratch {
    Directory(tempfile::TempDir),
    Database(MongoStore),
}

impl Scratch {
    /// The same storage as another server process would open it.
    async fn another_instance(&self) -> Arc<dyn Store> {
        match self {
            Scratch::Directory(dir) => Arc::new(SqliteStore::open(dir.path()).await.unwrap()),
            Scratch::Database(store) => Arc::new(store.clone()),
        }
    }

    async fn clean_up(self) {
        if let Scratch::Database(store) = self {
            store.drop_database().await.unwrap();
        }
    }
}

/// A backend as a server uses it: behind its memory of access answers.
fn as_server_uses(backend: Arc<dyn Store>, bound: Duration) -> Arc<dyn Store> {
    Arc::new(RememberedStore::new(backend, bound))
}

/// Each backend the suite can reach: the embedded store always, MongoDB when
/// `MONGODB_URI` is set (each case in a fresh database, dropped afterwards).
async fn backends() -> Vec<(Arc<dyn Store>, Scratch)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path()).await.unwrap();
    let mut backends: Vec<(Arc<dyn Store>, Scratch)> =
        vec![(Arc::new(sqlite), Scratch::Directory(dir))];
    if let Ok(url) = std::env::var("MONGODB_URI") {
        let name = format!("gatehouse_contract_{}", uuid::Uuid::now_v7().simple());
        let mongo = MongoStore::connect(&url, Some(&name)).await.unwrap();
        backends.push((Arc::new(mongo.clone()), Scratch::Database(mongo)));
    }
    backends
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                for (backend, scratch) in backends().await {
                    let store = as_server_uses(backend, DEFAULT_REVOCATION_BOUND);
                    cases::$name(store.as_ref()).await;
                    scratch.clean_up().await;
                }
            }
        )*
    };
}

/// Cases about two server instances on one store, each with its own memory.
macro_rules! contract_between_instances {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                for (backend, scratch) in backends().await {
                    let other = scratch.another_instance().await;
                    revocation_cases::$name(revocation_cases::Instances {
                        here: backend,
                        there: other,
                    })
                    .await;
                    scratch.clean_up().await;
                }
            }
        )*
    };
}

contract_between_instances!(
    every_write_that_can_refuse_a_token_moves_the_log_by_one_and_no_other_write_does,
    parallel_revocations_take_consecutive_positions_none_lost,
    another_instance_refuses_each_kind_of_revocation_within_the_bound_and_never_after,
    with_a_bound_of_zero_another_instance_refuses_at_once,
    an_instance_started_after_a_revocation_refuses_at_once,
);

mod revocation_cases;

contract!(
    a_created_user_is_found_by_id_and_by_key,
    a_second_user_with_the_same_key_is_a_conflict,
    only_one_of_many_parallel_creations_of_a_name_succeeds,
    the_first_admin_is_created_only_once,
    a_current_refresh_token_rotates_exactly_once,
    a_rotated_refresh_token_presented_again_revokes_the_session,
    parallel_rotations_of_one_token_rotate_exactly_once_and_the_replays_end_the_session,
    parallel_refreshes_within_the_grace_all_get_the_same_successor_and_one_session_lives,
    a_replay_within_the_grace_gets_the_successor_only_while_it_is_current,
    a_replay_after_the_grace_or_with_another_successor_is_reuse,
    an_expired_or_unknown_refresh_token_is_invalid,
    access_status_reflects_revocation_session_and_user_state,
    an_answered_access_status_follows_every_later_change,
    revoking_other_sessions_keeps_the_current_one,
    the_last_active_admin_cannot_be_demoted_or_disabled,
    users_are_listed_paged_and_searched,
    audit_events_are_listed_newest_first_and_filtered,
    the_first_signing_key_wins,
    purging_removes_only_what_expired,
    an_address_is_unique_case_insensitively_and_starts_unverified,
    a_verification_link_works_once_and_only_for_the_address_it_was_sent_to,
    a_reset_link_sets_the_password_once_and_ends_every_session,
    parallel_uses_of_one_reset_link_succeed_exactly_once,
    a_password_change_ends_outstanding_reset_links_but_not_verification,
    purging_removes_expired_links,
    reuse_is_detected_however_many_rotations_ago_the_token_was_replaced,
    a_disabled_users_refresh_token_is_refused_and_left_as_it_was,
    a_failed_first_admin_does_not_block_the_next_bootstrap,
    parallel_bootstraps_create_exactly_one_admin,
    a_page_far_past_the_end_is_empty_and_still_counts_everything,
    audit_events_written_at_once_all_land_with_distinct_ids_newest_first,
    admins_demoted_and_disabled_at_once_leave_exactly_one_active,
    a_totp_factor_counts_only_once_confirmed_and_cannot_be_set_up_twice,
    a_time_step_is_accepted_once_and_never_one_before_it,
    parallel_uses_of_one_step_succeed_exactly_once,
    a_recovery_code_works_once_even_when_presented_in_parallel,
    removing_second_factors_removes_the_app_and_every_code,
    a_step_up_ticket_is_taken_once_and_not_after_it_expires,
    a_credential_belongs_to_one_account_and_is_listed_removed_and_updated,
    a_ceremony_is_taken_once_for_its_own_purpose_and_not_after_it_expires,
);

mod factor_cases;
mod lifetime_cases;
mod link_cases;

mod cases {
    pub use super::factor_cases::{
        a_ceremony_is_taken_once_for_its_own_purpose_and_not_after_it_expires,
        a_credential_belongs_to_one_account_and_is_listed_removed_and_updated,
        a_recovery_code_works_once_even_when_presented_in_parallel,
        a_step_up_ticket_is_taken_once_and_not_after_it_expires,
        a_time_step_is_accepted_once_and_never_one_before_it,
        a_totp_factor_counts_only_once_confirmed_and_cannot_be_set_up_twice,
        parallel_uses_of_one_step_succeed_exactly_once,
        removing_second_factors_removes_the_app_and_every_code,
    };
    pub use super::lifetime_cases::{
        a_disabled_users_refresh_token_is_refused_and_left_as_it_was,
        a_failed_first_admin_does_not_block_the_next_bootstrap,
        a_page_far_past_the_end_is_empty_and_still_counts_everything,
        admins_demoted_and_disabled_at_once_leave_exactly_one_active,
        audit_events_written_at_once_all_land_with_distinct_ids_newest_first,
        parallel_bootstraps_create_exactly_one_admin,
        reuse_is_detected_however_many_rotations_ago_the_token_was_replaced,
    };
    pub use super::link_cases::{
        a_password_change_ends_outstanding_reset_links_but_not_verification,
        a_reset_link_sets_the_password_once_and_ends_every_session,
        a_verification_link_works_once_and_only_for_the_address_it_was_sent_to,
        an_address_is_unique_case_insensitively_and_starts_unverified,
        parallel_uses_of_one_reset_link_succeed_exactly_once, purging_removes_expired_links,
    };
    use super::*;

    pub async fn a_created_user_is_found_by_id_and_by_key(store: &dyn Store) {
        let created = store
            .create_user(new_user("u1", "Ada", Role::User))
            .await
            .unwrap();
        assert_eq!(created.username, "Ada");
        let by_key = store.user_by_username_key("ada").await.unwrap().unwrap();
        assert_eq!(by_key.id, "u1");
        let by_id = store.user_by_id("u1").await.unwrap().unwrap();
        assert_eq!(by_id.username_key, "ada");
        assert!(store.user_by_id("nobody").await.unwrap().is_none());
    }

    pub async fn a_second_user_with_the_same_key_is_a_conflict(store: &dyn Store) {
        store
            .create_user(new_user("u1", "ada", Role::User))
            .await
            .unwrap();
        let mut twin = new_user("u2", "ADA", Role::User);
        twin.username_key = "ada".into();
        assert!(matches!(
            store.create_user(twin).await,
            Err(StoreError::Conflict(_))
        ));
    }

    pub async fn only_one_of_many_parallel_creations_of_a_name_succeeds(store: &dyn Store) {
        let attempts =
            (0..20).map(|i| store.create_user(new_user(&format!("u{i}"), "ada", Role::User)));
        let results = futures::future::join_all(attempts).await;
        let created = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count();
        assert_eq!((created, conflicts), (1, 19));
    }

    pub async fn the_first_admin_is_created_only_once(store: &dyn Store) {
        let first = store
            .create_first_admin(new_user("a1", "root", Role::User))
            .await
            .unwrap();
        assert_eq!(first.unwrap().role, Role::Admin);
        let second = store
            .create_first_admin(new_user("a2", "root2", Role::User))
            .await
            .unwrap();
        assert!(second.is_none());
    }

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
        let outcomes =
            futures::future::join_all(successors.iter().map(|successor| {
                store.rotate_refresh(&first, successor, NOW, NOW + WEEK, NO_GRACE)
            }))
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

    pub async fn access_status_reflects_revocation_session_and_user_state(store: &dyn Store) {
        ada_with_session(store).await;
        let live = AccessStatus {
            jti_revoked: false,
            session_active: true,
            user_disabled: false,
            role: Role::User,
            username: "ada".into(),
        };
        assert_eq!(
            store.access_status("j1", "s1", "u1", NOW).await.unwrap(),
            Some(live.clone())
        );
        assert_eq!(
            store
                .access_status("j1", "s1", "someone-else", NOW)
                .await
                .unwrap(),
            None
        );

        store.revoke_jti("j1", NOW + 900).await.unwrap();
        let status = store
            .access_status("j1", "s1", "u1", NOW)
            .await
            .unwrap()
            .unwrap();
        assert!(status.jti_revoked);
        assert!(
            !store
                .access_status("j2", "s1", "u1", NOW)
                .await
                .unwrap()
                .unwrap()
                .jti_revoked
        );

        assert!(store.revoke_session("u1", "s1", NOW).await.unwrap());
        assert!(
            !store
                .access_status("j2", "s1", "u1", NOW)
                .await
                .unwrap()
                .unwrap()
                .session_active
        );
        assert!(!store.revoke_session("u1", "s1", NOW).await.unwrap());

        store
            .update_user(
                "u1",
                &UserChange {
                    role: None,
                    disabled: Some(true),
                },
            )
            .await
            .unwrap();
        assert!(
            store
                .access_status("j2", "s1", "u1", NOW)
                .await
                .unwrap()
                .unwrap()
                .user_disabled
        );
    }

    /// The embedded store answers repeated lookups from memory; each change below comes
    /// after the same lookup was answered once, and must show at once.
    pub async fn an_answered_access_status_follows_every_later_change(store: &dyn Store) {
        store
            .create_user(new_user("u0", "root", Role::Admin))
            .await
            .unwrap();
        let first_refresh = ada_with_session(store).await;
        let status = |now: i64| async move {
            store
                .access_status("j1", "s1", "u1", now)
                .await
                .unwrap()
                .unwrap()
        };
        let change = |role: Option<Role>, disabled: Option<bool>| async move {
            store
                .update_user("u1", &UserChange { role, disabled })
                .await
                .unwrap();
        };
        assert_eq!(status(NOW).await.role, Role::User);

        change(Some(Role::Admin), None).await;
        assert_eq!(status(NOW).await.role, Role::Admin);
        change(None, Some(true)).await;
        assert!(status(NOW).await.user_disabled);
        change(None, Some(false)).await;
        assert!(!status(NOW).await.user_disabled);

        // A rotation extends the session: the token stays good past the first expiry.
        let later = NOW + WEEK + 10;
        assert!(!status(later).await.session_active);
        let second_refresh = fresh_hash();
        assert!(matches!(
            store
                .rotate_refresh(
                    &first_refresh,
                    &second_refresh,
                    NOW + 100,
                    NOW + 2 * WEEK,
                    NO_GRACE
                )
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        assert!(status(later).await.session_active);
        assert!(status(NOW + 200).await.session_active);

        // Replaying the superseded token ends the session.
        assert!(matches!(
            store
                .rotate_refresh(
                    &first_refresh,
                    &fresh_hash(),
                    NOW + 300,
                    NOW + 2 * WEEK,
                    NO_GRACE
                )
                .await
                .unwrap(),
            Rotation::Reused { .. }
        ));
        assert!(!status(NOW + 300).await.session_active);
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

    pub async fn the_last_active_admin_cannot_be_demoted_or_disabled(store: &dyn Store) {
        store
            .create_user(new_user("a1", "root", Role::Admin))
            .await
            .unwrap();
        let demote = UserChange {
            role: Some(Role::User),
            disabled: None,
        };
        let disable = UserChange {
            role: None,
            disabled: Some(true),
        };
        assert!(matches!(
            store.update_user("a1", &demote).await,
            Err(StoreError::LastAdmin)
        ));
        assert!(matches!(
            store.update_user("a1", &disable).await,
            Err(StoreError::LastAdmin)
        ));
        store
            .create_user(new_user("a2", "root2", Role::Admin))
            .await
            .unwrap();
        assert_eq!(
            store.update_user("a1", &demote).await.unwrap().role,
            Role::User
        );
        assert!(matches!(
            store.update_user("a2", &disable).await,
            Err(StoreError::LastAdmin)
        ));
        assert!(matches!(
            store.update_user("nobody", &demote).await,
            Err(StoreError::NotFound)
        ));
    }

    pub async fn users_are_listed_paged_and_searched(store: &dyn Store) {
        for (i, name) in ["alice", "bob", "alina", "carol", "al_x"]
            .iter()
            .enumerate()
        {
            store
                .create_user(new_user(&format!("u{i}"), name, Role::User))
                .await
                .unwrap();
        }
        let all = store
            .list_users(&UserQuery {
                search: None,
                offset: 0,
                limit: 2,
            })
            .await
            .unwrap();
        assert_eq!((all.total, all.items.len()), (5, 2));
        let found = store
            .list_users(&UserQuery {
                search: Some("ALI".into()),
                offset: 0,
                limit: 10,
            })
            .await
            .unwrap();
        let names: Vec<String> = found.items.into_iter().map(|u| u.username).collect();
        assert_eq!(names, vec!["alice".to_string(), "alina".to_string()]);
        // LIKE wildcards in the search are literal characters.
        let underscore = store
            .list_users(&UserQuery {
                search: Some("_".into()),
                offset: 0,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(underscore.total, 1);
    }

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

    pub async fn the_first_signing_key_wins(store: &dyn Store) {
        let key = |kid: &str| StoredSigningKey {
            kid: kid.into(),
            algorithm: "EdDSA".into(),
            private_der: vec![1, 2, 3],
            public_raw: vec![4, 5, 6],
            created_at: NOW,
        };
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
    }

    pub async fn purging_removes_only_what_expired(store: &dyn Store) {
        let live = ada_with_session(store).await;
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
}
