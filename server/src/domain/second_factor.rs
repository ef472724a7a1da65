//! What a second sign-in step is given: a step-up ticket, and a one-time code (six digits
//! from an authenticator app, or one of the account's recovery codes). Each is parsed
//! here, so that nothing malformed is ever hashed, looked up or counted as a guess.

use sha2::{Digest, Sha256};

use super::FieldError;

/// What every step-up ticket starts with.
pub const TICKET_PREFIX: &str = "su_";
/// What every passkey ceremony's id starts with.
pub const CEREMONY_PREFIX: &str = "pk_";

/// SHA-256 of a single-use server-side ticket (a step-up, or a passkey ceremony), hex:
/// the only form the stores keep.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TicketHash(String);

impl TicketHash {
    pub fn of_issued(ticket: &str) -> TicketHash {
        TicketHash(hex::encode(Sha256::digest(ticket.as_bytes())))
    }

    /// Hashes a presented ticket, refusing anything not shaped like one.
    pub fn of_presented(ticket: &str) -> Option<TicketHash> {
        Self::of_presented_with(TICKET_PREFIX, ticket)
    }

    /// Hashes a presented ticket made with `prefix`, refusing anything else.
    pub fn of_presented_with(prefix: &str, ticket: &str) -> Option<TicketHash> {
        let ticket = ticket.trim();
        super::stored::is_token_shaped(ticket, prefix).then(|| TicketHash::of_issued(ticket))
    }

    pub fn from_stored(hex: String) -> TicketHash {
        TicketHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Recovery codes are 24 characters of RFC 4648 base32 (120 random bits), shown in six
/// groups of four. At 120 bits (ASVS 5.0 6.5.2 asks for 112) a plain hash is safe to keep
/// even if the store leaks: no one can try 2^119 codes against it.
pub const RECOVERY_CODE_CHARS: usize = 24;
/// Codes given out before: 16 characters (80 bits), still accepted until used or
/// replaced.
const EARLIER_RECOVERY_CODE_CHARS: usize = 16;
/// The random bytes behind one code.
pub const RECOVERY_CODE_BYTES: usize = 15;
const RECOVERY_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
// At least 112 bits, every one of them shown.
const _: () = assert!(RECOVERY_CODE_BYTES * 8 >= 112);
const _: () = assert!(RECOVERY_CODE_CHARS * 5 >= RECOVERY_CODE_BYTES * 8);

/// SHA-256 of a recovery code in its canonical form, hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecoveryCodeHash(String);

impl RecoveryCodeHash {
    pub fn from_stored(hex: String) -> RecoveryCodeHash {
        RecoveryCodeHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A recovery code as shown once to its owner.
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// `bytes`: 120 random bits.
    pub fn from_random(bytes: &[u8; RECOVERY_CODE_BYTES]) -> RecoveryCode {
        let mut bits: u128 = 0;
        for byte in bytes {
            bits = (bits << 8) | u128::from(*byte);
        }
        let canonical: String = (0..RECOVERY_CODE_CHARS)
            .rev()
            .map(|index| RECOVERY_ALPHABET[((bits >> (index * 5)) & 31) as usize] as char)
            .collect();
        RecoveryCode(canonical)
    }

    /// Grouped for reading aloud or copying: `abcd-efgh-ijkl-mnop-qrst-uvwx`.
    pub fn display(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }

    pub fn hash(&self) -> RecoveryCodeHash {
        RecoveryCodeHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// A code offered to complete a sign-in or to confirm or remove a factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneTimeCode {
    /// Six digits from an authenticator app.
    Totp(String),
    /// One of the account's recovery codes, hashed as the store keeps it.
    Recovery(RecoveryCodeHash),
}

impl OneTimeCode {
    /// Spaces and hyphens are ignored and letters may be in either case, as people type
    /// codes; anything else that is neither six digits nor a recovery code is refused.
    pub fn parse(text: &str) -> Result<OneTimeCode, FieldError> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .take(RECOVERY_CODE_CHARS + 1)
            .collect::<String>()
            .to_ascii_lowercase();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(OneTimeCode::Totp(compact));
        }
        if matches!(
            compact.len(),
            RECOVERY_CODE_CHARS | EARLIER_RECOVERY_CODE_CHARS
        ) && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
        {
            return Ok(OneTimeCode::Recovery(RecoveryCode(compact).hash()));
        }
        Err(FieldError::new(
            "code",
            "is neither a six-digit code nor a recovery code",
        ))
    }

    /// Only six digits from the app (confirming an enrolment takes no recovery code).
    pub fn parse_totp(text: &str) -> Result<String, FieldError> {
        match OneTimeCode::parse(text)? {
            OneTimeCode::Totp(code) => Ok(code),
            OneTimeCode::Recovery(_) => Err(FieldError::new(
                "code",
                "must be the six-digit code your app shows",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_parsed_as_people_type_them() {
        assert_eq!(
            OneTimeCode::parse(" 123 456 "),
            Ok(OneTimeCode::Totp("123456".into()))
        );
        let code = RecoveryCode::from_random(&[0xA5; RECOVERY_CODE_BYTES]);
        let shown = code.display();
        assert_eq!(shown.len(), 29);
        assert_eq!(
            OneTimeCode::parse(&shown.to_uppercase()),
            Ok(OneTimeCode::Recovery(code.hash()))
        );
        assert_eq!(
            OneTimeCode::parse(&shown.replace('-', " ")),
            Ok(OneTimeCode::Recovery(code.hash()))
        );
        for garbage in [
            "",
            "12345",
            "1234567",
            "12345a",
            "abcd-efgh-ijkl-mno1",
            "abcd-efgh-ijkl-mnop-qrst",
            "0'; --",
        ] {
            assert!(OneTimeCode::parse(garbage).is_err(), "{garbage:?}");
        }
        assert!(OneTimeCode::parse_totp(&shown).is_err());
        // A code given out before 120-bit codes still works.
        assert_eq!(
            OneTimeCode::parse("abcd-efgh-ijkl-mnop"),
            Ok(OneTimeCode::Recovery(
                RecoveryCode("abcdefghijklmnop".into()).hash()
            ))
        );
    }

    #[test]
    fn every_bit_of_a_code_is_shown() {
        let all_ones = RecoveryCode::from_random(&[0xFF; RECOVERY_CODE_BYTES]);
        assert_eq!(all_ones.display(), "7777-7777-7777-7777-7777-7777");
    }

    #[test]
    fn distinct_random_bytes_give_distinct_codes() {
        let a = RecoveryCode::from_random(&[0; RECOVERY_CODE_BYTES]);
        let mut one = [0; RECOVERY_CODE_BYTES];
        one[RECOVERY_CODE_BYTES - 1] = 1;
        let b = RecoveryCode::from_random(&one);
        assert_eq!(a.display(), "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa");
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn only_ticket_shaped_text_is_hashed() {
        let ticket = format!("{TICKET_PREFIX}{}", "A".repeat(43));
        assert!(TicketHash::of_presented(&ticket).is_some());
        assert!(TicketHash::of_presented("su_short").is_none());
        assert!(TicketHash::of_presented(&format!("ml_{}", "A".repeat(43))).is_none());
    }
}
