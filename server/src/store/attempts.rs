//! Sign-in attempts, counted in the store so that every instance on it shares one
//! allowance: each attempt takes its slot (and is counted as a failure) BEFORE its guess
//! is checked, so parallel guesses cannot all slip past a check that only reads.
//!
//! The arithmetic is here, once: a backend reads a key's count, asks `AttemptRule` for
//! the next one and writes it back atomically (a transaction on SQLite, a
//! compare-and-swap on MongoDB).

use async_trait::async_trait;

use super::StoreResult;

/// How one kind of key (an account, a client address, a browser) is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRule {
    /// Failures before lockouts begin.
    pub threshold: u32,
    /// The first lockout; each further failure doubles it, up to `max_lockout_secs`.
    pub base_lockout_secs: i64,
    pub max_lockout_secs: i64,
    /// A run of failures this far apart starts over (the cumulative count does not).
    pub window_secs: i64,
    /// Failures without a success after which the key signs in no more until its count
    /// is cleared (a reset by email, an admin): NIST SP 800-63B §5.2.2.
    pub cap: Option<u32>,
    /// How long a record outlives its last attempt, unless it is capped.
    pub retention_secs: i64,
}

/// A key's count as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptCount {
    /// Failures in the current run, attempts still being checked included.
    pub run: u32,
    /// Failures since the last success, attempts still being checked included.
    pub total: u32,
    pub last_at: i64,
    pub blocked_until: i64,
}

/// The answer to "may one more attempt guess now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// It may, and it is counted as a failure until released. `previous_blocked_until`
    /// is what a release restores.
    Granted {
        previous_blocked_until: i64,
    },
    LockedOut {
        until: i64,
    },
    /// The cumulative cap is reached.
    Capped,
}

impl AttemptRule {
    /// The count once one more attempt holds a slot, or why it may not.
    pub fn reserve(&self, current: AttemptCount, now: i64) -> Result<AttemptCount, Reservation> {
        if self.cap.is_some_and(|cap| current.total >= cap) {
            return Err(Reservation::Capped);
        }
        if current.blocked_until > now {
            return Err(Reservation::LockedOut {
                until: current.blocked_until,
            });
        }
        let mut next = current;
        if now - current.last_at >= self.window_secs {
            next.run = 0;
        }
        next.run = next.run.saturating_add(1);
        next.total = next.total.saturating_add(1);
        next.last_at = now;
        if next.run >= self.threshold {
            let doublings = (next.run - self.threshold).min(20);
            let lockout = self
                .base_lockout_secs
                .saturating_mul(1 << doublings)
                .min(self.max_lockout_secs)
                .max(1);
            next.blocked_until = now + lockout;
        }
        Ok(next)
    }

    /// The count once a slot whose guess was right is given back: the lockout this
    /// attempt may have started is undone, one that others' failures started stands.
    pub fn release(&self, current: AttemptCount, previous_blocked_until: i64) -> AttemptCount {
        let mut next = current;
        next.run = next.run.saturating_sub(1);
        next.total = next.total.saturating_sub(1);
        if next.run < self.threshold {
            next.blocked_until = next.blocked_until.min(previous_blocked_until);
        }
        next
    }

    /// When a record may be forgotten; `None` while capped (kept until cleared).
    pub fn expires_at(&self, count: &AttemptCount) -> Option<i64> {
        if self.cap.is_some_and(|cap| count.total >= cap) {
            return None;
        }
        Some(
            count
                .blocked_until
                .max(count.last_at.saturating_add(self.retention_secs)),
        )
    }
}

#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Takes a slot for one attempt under `key`, counting it as a failure, unless the key
    /// is locked out or capped. Atomic across every instance on the store.
    async fn reserve_attempt(
        &self,
        key: &str,
        rule: &AttemptRule,
        now: i64,
    ) -> StoreResult<Reservation>;
    /// Gives back a slot whose guess was right but which is no success of the key's (a
    /// client address's, or an account's first step of two).
    async fn release_attempt(
        &self,
        key: &str,
        rule: &AttemptRule,
        previous_blocked_until: i64,
    ) -> StoreResult<()>;
    /// Forgets `key`'s count: a success, a reset by email, an admin's unlock.
    async fn clear_attempts(&self, key: &str) -> StoreResult<()>;
    async fn attempts_of(&self, key: &str) -> StoreResult<Option<AttemptCount>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: AttemptRule = AttemptRule {
        threshold: 3,
        base_lockout_secs: 2,
        max_lockout_secs: 60,
        window_secs: 600,
        cap: Some(10),
        retention_secs: 3600,
    };

    fn reserved(count: AttemptCount, now: i64) -> AttemptCount {
        RULE.reserve(count, now).unwrap()
    }

    #[test]
    fn the_attempt_that_reaches_the_threshold_guesses_and_locks_the_next() {
        let mut count = AttemptCount::default();
        for _ in 0..3 {
            count = reserved(count, 1_000);
        }
        assert_eq!(count.blocked_until, 1_002);
        assert_eq!(
            RULE.reserve(count, 1_001),
            Err(Reservation::LockedOut { until: 1_002 })
        );
        let count = reserved(count, 1_002);
        assert_eq!(count.blocked_until, 1_006, "the lockout doubles");
    }

    #[test]
    fn the_lockout_is_bounded_and_the_run_forgets_but_the_total_does_not() {
        let mut count = AttemptCount::default();
        let mut now = 0;
        for _ in 0..9 {
            count = reserved(count, now);
            now = count.blocked_until.max(now);
        }
        assert!(count.blocked_until - count.last_at <= 60);
        let later = reserved(count, now + 600);
        assert_eq!(later.run, 1);
        assert_eq!(later.total, 10);
        assert_eq!(RULE.reserve(later, now + 700), Err(Reservation::Capped));
        assert_eq!(RULE.expires_at(&later), None, "kept until cleared");
    }

    #[test]
    fn a_release_undoes_only_the_lockout_its_own_attempt_started() {
        let mut count = AttemptCount::default();
        count = reserved(count, 1_000);
        count = reserved(count, 1_000);
        let previous = count.blocked_until;
        let third = reserved(count, 1_000);
        assert_eq!(third.blocked_until, 1_002);
        let released = RULE.release(third, previous);
        assert_eq!(released.run, 2);
        assert_eq!(released.blocked_until, previous);
        // Past the threshold, another's failure locked the key: the release keeps it.
        let fourth = reserved(reserved(third, 1_002), 1_006);
        let released = RULE.release(fourth, 1_002);
        assert_eq!(released.blocked_until, fourth.blocked_until);
    }
}
