//! In-memory throttles: failed logins slow down an account and a client address with a
//! growing lockout; sign-ups and refreshes are counted per address in fixed windows.
//! They are per process on purpose: they protect this server's CPU, and they answer the
//! same whether or not an account exists.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use super::ClientInfo;
use crate::{config::ThrottleConfig, domain::Username};

/// Bounds the memory an attacker can make the throttles use by inventing keys.
const MAX_TRACKED_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_at: i64,
    blocked_until: i64,
}

pub struct LoginThrottle {
    config: ThrottleConfig,
    failures: Mutex<HashMap<String, Failures>>,
}

/// The keys a login attempt is counted under.
pub struct LoginKeys {
    pub account: String,
    pub client: Option<String>,
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        LoginThrottle {
            config,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` while the account or the client address is locked out.
    pub fn check(&self, keys: &LoginKeys, now: i64) -> Result<(), Duration> {
        let Ok(failures) = self.failures.lock() else {
            return Ok(());
        };
        let wait = keys
            .all()
            .filter_map(|key| failures.get(key))
            .map(|entry| entry.blocked_until - now)
            .max()
            .unwrap_or(0);
        if wait > 0 {
            Err(Duration::from_secs(wait as u64))
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, keys: &LoginKeys, now: i64) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        let window = self.config.window.as_secs() as i64;
        if failures.len() >= MAX_TRACKED_KEYS {
            failures.retain(|_, entry| entry.blocked_until > now || now - entry.last_at < window);
        }
        for (key, threshold) in [
            (Some(&keys.account), self.config.login_failures_per_account),
            (keys.client.as_ref(), self.config.login_failures_per_ip),
        ] {
            let Some(key) = key else { continue };
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last_at: now,
                blocked_until: 0,
            });
            if now - entry.last_at >= window && entry.blocked_until <= now {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last_at = now;
            if entry.count >= threshold {
                let doublings = (entry.count - threshold).min(20);
                let lockout = self
                    .config
                    .base_lockout
                    .saturating_mul(1 << doublings)
                    .min(self.config.max_lockout);
                entry.blocked_until = now + lockout.as_secs().max(1) as i64;
            }
        }
    }

    /// A successful login clears the account's record (not the address's: one good
    /// password must not reset a spray across many accounts).
    pub fn record_success(&self, keys: &LoginKeys) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&keys.account);
        }
    }
}

impl LoginKeys {
    /// The keys for an attempt naming `username`, from `client`: the one way sign-in and
    /// password change count attempts, so the two share a lockout.
    pub fn for_attempt(username: &str, client: &ClientInfo) -> LoginKeys {
        LoginKeys {
            account: format!("user:{}", Username::attempt_key(username)),
            client: Some(client.throttle_key()),
        }
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.account).chain(self.client.as_ref())
    }
}

/// At most `limit` events per key in each window.
pub struct WindowLimiter {
    limit: u32,
    window: i64,
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        WindowLimiter {
            limit,
            window: window.as_secs().max(1) as i64,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn hit(&self, key: &str, now: i64) -> Result<(), Duration> {
        let Ok(mut counts) = self.counts.lock() else {
            return Ok(());
        };
        if counts.len() >= MAX_TRACKED_KEYS {
            let window = self.window;
            counts.retain(|_, (start, _)| now - *start < window);
        }
        let (start, count) = counts.entry(key.to_owned()).or_insert((now, 0));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            login_failures_per_account: 3,
            login_failures_per_ip: 10,
            base_lockout: Duration::from_secs(2),
            max_lockout: Duration::from_secs(60),
            signups_per_ip: 2,
            refreshes_per_ip: 2,
            recovery_requests_per_ip: 2,
            mails_per_account: 2,
            window: Duration::from_secs(600),
        }
    }

    fn keys(account: &str) -> LoginKeys {
        LoginKeys {
            account: account.into(),
            client: Some("ip:127.0.0.1".into()),
        }
    }

    #[test]
    fn an_account_locks_after_its_threshold_with_a_growing_delay() {
        let throttle = LoginThrottle::new(config());
        let now = 1_000;
        for _ in 0..2 {
            throttle.record_failure(&keys("ada"), now);
        }
        assert!(throttle.check(&keys("ada"), now).is_ok());
        throttle.record_failure(&keys("ada"), now);
        assert_eq!(
            throttle.check(&keys("ada"), now),
            Err(Duration::from_secs(2))
        );
        throttle.record_failure(&keys("ada"), now + 2);
        assert_eq!(
            throttle.check(&keys("ada"), now + 2),
            Err(Duration::from_secs(4))
        );
        assert!(throttle.check(&keys("ada"), now + 6).is_ok());
    }

    #[test]
    fn the_lockout_is_capped() {
        let throttle = LoginThrottle::new(config());
        for _ in 0..40 {
            throttle.record_failure(&keys("ada"), 1_000);
        }
        assert_eq!(
            throttle.check(&keys("ada"), 1_000),
            Err(Duration::from_secs(60))
        );
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let mut config = config();
        config.login_failures_per_ip = 3;
        let throttle = LoginThrottle::new(config);
        for _ in 0..3 {
            throttle.record_failure(&keys("ada"), 1_000);
        }
        throttle.record_success(&keys("ada"));
        // The address is still locked, whatever account it tries next.
        assert!(throttle.check(&keys("bob"), 1_000).is_err());
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
