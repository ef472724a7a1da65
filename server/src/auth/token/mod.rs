//! Where tokens are issued and verified: JWT access tokens (`access`), opaque refresh
//! tokens (`refresh`) and the keys that sign them (`keys`).

mod access;
mod keys;
mod refresh;

pub use access::{
    ACCESS_TOKEN_TYPE, AccessClaims, AccessGrant, IssuedAccess, LEEWAY_SECS, TokenError,
    TokenSigner,
};
pub use keys::{Ed25519KeyMaterial, KeyError, random_id};
pub use refresh::{RefreshSecret, SuccessorKey, random_token};
