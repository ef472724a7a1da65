//! Sign-in attempts and per-address limits. Failed sign-ins slow down an account and a
//! client address with a growing lockout, counted in the store (`AttemptStore`) so that
//! every instance shares one allowance, and reserved before each guess so that parallel
//! guesses get no more than sequential ones. After `login_failure_cap` failures without a
//! success an account signs in no more until a reset by email or an admin lifts it.
//! Sign-ups, refreshes and mail are counted per address in fixed windows, per process:
//! they protect this server's CPU and inboxes, and answer the same whether or not an
//! account exists.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use super::{AuthError, AuthResult, AuthService, ClientInfo};
use crate::{
    config::ThrottleConfig,
    domain::Username,
    store::{AttemptRule, Reservation},
};

/// Keys each window limiter keeps at most: bounds the memory an attacker can make it use
/// by inventing keys.
const MAX_TRACKED_KEYS: usize = 100_000;
/// An account's count of failures outlives a quiet month: the cumulative cap needs it.
const ACCOUNT_MEMORY_SECS: i64 = 30 * 24 * 3600;
/// A device cookie names a random 128-bit id.
const DEVICE_ID_BYTES: usize = 16;

/// The rules sign-in attempts are counted by.
pub struct AttemptRules {
    account: AttemptRule,
    client: AttemptRule,
}

impl AttemptRules {
    pub fn new(config: &ThrottleConfig) -> Self {
        let rule = |threshold, cap, retention_secs| AttemptRule {
            threshold,
            base_lockout_secs: config.base_lockout.as_secs() as i64,
            max_lockout_secs: config.max_lockout.as_secs() as i64,
            window_secs: config.window.as_secs().max(1) as i64,
            cap,
            retention_secs,
        };
        AttemptRules {
            account: rule(
                config.login_failures_per_account,
                Some(config.login_failure_cap),
                ACCOUNT_MEMORY_SECS,
            ),
            client: rule(
                config.login_failures_per_ip,
                None,
                config.window.as_secs() as i64,
            ),
        }
    }
}

/// The keys a sign-in attempt is counted under.
pub struct LoginKeys {
    /// The account's name, or — for a browser that signed in to it before — that
    /// browser's own key, which failures from elsewhere never lock.
    pub account: String,
    recognised_device: bool,
    pub client: Option<String>,
}

/// The key an account's failures are counted under, however its name is written.
pub fn account_key(username: &str) -> String {
    format!("user:{}", Username::attempt_key(username))
}

/// What a device cookie is sealed to: it opens for this account only.
fn device_binding(account_key: &str) -> String {
    format!("device:{account_key}")
}

/// A slot taken for one guess, counted as a failure until the guess proves right. A
/// wrong guess needs nothing more; a right one clears or gives back the slot.
#[must_use = "a right guess must clear or give back its slot"]
pub struct Attempt {
    keys: LoginKeys,
    account_before: i64,
    client_before: Option<i64>,
}

impl AuthService {
    /// The keys for an attempt naming `username` from `client`: the one way every sign-in
    /// door and the password check before a sensitive change count attempts, so they
    /// share a lockout. A browser holding this account's device cookie (OWASP's "device
    /// cookie") is counted under its own key: failures from elsewhere lock it out neither
    /// by the lockout nor by the cap, so an attacker cannot lock the owner out.
    pub(super) fn login_keys(&self, username: &str, client: &ClientInfo) -> LoginKeys {
        let account = account_key(username);
        let device = client
            .device
            .as_deref()
            .and_then(|sealed| self.recognised_device(&account, sealed));
        LoginKeys {
            recognised_device: device.is_some(),
            account: device.unwrap_or(account),
            client: Some(client.throttle_key()),
        }
    }

    /// The device key a cookie stands for, if it was sealed by this server for `account`.
    fn recognised_device(&self, account: &str, sealed: &str) -> Option<String> {
        let opened = self
            .factor_keys
            .open(&device_binding(account), sealed)
            .ok()?;
        let id: String = opened
            .plaintext
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        (opened.plaintext.len() == DEVICE_ID_BYTES).then(|| format!("device:{id}"))
    }

    /// The device cookie for a browser that just signed in to `username`: the one it
    /// presented if that is this account's, else a new one.
    pub(super) fn device_cookie(&self, username: &str, client: &ClientInfo) -> AuthResult<String> {
        let account = account_key(username);
        if let Some(presented) = client.device.as_deref()
            && self.recognised_device(&account, presented).is_some()
        {
            return Ok(presented.to_owned());
        }
        let mut id = [0u8; DEVICE_ID_BYTES];
        getrandom::fill(&mut id)
            .map_err(|error| AuthError::Unexpected(error.to_string().into()))?;
        Ok(self.factor_keys.seal(&device_binding(&account), &id)?)
    }

    fn account_rule(&self, keys: &LoginKeys) -> AttemptRule {
        if keys.recognised_device {
            AttemptRule {
                cap: None,
                ..self.attempt_rules.account
            }
        } else {
            self.attempt_rules.account
        }
    }

    /// Takes a slot under the account's and the client's keys, or says how long to wait.
    pub(super) async fn reserve_attempt(&self, keys: LoginKeys, now: i64) -> AuthResult<Attempt> {
        let rules = &self.attempt_rules;
        let account_rule = self.account_rule(&keys);
        let account_before = match self
            .store
            .reserve_attempt(&keys.account, &account_rule, now)
            .await?
        {
            Reservation::Granted {
                previous_blocked_until,
            } => previous_blocked_until,
            refused => return Err(refusal(refused, now)),
        };
        let mut client_before = None;
        if let Some(client) = &keys.client {
            match self
                .store
                .reserve_attempt(client, &rules.client, now)
                .await?
            {
                Reservation::Granted {
                    previous_blocked_until,
                } => client_before = Some(previous_blocked_until),
                refused => {
                    self.store
                        .release_attempt(&keys.account, &account_rule, account_before)
                        .await?;
                    return Err(refusal(refused, now));
                }
            }
        }
        Ok(Attempt {
            keys,
            account_before,
            client_before,
        })
    }

