//! The storage contract: one test per behaviour, written against `dyn Store`, run for
//! every backend reachable — the embedded one always. The cases live in one file per
//! concern (`user_cases`, `session_cases`, …); the set-up they share is here.

use std::{ops::Deref, sync::Arc, time::Duration};

use app::model::Role;

use super::{
    AccessStatus, AccessStore, AuditQuery, NewAuditEvent, NewSession, NewUser, Rotation,
    SecondFactors, SessionAuthentication, Store, StoreError, StoreResult, StoredSigningKey,
    UserChange, UserFacts, UserQuery,
    mongo::MongoStore,
    remembered::{DEFAULT_REVOCATION_BOUND, RememberedAccess},
    sqlite::SqliteStore,
};
use crate::domain::{PasswordHashString, RefreshHash, SignInMethod, WaysOff};

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
        password_hash: Some(PasswordHashString::from_phc(
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        )),
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
            sign_in: SignInMethod::Password,
            grant: None,
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
            Scratch::Database(store) => Arc::new(store.as_another_instance()),
        }
    }

    async fn clean_up(self) {
        if let Scratch::Database(store) = self {
            store.drop_database().await.unwrap();
        }
    }
}

/// A backend as a server uses it: every concern straight to the backend (through
/// `Deref`), access checks through the instance's memory of their answers.
struct Served {
    backend: Arc<dyn Store>,
    access: RememberedAccess,
}

impl Served {
    fn new(backend: Arc<dyn Store>, bound: Duration) -> Served {
        let access = RememberedAccess::new(backend.clone(), bound);
        Served { backend, access }
    }

    /// Chosen over the backend's own method, which `Deref` would otherwise reach.
    async fn access_status(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<AccessStatus>> {
        self.access
            .access_status(jti, session_id, user_id, now)
            .await
    }

    fn trusts_its_memory(&self) -> bool {
        self.access.trusts_its_memory()
    }
}

/// What a case takes: most take the backend, the access cases the store as served.
trait CaseInput<'a> {
    fn from_served(served: &'a Served) -> Self;
}

impl<'a> CaseInput<'a> for &'a dyn Store {
    fn from_served(served: &'a Served) -> Self {
        served.backend.as_ref()
    }
}

impl<'a> CaseInput<'a> for &'a Served {
    fn from_served(served: &'a Served) -> Self {
        served
    }
}

impl Deref for Served {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        self.backend.as_ref()
    }
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
                    let served = Served::new(backend, DEFAULT_REVOCATION_BOUND);
                    cases::$name(CaseInput::from_served(&served)).await;
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

/// MongoDB only: one step of a revoking write fails.
mod interrupted_cases;

contract!(
    a_created_user_is_found_by_id_and_by_key,
    the_ways_an_owner_turned_off_are_kept_and_replaced,
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
    a_session_is_authenticated_at_its_sign_in_until_a_later_proof_and_only_while_live,
    the_last_active_admin_cannot_be_demoted_or_disabled,
    users_are_listed_paged_and_searched,
    audit_events_are_listed_newest_first_and_filtered,
    the_first_signing_key_wins,
    rotated_keys_line_up_by_generation_and_superseded_ones_go,
    audit_events_past_their_retention_are_purged,
    purging_removes_only_what_expired,
    an_address_is_unique_among_verified_accounts_case_insensitively,
    parallel_verifications_of_one_address_by_two_accounts_verify_exactly_one,
    a_verification_link_works_once_and_only_for_the_address_it_was_sent_to,
    a_reset_link_sets_the_password_once_and_ends_every_session,
    parallel_uses_of_one_reset_link_succeed_exactly_once,
    a_sign_in_code_is_used_once_and_ends_its_users_other_codes,
    a_password_change_ends_outstanding_reset_links_but_not_verification,
    an_address_change_ends_every_link_sent_to_the_old_address,
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
    new_recovery_codes_replace_every_old_one_and_are_shown_until_forgotten,
    a_step_up_ticket_is_taken_once_and_not_after_it_expires,
    a_credential_belongs_to_one_account_and_is_listed_removed_and_updated,
    an_account_and_its_first_passkey_are_made_together_or_not_at_all,
    the_last_passkey_stays_when_it_must,
    a_ceremony_is_taken_once_for_its_own_purpose_and_not_after_it_expires,
    parallel_attempts_get_exactly_the_threshold_of_slots,
    a_given_back_slot_undoes_its_lockout_and_a_clear_forgets_the_key,
    a_capped_key_stays_capped_until_cleared,
    a_step_up_ticket_gives_exactly_five_guesses_in_parallel,
    forward_rules_are_added_listed_replaced_and_removed_each_moving_the_log,
    parallel_additions_of_one_host_and_prefix_add_exactly_one,
    a_session_signed_in_with_a_second_factor_says_so_to_access_checks,
    clients_are_added_found_listed_replaced_and_removed,
    a_code_is_redeemed_once_then_seen_as_a_replay,
    parallel_redemptions_of_one_code_redeem_exactly_once,
    an_expired_code_is_refused_and_purged_once_its_memory_is_over,
    an_apps_session_keeps_its_client_and_scope_through_rotation_and_ends_with_it,
    a_consent_is_kept_per_user_and_client_replaced_and_removed,
    a_providers_subject_belongs_to_one_account_and_is_listed_and_used,
    an_account_and_its_first_identity_are_made_together_or_not_at_all,
    an_identity_is_unlinked_by_its_owner_and_the_last_is_kept_when_asked,
    an_identity_with_a_provider_no_longer_offered_is_no_way_in_to_keep,
    providers_are_added_listed_replaced_and_removed_each_moving_the_log,
    removing_a_provider_removes_its_links_and_no_other,
    parallel_additions_of_one_provider_id_add_exactly_one,
);

mod access_cases;
mod attempt_cases;
mod factor_cases;
mod forward_rule_cases;
mod identity_cases;
mod lifetime_cases;
mod link_cases;
mod oidc_cases;
mod passkey_cases;
mod provider_cases;
mod session_cases;
mod upkeep_cases;
mod user_cases;

mod cases {
    pub use super::access_cases::*;
    pub use super::attempt_cases::*;
    pub use super::factor_cases::*;
    pub use super::forward_rule_cases::*;
    pub use super::identity_cases::*;
    pub use super::lifetime_cases::*;
    pub use super::link_cases::*;
    pub use super::oidc_cases::*;
    pub use super::passkey_cases::*;
    pub use super::provider_cases::*;
    pub use super::session_cases::*;
    pub use super::upkeep_cases::*;
    pub use super::user_cases::*;
}
