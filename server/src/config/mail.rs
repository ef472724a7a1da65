//! Mail: the SMTP relay (or the outbox), the public URL links start with, and what an
//! address must prove.

use std::{path::PathBuf, time::Duration};

use super::{
    ConfigError,
    values::{boolean, invalid, seconds},
};

/// An SMTP server as a URL: `smtps://user:pass@host:465` (implicit TLS),
/// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtp://127.0.0.1:2525` (plain, for
/// a relay on loopback). Its credentials never print.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn new(url: impl Into<String>) -> Self {
        SmtpUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl([redacted])")
    }
}

#[derive(Clone, Debug)]
pub struct MailConfig {
    /// Unset (the default): every mail is written as an `.eml` file to `outbox_dir`.
    pub smtp: Option<SmtpUrl>,
    /// `Name <address>` or a bare address.
    pub from: String,
    /// Defaults to `outbox` under the data directory.
    pub outbox_dir: Option<PathBuf>,
    /// Links in mails start with this (scheme, host, port); never taken from a request's
    /// `Host`. Unset: `http://` and the address the server listens on.
    pub public_url: Option<String>,
    pub reset_link_ttl: Duration,
    pub verify_link_ttl: Duration,
    /// Refuse to sign in accounts without a verified address (admins excepted, so an
    /// operator can never lock everyone out).
    pub require_verified_email: bool,
    /// Send reset links only to verified addresses (the default): an address nobody
    /// proved could be a typo, or someone else's.
    pub reset_needs_verified_email: bool,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp: None,
            from: "Gatehouse <gatehouse@localhost>".to_owned(),
            outbox_dir: None,
            public_url: None,
            reset_link_ttl: Duration::from_secs(30 * 60),
            verify_link_ttl: Duration::from_secs(24 * 60 * 60),
            require_verified_email: false,
            reset_needs_verified_email: true,
        }
    }
}

pub(super) fn read_mail_config(
    mail: &mut MailConfig,
    var: &impl Fn(&'static str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(url) = var("GATEHOUSE_SMTP_URL") {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("smtp" | "smtps")) {
            return Err(invalid(
                "GATEHOUSE_SMTP_URL",
                "expected smtp://… or smtps://… (leave it unset to write mails to the outbox)",
            ));
        }
        mail.smtp = Some(SmtpUrl(url));
    }
    if let Some(from) = var("GATEHOUSE_MAIL_FROM") {
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "GATEHOUSE_MAIL_FROM",
                "expected an address, or `Name <address>`",
            ));
        }
        mail.from = from;
    }
    if let Some(dir) = var("GATEHOUSE_OUTBOX_DIR") {
        mail.outbox_dir = Some(PathBuf::from(dir));
    }
    if let Some(url) = var("GATEHOUSE_PUBLIC_URL") {
        let url = url.trim().trim_end_matches('/').to_owned();
        let valid = url
            .parse::<axum::http::Uri>()
            .ok()
            .filter(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some()
                    && uri.path_and_query().is_none_or(|path| path.as_str() == "/")
            })
            .is_some();
        if !valid {
            return Err(invalid(
                "GATEHOUSE_PUBLIC_URL",
                "expected the site's origin, such as https://auth.example.org (no path)",
            ));
        }
        mail.public_url = Some(url);
    }
    if let Some(secs) = var("GATEHOUSE_RESET_LINK_TTL_SECS") {
        mail.reset_link_ttl = seconds(&secs, "GATEHOUSE_RESET_LINK_TTL_SECS")?;
    }
    if let Some(secs) = var("GATEHOUSE_VERIFY_LINK_TTL_SECS") {
        mail.verify_link_ttl = seconds(&secs, "GATEHOUSE_VERIFY_LINK_TTL_SECS")?;
    }
    if let Some(flag) = var("GATEHOUSE_REQUIRE_VERIFIED_EMAIL") {
        mail.require_verified_email = boolean(&flag, "GATEHOUSE_REQUIRE_VERIFIED_EMAIL")?;
    }
    if let Some(flag) = var("GATEHOUSE_RESET_NEEDS_VERIFIED_EMAIL") {
        mail.reset_needs_verified_email = boolean(&flag, "GATEHOUSE_RESET_NEEDS_VERIFIED_EMAIL")?;
    }
    Ok(())
}
