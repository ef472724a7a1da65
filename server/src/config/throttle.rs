//! How often a client may try: logins, sign-ups, refreshes, mail.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Failed logins for one account before it is slowed down.
    pub login_failures_per_account: u32,
    /// Failed logins from one client address before it is slowed down.
    pub login_failures_per_ip: u32,
    /// The first lockout; each further failure doubles it, up to `max_lockout`.
    pub base_lockout: Duration,
    pub max_lockout: Duration,
    /// Sign-ups allowed per client address per `window`.
    pub signups_per_ip: u32,
    /// Refreshes allowed per client address per `window`.
    pub refreshes_per_ip: u32,
    /// "Forgot password" requests per client address per `window`.
    pub recovery_requests_per_ip: u32,
    /// Mails (reset and verification) per account, and reset requests per name or
    /// address asked for, per `window`: nobody's inbox can be flooded.
    pub mails_per_account: u32,
    pub window: Duration,
    /// Failed sign-ins without a success after which an account signs in no more until a
    /// reset by email or an admin lifts it (NIST SP 800-63B §5.2.2: at most 100).
    pub login_failure_cap: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            base_lockout: Duration::from_secs(2),
            max_lockout: Duration::from_secs(15 * 60),
            signups_per_ip: 20,
            refreshes_per_ip: 600,
            recovery_requests_per_ip: 20,
            mails_per_account: 5,
            window: Duration::from_secs(10 * 60),
            login_failure_cap: 100,
        }
    }
}