    /// A complete sign-in: the account's count is cleared (a recognised browser's own
    /// count: the account's cap stands until a reset or an admin lifts it), the
    /// address's slot given back (one good password must not reset a spray across many
    /// accounts).
    pub(super) async fn attempt_succeeded(&self, attempt: Attempt) -> AuthResult<()> {
        self.store.clear_attempts(&attempt.keys.account).await?;
        self.give_back_client(&attempt).await
    }

    /// A right guess that is no complete sign-in (the first step of two, a disabled
    /// account): both slots are given back, and the counts stand as they were.
    pub(super) async fn attempt_was_right(&self, attempt: Attempt) -> AuthResult<()> {
        self.store
            .release_attempt(
                &attempt.keys.account,
                &self.account_rule(&attempt.keys),
                attempt.account_before,
            )
            .await?;
        self.give_back_client(&attempt).await
    }

    async fn give_back_client(&self, attempt: &Attempt) -> AuthResult<()> {
        if let (Some(client), Some(before)) = (&attempt.keys.client, attempt.client_before) {
            self.store
                .release_attempt(client, &self.attempt_rules.client, before)
                .await?;
        }
        Ok(())
    }

    /// Lifts an account's lockout and cap: a password reset by email, an admin.
    pub(super) async fn clear_sign_in_failures(&self, username: &str) -> AuthResult<()> {
        Ok(self.store.clear_attempts(&account_key(username)).await?)
    }

    /// `Throttled` or `SignInLocked` while the keys could take no slot: for steps that
    /// lead to a guess without being one (opening a passkey ceremony).
    pub(super) async fn refuse_while_locked_out(&self, keys: &LoginKeys) -> AuthResult<()> {
        let now = self.now();
        let Some(count) = self.store.attempts_of(&keys.account).await? else {
            return Ok(());
        };
        match self.account_rule(keys).reserve(count, now) {
            Ok(_) => Ok(()),
            Err(refused) => Err(refusal(refused, now)),
        }
    }

    /// Whether the caller's account has reached the cumulative cap (for its own page).
    pub async fn own_sign_in_locked(&self, principal: &super::Principal) -> AuthResult<bool> {
        self.sign_in_locked(&principal.username).await
    }

    /// Whether `username` has reached the cumulative cap.
    pub(super) async fn sign_in_locked(&self, username: &str) -> AuthResult<bool> {
        let count = self.store.attempts_of(&account_key(username)).await?;
        Ok(count.is_some_and(|count| {
            self.attempt_rules
                .account
                .cap
                .is_some_and(|cap| count.total >= cap)
        }))
    }
}

fn refusal(refused: Reservation, now: i64) -> AuthError {
    match refused {
        Reservation::Capped => AuthError::SignInLocked,
        Reservation::LockedOut { until } => AuthError::Throttled {
            retry_after: Duration::from_secs((until - now).max(1) as u64),
        },
        Reservation::Granted { .. } => AuthError::Unexpected("a granted slot refused".into()),
    }
}

/// At most `limit` events per key in each window. The keys live in a fixed-capacity
/// cache (`quick_cache` evicts the least used): inventing keys costs an attacker its own
/// counts, never this server's memory, and no request scans the map.
pub struct WindowLimiter {
    limit: u32,
    window: i64,
    counts: quick_cache::sync::Cache<String, Arc<Mutex<(i64, u32)>>>,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        WindowLimiter {
            limit,
            window: window.as_secs().max(1) as i64,
            counts: quick_cache::sync::Cache::new(MAX_TRACKED_KEYS),
        }
    }

    pub fn hit(&self, key: &str, now: i64) -> Result<(), Duration> {
        let Ok(entry) = self
            .counts
            .get_or_insert_with(key, || Ok::<_, Infallible>(Arc::new(Mutex::new((now, 0)))));
        let Ok(mut entry) = entry.lock() else {
            return Ok(());
        };
        let (start, count) = &mut *entry;
        if now - *start >= self.window {
            *start = now;
            *count = 0;
        }
        if *count >= self.limit {
            return Err(Duration::from_secs(
                (*start + self.window - now).max(1) as u64
            ));
        }
        *count += 1;
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_invented_keys_leave_the_limiter_bounded() {
        let limiter = WindowLimiter::new(5, Duration::from_secs(600));
        for n in 0..1_000_000u32 {
            let _ = limiter.hit(&format!("ip:{n}"), 0);
        }
        assert!(
            limiter.tracked() <= MAX_TRACKED_KEYS,
            "{}",
            limiter.tracked()
        );
        // A key seen again is still counted.
        for _ in 0..5 {
            assert!(limiter.hit("ip:hot", 1).is_ok());
        }
        assert!(limiter.hit("ip:hot", 1).is_err());
    }

    #[test]
    fn the_window_limiter_counts_per_key_and_resets() {
        let limiter = WindowLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.hit("a", 0).is_ok());
        assert!(limiter.hit("a", 1).is_ok());
        assert_eq!(limiter.hit("a", 2), Err(Duration::from_secs(58)));
        assert!(limiter.hit("b", 2).is_ok());
        assert!(limiter.hit("a", 60).is_ok());
    }
}
