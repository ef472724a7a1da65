//! Access checks answered from memory, on any backend and with any number of instances.
//!
//! Every protected request asks "is this token still good". The answer changes only
//! when a revoking write commits, and every such write appends to the store's revocation
//! log (`AccessStore::revocation_position`). So each instance keeps the answers it has
//! read, and forgets all of them:
//! - at once, after a revoking write of its own: the backend counts each one as it ends
//!   (`LocalRevocations`), before the request that revoked gets its answer, and an answer
//!   read before the count moved is not used again;
//! - after another instance's, as soon as a poll of the log sees the position move.
//!
//! Polls run every `bound / 4` (at most every 100 ms). Remembered answers are trusted
//! only while the last poll that succeeded *began* less than `bound` ago: a revocation
//! committed before that poll began is behind its position, so once `bound` has passed
//! after a revocation, either a poll has seen it (and the answers are forgotten) or no
//! poll has succeeded since (and every check asks the store). A poll that finds a
//! revoking write under way (`None`: on a backend without transactions, between the write
//! and its position) does not count as succeeded. An instance that cannot read the log
//! keeps answering, from the store. A bound of zero turns memory off.

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;

use super::{AccessFacts, AccessStatus, AccessStore, LocalRevocations, StoreResult};

/// The default consistency bound: how long another instance's revocation may take to be
/// honoured here.
pub const DEFAULT_REVOCATION_BOUND: Duration = Duration::from_secs(1);
const LONGEST_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Bounds memory at roughly 64k remembered tokens (a few MB).
const REMEMBERED_TOKENS: usize = 64 * 1024;

/// A backend's access checks with this instance's memory of their answers in front.
#[derive(Clone)]
pub struct RememberedAccess {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Arc<dyn AccessStore>,
    memory: AccessMemory,
    trust: Trust,
}

impl RememberedAccess {
    /// Starts the poll of the revocation log; it stops when the last handle is dropped.
    pub fn new(backend: Arc<dyn AccessStore>, bound: Duration) -> RememberedAccess {
        let shared = Arc::new(Shared {
            memory: AccessMemory::new(backend.local_revocations().clone()),
            backend,
            trust: Trust::new(bound),
        });
        if !bound.is_zero() {
            tokio::spawn(follow_the_log(
                Arc::downgrade(&shared),
                (bound / 4).min(LONGEST_POLL_INTERVAL),
            ));
        }
        RememberedAccess { shared }
    }

    /// Whether an access check would be answered from memory now (false until the first
    /// poll, and whenever the log has been unreadable for longer than the bound).
    pub fn trusts_its_memory(&self) -> bool {
        self.shared.trust.holds(Instant::now())
    }
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
            // Trust lapses at the end of the last renewal's bound unless the write ends first.
            Ok(None) => {}
            Ok(Some(position)) => {
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

/// Answers this instance read, valid while no revocation has been seen since: neither one
/// of this process's own (`local`) nor, in a poll of the log, anyone's.
struct AccessMemory {
    local: LocalRevocations,
    seen_in_the_log: AtomicU64,
    /// Bounded (`quick_cache` evicts what is least used): a miss only costs a read.
    /// Behind an `Arc`: a lookup clones the value, and the ids beside the facts are only
    /// compared, never handed out.
    answers: quick_cache::sync::Cache<Box<str>, Arc<Remembered>>,
}

struct Remembered {
    generation: u64,
    session_id: Box<str>,
    user_id: Box<str>,
    facts: AccessFacts,
}

impl AccessMemory {
    fn new(local: LocalRevocations) -> Self {
        AccessMemory {
            local,
            seen_in_the_log: AtomicU64::new(0),
            answers: quick_cache::sync::Cache::new(REMEMBERED_TOKENS),
        }
    }

    fn forget_all(&self) {
        self.seen_in_the_log.fetch_add(1, Ordering::AcqRel);
    }

    /// Both counts only grow, so their sum moves whenever either does.
    fn current_generation(&self) -> u64 {
        self.seen_in_the_log
            .load(Ordering::Acquire)
            .wrapping_add(self.local.count())
    }

    fn recall(&self, jti: &str, session_id: &str, user_id: &str, now: i64) -> Option<AccessFacts> {
        let remembered = self.answers.get(jti)?;
        let still_valid = remembered.generation == self.current_generation()
            && *remembered.session_id == *session_id
            && *remembered.user_id == *user_id
            // An expiry in the past may have been extended by a rotation since: ask again.
            && remembered.facts.session_expires_at > now;
        still_valid.then(|| remembered.facts.clone())
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
            Arc::new(Remembered {
                generation,
                session_id: session_id.into(),
                user_id: user_id.into(),
                facts,
            }),
        );
    }
}

#[async_trait]
impl AccessStore for RememberedAccess {
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
        if let Some(status) = self.remembered_status(jti, session_id, user_id, now) {
            return Ok(Some(status));
        }
        let shared = &self.shared;
        let generation = shared.memory.current_generation();
        let found = shared
            .backend
            .access_facts(jti, session_id, user_id)
            .await?;
        let status = found.clone().map(|facts| facts.status_at(now));
        if let Some(facts) = found {
            shared
                .memory
                .remember(jti, session_id, user_id, generation, facts);
        }
        Ok(status)
    }

    fn remembered_status(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Option<AccessStatus> {
        let shared = &self.shared;
        if !shared.trust.holds(Instant::now()) {
            return None;
        }
        let facts = shared.memory.recall(jti, session_id, user_id, now)?;
        Some(facts.status_at(now))
    }

    async fn revocation_position(&self) -> StoreResult<Option<u64>> {
        self.shared.backend.revocation_position().await
    }

    fn local_revocations(&self) -> &LocalRevocations {
        self.shared.backend.local_revocations()
    }

    fn memory_generation(&self) -> Option<u64> {
        let shared = &self.shared;
        shared
            .trust
            .holds(Instant::now())
            .then(|| shared.memory.current_generation())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use app::model::Role;

    use super::*;
    use crate::{
        domain::{PasswordHashString, RefreshHash},
        store::{NewSession, NewUser, SessionStore, UserStore, sqlite::SqliteStore},
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
        let store = Arc::new(RememberedAccess::new(
            backend.clone(),
            Duration::from_secs(60),
        ));
        backend
            .create_user(NewUser {
                id: "u1".into(),
                username: "ada".into(),
                username_key: "ada".into(),
                email: None,
                password_hash: Some(PasswordHashString::from_phc("$argon2id$x".into())),
                role: Role::User,
                created_at: NOW,
            })
            .await
            .unwrap();
        backend
            .create_session(NewSession {
                id: "s1".into(),
                user_id: "u1".into(),
                refresh_hash: RefreshHash::of_issued("rt_race"),
                created_at: NOW,
                expires_at: NOW + 3600,
                user_agent: None,
                ip: None,
                sign_in: crate::domain::SignInMethod::Password,
                grant: None,
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
            backend.revoke_jti(&jti, NOW + 900).await.unwrap();
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
