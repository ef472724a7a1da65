//! The REST layer's one error type: every failure — the core's, an extractor's, a
//! missing route — leaves as `{"error": {"code", "message"}}` with the right status.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::model::{ErrorBody, ErrorDetail};

use crate::auth::AuthError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        use AuthError::*;
        let message = error.to_string();
        match error {
            Invalid(field_error) => ApiError {
                field: Some(field_error.field.to_owned()),
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
            },
            InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            InvalidToken(crate::auth::TokenProblem::Missing) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "This endpoint needs an `Authorization: Bearer <access token>` header.",
            ),
            InvalidToken(problem) => {
                tracing::debug!(%problem, "access token refused");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "The access token is missing, invalid, expired or revoked.",
                )
            }
            InvalidRefreshToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_refresh_token", message)
            }
            RefreshTokenReused => {
                ApiError::new(StatusCode::UNAUTHORIZED, "refresh_token_reused", message)
            }
            Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            AccountDisabled => ApiError::new(StatusCode::FORBIDDEN, "account_disabled", message),
            NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            UsernameTaken => ApiError::new(StatusCode::CONFLICT, "username_taken", message),
            LastAdmin => ApiError::new(StatusCode::CONFLICT, "last_admin", message),
            Throttled { retry_after } => ApiError {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
            },
            Unavailable(cause) => {
                tracing::error!(%cause, "the store is unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "The service is temporarily unavailable; retry shortly.",
                )
            }
            Unexpected(cause) => {
                tracing::error!(%cause, "unexpected error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side.",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
            }
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = match self.code {
                "invalid_token" => "Bearer error=\"invalid_token\"",
                _ => "Bearer",
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
