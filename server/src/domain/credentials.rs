//! Credentials as parsed input: handlers turn raw request fields into these before
//! anything else runs.

use std::{collections::HashSet, fmt, sync::LazyLock};

use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// A username as shown (NFKC-normalized, trimmed) plus the key that makes it unique
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Username, FieldError> {
        let display: String = raw.trim().nfkc().collect();
        let chars = display.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(FieldError::new(
                "username",
                format!(
                    "must be {} to {} characters long",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        if let Some(bad) = display
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(FieldError::new(
                "username",
                format!(
                    "may contain only letters, digits, '.', '_' and '-' (found {:?})",
                    bad
                ),
            ));
        }
        // Lower-casing can change a string's NFKC form, so normalize once more.
        let key = Self::key_of(&display);
        Ok(Username { display, key })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form the store keeps unique.
    /// The case-insensitive key of a name as shown (and stored): the one rule, for
    /// names parsed here and names read back from the store.
    pub fn key_of(display: &str) -> String {
        display.to_lowercase().nfkc().collect()
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key an attempt naming `raw` is counted under by the throttles: the store's
    /// key for a valid name; for a malformed one its bounded, lower-cased text. Either
    /// way the same whether or not an account exists.
    pub fn attempt_key(raw: &str) -> String {
        match Username::parse(raw) {
            Ok(name) => name.key,
            Err(_) => raw
                .chars()
                .take(Self::MAX_CHARS)
                .collect::<String>()
                .to_lowercase(),
        }
    }
}

/// A password in clear. It cannot be serialized and never prints.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// A new password: length bounds and not one of the most common passwords.
    pub fn parse_new(raw: String, field: &'static str) -> Result<Password, FieldError> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(FieldError::new(
                field,
                format!(
                    "must be {} to {} characters long",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        if is_common_password(&raw) {
            return Err(FieldError::new(
                field,
                "is one of the most common passwords; choose another",
            ));
        }
        Ok(Password(raw))
    }

    /// A password offered at login: only bounded, so a huge body cannot make argon2 work
    /// on megabytes, and no rule that changed since sign-up locks anybody out.
    pub fn parse_offered(raw: String, field: &'static str) -> Result<Password, FieldError> {
        if raw.is_empty() || raw.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(field, "is missing or too long"));
        }
        Ok(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// Django's list of the 20,000 most common passwords (from its PyPI package,
/// `django/contrib/auth/common-passwords.txt.gz`, BSD licence), compared case-insensitively.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

fn is_common_password(candidate: &str) -> bool {
    COMMON_PASSWORDS.contains(candidate.trim().to_lowercase().as_str())
}

/// Loads the common-password list now rather than inside the first sign-up.
pub fn preload_common_passwords() {
    LazyLock::force(&COMMON_PASSWORDS);
}

/// An email address as given (trimmed) plus the key that makes it unique
/// case-insensitively. Only addresses a mail can actually be sent to pass: the syntax is
/// lettre's (the crate that sends the mail), and nothing that could end a mail header
/// line (CR, LF, any control character) gets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    key: String,
}

impl Email {
    /// RFC 5321's limit on a forward path.
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Email, FieldError> {
        let email = raw.trim();
        let invalid = || FieldError::new("email", "is not a valid email address");
        if email.len() > Self::MAX_CHARS
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || email.parse::<lettre::Address>().is_err()
        {
            return Err(invalid());
        }
        Ok(Email {
            display: email.to_owned(),
            key: email.to_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form the store keeps unique.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_keyed_case_insensitively() {
        let name = Username::parse("  Ada.Lovelace ").unwrap();
        assert_eq!(name.as_str(), "Ada.Lovelace");
        assert_eq!(name.key(), "ada.lovelace");
    }

    #[test]
    fn fullwidth_letters_normalize_to_the_same_key() {
        let fullwidth = Username::parse("ＡＤＡ").unwrap();
        let ascii = Username::parse("ada").unwrap();
        assert_eq!(fullwidth.key(), ascii.key());
    }

    #[test]
    fn an_attempt_is_counted_under_the_same_key_however_the_name_is_written() {
        assert_eq!(Username::attempt_key(" ADA "), Username::attempt_key("ada"));
        assert_eq!(Username::attempt_key("ＡＤＡ"), "ada");
        assert_eq!(Username::attempt_key("Not A Name!"), "not a name!");
        assert_eq!(Username::attempt_key(&"X".repeat(500)).len(), 64);
    }

    #[test]
    fn usernames_outside_the_length_bounds_are_refused() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn usernames_with_symbols_or_spaces_are_refused() {
        for bad in [
            "ada lovelace",
            "ada$",
            "a{b}c",
            "ada@host",
            "$ne",
            "ada\u{0}x",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn passwords_are_bounded_but_not_composed() {
        assert!(Password::parse_new("short".into(), "password").is_err());
        assert!(Password::parse_new("x".repeat(129), "password").is_err());
        assert!(Password::parse_new("plain lowercase words".into(), "password").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert!(Password::parse_new("password".into(), "password").is_err());
        assert!(Password::parse_new("Password".into(), "password").is_err());
        assert!(Password::parse_new("12345678".into(), "password").is_err());
    }

    #[test]
    fn a_password_never_prints() {
        let password = Password::parse_new("correct horse battery".into(), "password").unwrap();
        assert_eq!(format!("{password:?}"), "Password([redacted])");
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("ada@example.org").is_ok());
        for bad in [
            "ada",
            "@example.org",
            "ada@org",
            "ada@.org",
            "a b@example.org",
            "ada@example.org\r\nBcc: eve@example.org",
            "ada@example.org\nBcc: eve@example.org",
            "ada\r@example.org",
            "ada@exa mple.org",
            "<ada@example.org>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn emails_are_trimmed_and_keyed_case_insensitively() {
        let email = Email::parse("  Ada.Lovelace@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@Example.ORG");
        assert_eq!(email.key(), "ada.lovelace@example.org");
    }
}
