//! The forms in which the stores keep secrets: never the secret itself.

use sha2::{Digest, Sha256};

/// What every refresh token starts with, so a leaked one is recognisable in logs and
/// scanners.
pub const REFRESH_PREFIX: &str = "rt_";
/// The refresh tokens of apps that sign in through Gatehouse (OpenID Connect): another
/// prefix, so that neither door takes the other's tokens.
pub const CLIENT_REFRESH_PREFIX: &str = "grt_";
/// 32 random bytes in unpadded base64url.
const TOKEN_RANDOM_CHARS: usize = 43;

/// `prefix` followed by 32 random bytes in unpadded base64url: the shape of every opaque
/// token this server hands out. Anything else is refused before it is hashed or looked up.
pub(super) fn is_token_shaped(token: &str, prefix: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|random| {
        random.len() == TOKEN_RANDOM_CHARS
            && random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$...`. Never sent to a client.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl PasswordHashString {
    pub fn from_phc(phc: String) -> Self {
        PasswordHashString(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString([redacted])")
    }
}

/// SHA-256 of a refresh token, hex. A plain hash is enough: the input has 256 random bits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RefreshHash(String);

impl RefreshHash {
    /// The hash of a token this server has just generated.
    pub fn of_issued(token: &str) -> RefreshHash {
        RefreshHash(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Hashes a presented refresh token, refusing anything that is not shaped like one.
    pub fn of_presented(token: &str) -> Option<RefreshHash> {
        is_token_shaped(token, REFRESH_PREFIX).then(|| RefreshHash::of_issued(token))
    }

    /// An app's refresh token (`grt_…`), as presented at the token endpoint.
    pub fn of_presented_by_client(token: &str) -> Option<RefreshHash> {
        is_token_shaped(token, CLIENT_REFRESH_PREFIX).then(|| RefreshHash::of_issued(token))
    }

    pub fn from_stored(hex: String) -> RefreshHash {
        RefreshHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a mailed link is for. A link made for one purpose never serves the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    VerifyEmail,
    ResetPassword,
    /// A one-time sign-in code: its "hash" is keyed (see `LinkHash::of_code`).
    SignInCode,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "verify_email",
            LinkPurpose::ResetPassword => "reset_password",
            LinkPurpose::SignInCode => "sign_in_code",
        }
    }

    pub fn parse(text: &str) -> Option<LinkPurpose> {
        match text {
            "verify_email" => Some(LinkPurpose::VerifyEmail),
            "reset_password" => Some(LinkPurpose::ResetPassword),
            "sign_in_code" => Some(LinkPurpose::SignInCode),
            _ => None,
        }
    }
}

/// What every mailed link's token starts with.
pub const LINK_PREFIX: &str = "ml_";

/// SHA-256 of a mailed link's token, hex: the only form the stores keep.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkHash(String);

impl LinkHash {
    pub fn of_issued(token: &str) -> LinkHash {
        LinkHash(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Hashes a presented link token, refusing anything not shaped like one (so garbage
    /// never reaches the store).
    pub fn of_presented(token: &str) -> Option<LinkHash> {
        let token = token.trim();
        is_token_shaped(token, LINK_PREFIX).then(|| LinkHash::of_issued(token))
    }

    /// A sign-in code's keyed tag (`FactorKeys::code_tag`), as the store keeps it.
    pub fn of_code_tag(tag: &[u8; 32]) -> LinkHash {
        LinkHash(hex::encode(tag))
    }

    pub fn from_stored(hex: String) -> LinkHash {
        LinkHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
