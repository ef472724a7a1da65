//! Where tokens are issued and verified: JWT access tokens (`access`), opaque refresh
//! tokens (`refresh`) and the keys that sign them (`keys`).

mod access;
mod id_token;
mod keys;
mod refresh;

pub use access::{
    ACCESS_TOKEN_TYPE, AccessClaims, AccessGrant, IssuedAccess, LEEWAY_SECS, OWN_AUDIENCE,
    ServiceClaims, SupersededKey, TokenError, TokenSigner,
};
pub use id_token::{IdTokenKeyMaterial, IdTokenSigner, left_half_hash};
pub use keys::{Ed25519KeyMaterial, KeyError, random_id};
pub use refresh::{RefreshSecret, SuccessorKey, random_token};
