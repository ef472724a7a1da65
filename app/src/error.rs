//! The error every server function returns: typed, serializable, and carrying the
//! field it concerns so a form can show it next to that field.

use std::fmt;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::model::ErrorCode;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    /// The same codes as the REST API.
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// The HTTP status the server answers with (the same as the REST API's).
    pub status: u16,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            field: None,
            status: 500,
        }
    }

    /// The message for `field`, if this error concerns it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    /// The message when it concerns no particular field.
    pub fn general(&self) -> Option<String> {
        self.field.is_none().then(|| self.message.clone())
    }

    /// Not signed in (any more): the page should send the user to the login page.
    pub fn is_unauthenticated(&self) -> bool {
        self.code.is_unauthenticated()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => {
                AppError::new(ErrorCode::Network, ErrorCode::Network.message())
            }
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::Deserialization(detail) => {
                AppError {
                    status: 422,
                    ..AppError::new(ErrorCode::InvalidInput, detail)
                }
            }
            _ => AppError::new(ErrorCode::Internal, "Something went wrong on our side."),
        }
    }
}
