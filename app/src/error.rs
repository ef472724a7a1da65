//! The error every server function returns: typed, serializable, and carrying the
//! field it concerns so a form can show it next to that field. On the wire it is the
//! REST API's error body, `{"error": {"code", "message", "field"}}`, so both doors answer
//! a mistake alike; its HTTP status is its code's (`ErrorCode::http_status`).

use std::fmt;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::model::{ErrorBody, ErrorCode, ErrorDetail, OUR_FAILURE};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ErrorBody", into = "ErrorBody")]
pub struct AppError {
    /// The same codes as the REST API.
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The HTTP status the server answers with (the same as the REST API's).
    pub fn status(&self) -> u16 {
        self.code.http_status()
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
                AppError::new(ErrorCode::InvalidInput, detail)
            }
            _ => AppError::new(ErrorCode::Internal, OUR_FAILURE),
        }
    }
}

impl From<ErrorBody> for AppError {
    fn from(body: ErrorBody) -> Self {
        AppError {
            code: body.error.code,
            message: body.error.message,
            field: body.error.field,
        }
    }
}

impl From<AppError> for ErrorBody {
    fn from(error: AppError) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: error.code,
                message: error.message,
                field: error.field,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_function_error_travels_as_the_rest_error_body() {
        let error = AppError {
            field: Some("password".into()),
            ..AppError::new(ErrorCode::InvalidInput, "The password is too short.")
        };
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "invalid_input",
                "message": "The password is too short.", "field": "password"}})
        );
        assert_eq!(serde_json::from_value::<AppError>(json).unwrap(), error);
        assert_eq!(error.status(), 422);
    }
}
