//! The storage port, split by concern: one small trait per aggregate the core speaks to,
//! each in its own file here, and `Store` as their sum for the places that need
//! everything. Backends: `sqlite` (embedded, the default) and `mongo` (chosen by a
//! `mongodb://` URL); each implements each concern in a file of the same name. The
//! contract suite in `contract/` runs the same cases against each one reachable.
//!
//! | concern | trait | what it keeps |
//! |---|---|---|
//! | `users` | `UserStore` | accounts |
//! | `sessions` | `SessionStore` | sessions, refresh rotation, revocation |
//! | `access` | `AccessStore` | the access check's lookup, the revocation log |
//! | `attempts` | `AttemptStore` | sign-in attempts: the lockout and the cumulative cap |
//! | `audit` | `AuditStore` | the audit log |
//! | `keys` | `KeyStore` | token signing keys |
//! | `links` | `LinkStore` | mailed verification and reset links |
//! | `factors` | `FactorStore` | TOTP, recovery codes, step-up tickets |
//! | `passkeys` | `PasskeyStore` | passkeys and their ceremonies |
//! | `identities` | `IdentityStore` | accounts of other providers linked to accounts |
//! | `forward_rules` | `ForwardRuleStore` | who a reverse proxy lets through where |
//! | `providers` | `ProviderStore` | providers admins added to sign in with |
//! | `clients` | `ClientStore` | OpenID Connect clients (the apps that sign in here) |
//! | `codes` | `CodeStore` | their single-use authorization codes |
//! | `consents` | `ConsentStore` | what each user allowed each client |
//! | `upkeep` | `Upkeep` | purging, readiness |

mod access;
mod attempts;
mod audit;
pub mod clients;
pub mod codes;
mod consents;
mod factors;
pub mod forward_rules;
mod identities;
mod keys;
mod links;
pub mod mongo;
mod operator;
mod passkeys;
mod providers;
pub mod remembered;
mod sessions;
pub mod sqlite;
mod upkeep;
mod users;

#[cfg(test)]
mod contract;

use std::{sync::Arc, time::Duration};

pub use access::{AccessFacts, AccessStatus, AccessStore, LocalRevocations, UserFacts};
pub use attempts::{AttemptCount, AttemptRule, AttemptStore, Reservation};
pub use audit::{AuditQuery, AuditRecord, AuditStore, NewAuditEvent};
pub use clients::{ClientStore, OidcClient};
pub use codes::{AuthorizationCode, CodeRedemption, CodeStore};
pub use consents::{Consent, ConsentStore};
pub use factors::{FactorStore, NewStepUp, NewTotp, SecondFactors, StepUpRecord, TotpRecord};
pub use forward_rules::{ForwardRule, ForwardRuleStore};
pub use identities::{IdentityStore, IdentityUnlinking, LinkedIdentity};
pub use keys::{KeyStore, StoredSigningKey};
pub use links::{LinkRecord, LinkStore, NewLink};
pub use operator::OperatorStore;
pub use passkeys::{
    CeremonyPurpose, CeremonyRecord, NewCeremony, NewPasskey, PasskeyRecord, PasskeyRemoval,
    PasskeyStore,
};
pub use providers::{ProviderStore, StoredProvider};
pub use remembered::RememberedAccess;
pub use sessions::{
    ClientGrant, NewSession, Rotation, SessionAuthentication, SessionRecord, SessionStore,
};
pub use upkeep::Upkeep;
pub use users::{NewEmail, NewUser, UserChange, UserQuery, UserRecord, UserStore};

/// A driver's own error, kept whole as the source of a `StoreError`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule of the store refused the write.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// The change would leave no active admin.
    #[error("the change would leave no active admin")]
    LastAdmin,
    /// The store cannot be reached or is out of resources; worth retrying later.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] Cause),
    #[error("unexpected store error: {0}")]
    Unexpected(#[source] Cause),
}

impl StoreError {
    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        StoreError::Unavailable(cause.into())
    }

    pub fn unexpected(cause: impl Into<Cause>) -> Self {
        StoreError::Unexpected(cause.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The store as a server holds it: the backend for every concern, and its access checks
/// answered through this instance's memory (`remembered`), the one concern that layer
/// changes.
#[derive(Clone)]
pub struct ServedStore {
    pub backend: Arc<dyn Store>,
    pub access: Arc<dyn AccessStore>,
}

impl ServedStore {
    pub fn new(backend: Arc<dyn Store>, revocation_bound: Duration) -> ServedStore {
        let access = Arc::new(RememberedAccess::new(backend.clone(), revocation_bound));
        ServedStore { backend, access }
    }
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Every concern at once: what a backend is, and what the places that need everything
/// (the auth core, the contract suite) hold.
pub trait Store:
    UserStore
    + SessionStore
    + AccessStore
    + AttemptStore
    + AuditStore
    + KeyStore
    + LinkStore
    + FactorStore
    + PasskeyStore
    + IdentityStore
    + ForwardRuleStore
    + ProviderStore
    + ClientStore
    + CodeStore
    + ConsentStore
    + Upkeep
{
}

impl<T> Store for T where
    T: UserStore
        + SessionStore
        + AccessStore
        + AttemptStore
        + AuditStore
        + KeyStore
        + LinkStore
        + FactorStore
        + PasskeyStore
        + IdentityStore
        + ForwardRuleStore
        + ProviderStore
        + ClientStore
        + CodeStore
        + ConsentStore
        + Upkeep
{
}
