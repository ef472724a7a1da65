//! Values that both the auth core and the stores speak in, so they sit below both: input
//! parsed into types that can only hold valid values (a username, a password, an email
//! address, a page request) and the hashed forms of secrets that the stores keep.
//! Nothing here does I/O.

mod credentials;
pub mod forward;
pub mod oidc;
mod paging;
mod second_factor;
pub mod sign_in;
mod stored;

pub use credentials::{Email, Password, Username, preload_common_passwords};
pub use paging::PageRequest;
pub use second_factor::{
    CEREMONY_PREFIX, OneTimeCode, RECOVERY_CODE_BYTES, RECOVERY_CODE_CHARS, RecoveryCode,
    RecoveryCodeHash, TICKET_PREFIX, TicketHash,
};
pub use sign_in::{FirstStep, SecondStep, SignInMethod, Way, WaysOff};
pub use stored::{
    CLIENT_REFRESH_PREFIX, LINK_PREFIX, LinkHash, LinkPurpose, PasswordHashString, REFRESH_PREFIX,
    RefreshHash,
};

/// Why a field was refused; `field` names the input it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}
