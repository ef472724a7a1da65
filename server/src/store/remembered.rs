//! Access checks answered from memory, on any backend and with any number of instances.
//!
//! Every protected request asks "is this token still good". The answer changes only
//! when a revoking write commits, and every such write appends to the store's revocation
//! log (`Store::revocation_position`). So each instance keeps the answers it has read,
//! and forgets all of them:
//! - at once, after a revoking write of its own (the request that revoked gets its
//!   answer only after the forgetting);
//! - after another instance's, as soon as a poll of the log sees the position move.
//!
//! Polls run every `bound / 4` (at most every 100 ms). Remembered answers are trusted
//! only while the last poll that succeeded *began* less than `bound` ago: a revocation
//! committed before that poll began is behind its position, so once `bound` has passed
//! after a revocation, either a poll has seen it (and the answers are forgotten) or no
//! poll has succeeded since (and every check asks the store). An instance that cannot
//! read the log keeps answering, from the store. A bound of zero turns memory off.

use std::{
    future::Future,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;

use super::{
    AccessFacts, AccessStatus, AuditQuery, AuditRecord, CeremonyPurpose, CeremonyRecord,
    LinkRecord, NewAuditEvent, NewCeremony, NewEmail, NewLink, NewPasskey, NewSession, NewStepUp,
    NewTotp, NewUser, Page, PasskeyRecord, Rotation, SecondFactors, SessionRecord, StepUpRecord,
    Store, StoreError, StoreResult, StoredSigningKey, UserChange, UserQuery, UserRecord,
};
use crate::domain::{
    LinkHash, LinkPurpose, PasswordHashString, RecoveryCodeHash, RefreshHash, TicketHash,
};

/// The default consistency bound: how long another instance's revocation may take to be
/// honoured here.
pub const DEFAULT_REVOCATION_BOUND: Duration = Duration::from_secs(1);
const LONGEST_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Bounds memory at roughly 64k remembered tokens (a few MB).
const REMEMBERED_TOKENS: usize = 64 * 1024;

/// A backend with this instance's memory of access answers in front of it.
#[derive(Clone)]
pub struct RememberedStore {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Arc<dyn Store>,
    memory: AccessMemory,
    trust: Trust,
}

impl RememberedStore {
    /// Starts the poll of the revocation log; it stops when the last handle is dropped.
    pub fn new(backend: Arc<dyn Store>, bound: Duration) -> RememberedStore {
        let shared = Arc::new(Shared {
            backend,
            memory: AccessMemory::new(),
            trust: Trust::new(bound),
        });
        if !bound.is_zero() {
            tokio::spawn(follow_the_log(
                Arc::downgrade(&shared),
                (bound / 4).min(LONGEST_POLL_INTERVAL),
            ));
        }
        RememberedStore { shared }
    }

    /// Whether an access check would be answered from memory now (false until the first
    /// poll, and whenever the log has been unreadable for longer than the bound).
    pub fn trusts_its_memory(&self) -> bool {
        self.shared.trust.holds(Instant::now())
    }

    /// Runs a write that can refuse accepted tokens to its end, then forgets every
    /// remembered answer when `forgets` says so — even if the caller stopped waiting (a
    /// closed connection), since the write may commit all the same.
    async fn revoking<T, W>(
        &self,
        write: impl FnOnce(Arc<dyn Store>) -> W,
        forgets: fn(&StoreResult<T>) -> bool,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        W: Future<Output = StoreResult<T>> + Send + 'static,
    {
        let shared = self.shared.clone();
        let write = write(shared.backend.clone());
        tokio::spawn(async move {
            let outcome = write.await;
            if forgets(&outcome) {
                shared.memory.forget_all();
            }
            outcome
        })
        .await
        .map_err(StoreError::unexpected)?
    }
}

/// Any outcome: a failed write may still have committed before its answer was lost.
fn always<T>(_: &StoreResult<T>) -> bool {
    true
}

async fn follow_the_log(shared: Weak<Shared>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<u64> = None;
    let mut failing_since: Option<Instant> = None;
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let began = Instant::now();
        match shared.backend.revocation_position().await {
            Ok(position) => {
                // The first position read forgets too: answers read before it may be
                // older than writes it covers.
                if seen != Some(position) {
                    shared.memory.forget_all();
                    seen = Some(position);
                }
                shared.trust.renew(began);
                if let Some(since) = failing_since.take() {
                    tracing::info!(
                        after_ms = since.elapsed().as_millis() as u64,
                        "the revocation log is readable again"
                    );
                }
            }
            Err(error) => {
                if failing_since.is_none() {
                    failing_since = Some(began);
                    tracing::warn!(
                        %error,
                        "cannot read the revocation log: access checks ask the store \
                         until it can be read"
                    );
                }
            }
        }
    }
}

/// Until when remembered answers may be used: the start of the last successful poll
/// plus the bound.
struct Trust {
    bound: Duration,
    origin: Instant,
    /// Nanoseconds after `origin`; 0 means never trusted yet.
    trusted_until: AtomicU64,
}

impl Trust {
    fn new(bound: Duration) -> Trust {
        Trust {
            bound,
            origin: Instant::now(),
            trusted_until: AtomicU64::new(0),
        }
    }

    fn renew(&self, poll_began: Instant) {
        let until = self.nanos(poll_began + self.bound);
        self.trusted_until.fetch_max(until, Ordering::AcqRel);
    }

    fn holds(&self, now: Instant) -> bool {
        !self.bound.is_zero() && self.nanos(now) < self.trusted_until.load(Ordering::Acquire)
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Answers this instance read, valid while no revocation has been seen since.
struct AccessMemory {
    generation: AtomicU64,
    /// Bounded (`quick_cache` evicts what is least used): a miss only costs a read.
    answers: quick_cache::sync::Cache<Box<str>, Remembered>,
}

#[derive(Clone)]
struct Remembered {
    generation: u64,
    session_id: Box<str>,
    user_id: Box<str>,
    facts: AccessFacts,
}

impl AccessMemory {
    fn new() -> Self {
        AccessMemory {
            generation: AtomicU64::new(0),
            answers: quick_cache::sync::Cache::new(REMEMBERED_TOKENS),
        }
    }

    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn current_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn recall(&self, jti: &str, session_id: &str, user_id: &str, now: i64) -> Option<AccessFacts> {
        let remembered = self.answers.get(jti)?;
        let still_valid = remembered.generation == self.current_generation()
            && *remembered.session_id == *session_id
            && *remembered.user_id == *user_id
            // An expiry in the past may have been extended by a rotation since: ask again.
            && remembered.facts.session_expires_at > now;
        still_valid.then_some(remembered.facts)
    }

    /// `generation` must have been read before the lookup that found `facts`: a
    /// revocation committing during the lookup then makes the answer stale at once.
    fn remember(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        generation: u64,
        facts: AccessFacts,
    ) {
        self.answers.insert(
            jti.into(),
            Remembered {
                generation,
                session_id: session_id.into(),
                user_id: user_id.into(),
                facts,
            },
        );
    }
}

#[async_trait]
impl Store for RememberedStore {
    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>> {
        self.shared
            .backend
            .access_facts(jti, session_id, user_id)
            .await
    }

    async fn access_status(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<AccessStatus>> {
        let shared = &self.shared;
        if shared.trust.holds(Instant::now())
            && let Some(facts) = shared.memory.recall(jti, session_id, user_id, now)
        {
            return Ok(Some(facts.status_at(now)));
        }
        let generation = shared.memory.current_generation();
        let found = shared
            .backend
            .access_facts(jti, session_id, user_id)
            .await?;
        let status = found.as_ref().map(|facts| facts.status_at(now));
        if let Some(facts) = found {
            shared
                .memory
                .remember(jti, session_id, user_id, generation, facts);
        }
        Ok(status)
    }

    async fn revocation_position(&self) -> StoreResult<u64> {
        self.shared.backend.revocation_position().await
    }

    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord> {
        let (user_id, change) = (user_id.to_owned(), change.clone());
        self.revoking(
            |backend| async move { backend.update_user(&user_id, &change).await },
            always,
        )
        .await
    }

    async fn rotate_refresh(
        &self,
        presented: &RefreshHash,
        successor: &RefreshHash,
        now: i64,
        new_expires_at: i64,
        grace_secs: i64,
    ) -> StoreResult<Rotation> {
        let (presented, successor) = (presented.clone(), successor.clone());
        // A rotation that worked refuses nothing; a replay ends the session.
        self.revoking(
            |backend| async move {
                backend
                    .rotate_refresh(&presented, &successor, now, new_expires_at, grace_secs)
                    .await
            },
            |outcome| !matches!(outcome, Ok(Rotation::Rotated { .. } | Rotation::Invalid)),
        )
        .await
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str, now: i64) -> StoreResult<bool> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.revoking(
            |backend| async move { backend.revoke_session(&user_id, &session_id, now).await },
            always,
        )
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        let (user_id, keep) = (user_id.to_owned(), keep.map(str::to_owned));
        self.revoking(
            |backend| async move {
                backend
                    .revoke_user_sessions(&user_id, keep.as_deref(), now)
                    .await
            },
            always,
        )
        .await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let jti = jti.to_owned();
        self.revoking(
            |backend| async move { backend.revoke_jti(&jti, expires_at).await },
            always,
        )
        .await
    }

    async fn use_reset_link(
        &self,
        hash: &LinkHash,
        new_hash: &PasswordHashString,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let (hash, new_hash) = (hash.clone(), new_hash.clone());
        self.revoking(
            |backend| async move { backend.use_reset_link(&hash, &new_hash, now).await },
            always,
        )
        .await
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.revoking(
            |backend| async move { backend.purge_expired(now).await },
            always,
        )
        .await
    }

    // Everything below refuses no accepted token: passed straight through.

    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.shared.backend.create_user(user).await
    }

    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>> {
        self.shared.backend.create_first_admin(user).await
    }

    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        self.shared.backend.user_by_username_key(key).await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        self.shared.backend.user_by_id(id).await
    }

    async fn user_by_email_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        self.shared.backend.user_by_email_key(key).await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()> {
        self.shared.backend.set_password_hash(user_id, hash).await
    }

    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord> {
        self.shared.backend.set_email(user_id, email).await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>> {
        self.shared.backend.list_users(query).await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.shared.backend.create_session(session).await
    }

    async fn session_by_refresh(
        &self,
        presented: &RefreshHash,
        now: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        self.shared.backend.session_by_refresh(presented, now).await
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRecord>> {
        self.shared.backend.list_sessions(user_id, now).await
    }

    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.shared.backend.append_audit(event).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>> {
        self.shared.backend.list_audit(query).await
    }

    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey> {
        self.shared.backend.signing_key_or_insert(candidate).await
    }

    async fn create_link(&self, link: NewLink) -> StoreResult<()> {
        self.shared.backend.create_link(link).await
    }

    async fn find_link(
        &self,
        hash: &LinkHash,
        purpose: LinkPurpose,
        now: i64,
    ) -> StoreResult<Option<LinkRecord>> {
        self.shared.backend.find_link(hash, purpose, now).await
    }

    async fn use_verification_link(
        &self,
        hash: &LinkHash,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        self.shared.backend.use_verification_link(hash, now).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.shared.backend.ping().await
    }

    async fn second_factors(&self, user_id: &str) -> StoreResult<SecondFactors> {
        self.shared.backend.second_factors(user_id).await
    }

    async fn begin_totp(&self, enrolment: NewTotp) -> StoreResult<()> {
        self.shared.backend.begin_totp(enrolment).await
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: i64,
    ) -> StoreResult<bool> {
        self.shared
            .backend
            .confirm_totp(user_id, step, recovery_codes, now)
            .await
    }

    async fn use_totp_step(
        &self,
        user_id: &str,
        step: i64,
        resealed: Option<&str>,
    ) -> StoreResult<bool> {
        self.shared
            .backend
            .use_totp_step(user_id, step, resealed)
            .await
    }

    async fn use_recovery_code(&self, user_id: &str, code: &RecoveryCodeHash) -> StoreResult<bool> {
        self.shared.backend.use_recovery_code(user_id, code).await
    }

    async fn remove_second_factors(&self, user_id: &str) -> StoreResult<bool> {
        self.shared.backend.remove_second_factors(user_id).await
    }

    async fn create_step_up(&self, ticket: NewStepUp) -> StoreResult<()> {
        self.shared.backend.create_step_up(ticket).await
    }

    async fn find_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        self.shared.backend.find_step_up(hash, now).await
    }

    async fn take_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        self.shared.backend.take_step_up(hash, now).await
    }

    async fn add_passkey(&self, passkey: NewPasskey) -> StoreResult<()> {
        self.shared.backend.add_passkey(passkey).await
    }

    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        self.shared.backend.passkeys_of(user_id).await
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        self.shared
            .backend
            .passkey_by_credential(credential_id)
            .await
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.shared
            .backend
            .record_passkey_use(credential_id, passkey, now)
            .await
    }

    async fn remove_passkeys(
        &self,
        user_id: &str,
        credential_id: Option<&str>,
    ) -> StoreResult<u64> {
        self.shared
            .backend
            .remove_passkeys(user_id, credential_id)
            .await
    }

    async fn create_ceremony(&self, ceremony: NewCeremony) -> StoreResult<()> {
        self.shared.backend.create_ceremony(ceremony).await
    }

    async fn take_ceremony(
        &self,
        hash: &TicketHash,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        self.shared.backend.take_ceremony(hash, purpose, now).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use app::model::Role;

    use super::*;
    use crate::{
        domain::{PasswordHashString, RefreshHash},
        store::sqlite::SqliteStore,
    };

    #[test]
    fn memory_is_trusted_only_within_the_bound_of_the_last_poll_that_began() {
        let trust = Trust::new(Duration::from_millis(500));
        let start = trust.origin;
        assert!(!trust.holds(start), "trusted before any poll");
        trust.renew(start + Duration::from_millis(100));
        assert!(trust.holds(start + Duration::from_millis(599)));
        assert!(!trust.holds(start + Duration::from_millis(600)));
        // A poll that began earlier but finished later extends nothing.
        trust.renew(start + Duration::from_millis(50));
        assert!(!trust.holds(start + Duration::from_millis(600)));
        trust.renew(start + Duration::from_millis(700));
        assert!(trust.holds(start + Duration::from_millis(1_199)));

        let never = Trust::new(Duration::ZERO);
        never.renew(never.origin);
        assert!(!never.holds(never.origin), "a bound of zero never trusts");
    }

    /// Readers racing a revocation on the same instance never see the token accepted
    /// once `revoke_jti` has returned: there, the memory is exact, not eventually right.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_read_after_a_revocation_returned_here_accepts_the_token() {
        const NOW: i64 = 1_800_000_000;
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let store = Arc::new(RememberedStore::new(backend, Duration::from_secs(60)));
        store
            .create_user(NewUser {
                id: "u1".into(),
                username: "ada".into(),
                username_key: "ada".into(),
                email: None,
                password_hash: PasswordHashString::from_phc("$argon2id$x".into()),
                role: Role::User,
                created_at: NOW,
            })
            .await
            .unwrap();
        store
            .create_session(NewSession {
                id: "s1".into(),
                user_id: "u1".into(),
                refresh_hash: RefreshHash::of_issued("rt_race"),
                created_at: NOW,
                expires_at: NOW + 3600,
                user_agent: None,
                ip: None,
            })
            .await
            .unwrap();
        while !store.trusts_its_memory() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        for round in 0..100 {
            let jti: Arc<str> = format!("jti-{round}").into();
            // An accepted answer is remembered first: the one a stale memory would repeat.
            let before = store.access_status(&jti, "s1", "u1", NOW).await.unwrap();
            assert!(!before.unwrap().jti_revoked);
            let returned = Arc::new(AtomicBool::new(false));
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let (store, jti, returned) = (store.clone(), jti.clone(), returned.clone());
                    tokio::spawn(async move {
                        let (mut accepted_after_return, mut reads_after_return) = (0, 0);
                        // Bounded: a reader stops after 20 reads that began after the
                        // revocation returned, or after 100,000 reads in all.
                        for _ in 0..100_000 {
                            let began_after_return = returned.load(Ordering::Acquire);
                            let status = store.access_status(&jti, "s1", "u1", NOW).await;
                            let revoked = status.unwrap().unwrap().jti_revoked;
                            if began_after_return {
                                reads_after_return += 1;
                                accepted_after_return += u32::from(!revoked);
                                if reads_after_return == 20 {
                                    break;
                                }
                            }
                            tokio::task::yield_now().await;
                        }
                        (accepted_after_return, reads_after_return)
                    })
                })
                .collect();
            store.revoke_jti(&jti, NOW + 900).await.unwrap();
            returned.store(true, Ordering::Release);
            for reader in readers {
                let (accepted_after_return, reads_after_return) = reader.await.unwrap();
                assert_eq!(
                    reads_after_return, 20,
                    "round {round}: the reader stopped early"
                );
                assert_eq!(
                    accepted_after_return, 0,
                    "round {round}: a revoked token passed"
                );
            }
        }
    }
}
