//! The owner's memory of `access_status` answers, exact between revoking writes (see the
//! module comment of `sqlite`).

use std::sync::atomic::{AtomicU64, Ordering};

use app::model::Role;

use crate::store::AccessStatus;

/// `access_status` answers this process already read, valid while no write that could
/// change them has committed since.
pub(super) struct AccessMemory {
    pub(super) generation: AtomicU64,
    /// Bounded (`quick_cache` evicts what is least used): a miss only costs a read.
    answers: quick_cache::sync::Cache<Box<str>, RememberedAccess>,
}

#[derive(Clone)]
pub(super) struct RememberedAccess {
    pub(super) generation: u64,
    pub(super) session_id: Box<str>,
    pub(super) user_id: Box<str>,
    pub(super) jti_revoked: bool,
    pub(super) session_revoked: bool,
    /// Kept rather than judged: expiry depends on `now`, and a rotation can extend it.
    pub(super) session_expires_at: i64,
    pub(super) user_disabled: bool,
    pub(super) role: Role,
    pub(super) username: String,
}

/// Bounds memory at roughly 64k remembered tokens (a few MB).
const REMEMBERED_TOKENS: usize = 64 * 1024;

impl AccessMemory {
    pub(super) fn new() -> Self {
        AccessMemory {
            generation: AtomicU64::new(0),
            answers: quick_cache::sync::Cache::new(REMEMBERED_TOKENS),
        }
    }

    /// Remembers an answer read under `remembered.generation` (read before the lookup).
    pub(super) fn remember(&self, jti: &str, remembered: RememberedAccess) {
        self.answers.insert(jti.into(), remembered);
    }

    /// Called after the commit of any write that could refuse a token accepted before.
    pub(super) fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(super) fn current_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn recall(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Option<AccessStatus> {
        let remembered = self.answers.get(jti)?;
        let still_valid = remembered.generation == self.current_generation()
            && *remembered.session_id == *session_id
            && *remembered.user_id == *user_id
            // An expiry in the past may have been extended by a rotation since: ask again.
            && remembered.session_expires_at > now;
        still_valid.then_some(AccessStatus {
            jti_revoked: remembered.jti_revoked,
            session_active: !remembered.session_revoked,
            user_disabled: remembered.user_disabled,
            role: remembered.role,
            username: remembered.username,
        })
    }
}
