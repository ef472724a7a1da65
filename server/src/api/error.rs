//! The REST layer's one error type: every failure — the core's, an extractor's, a
//! missing route — leaves as `{"error": {"code", "message"}}` with the right status.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::model::{ErrorBody, ErrorCode, ErrorDetail};

use crate::auth::{AuthError, TokenProblem};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    field: Option<String>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such endpoint",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "this endpoint does not take that method",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> ErrorCode {
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
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidInput,
                    message,
                )
            },
            InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                message,
            ),
            InvalidToken(TokenProblem::Missing) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::MissingToken,
                "This endpoint needs an `Authorization: Bearer <access token>` header.",
            ),
            InvalidToken(problem) => {
                tracing::debug!(%problem, "access token refused");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    "The access token is missing, invalid, expired or revoked.",
                )
            }
            InvalidRefreshToken => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRefreshToken,
                message,
            ),
            RefreshTokenReused => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::RefreshTokenReused,
                message,
            ),
            Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message),
            AccountDisabled => {
                ApiError::new(StatusCode::FORBIDDEN, ErrorCode::AccountDisabled, message)
            }
            NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message),
            UsernameTaken => ApiError::new(StatusCode::CONFLICT, ErrorCode::UsernameTaken, message),
            LastAdmin => ApiError::new(StatusCode::CONFLICT, ErrorCode::LastAdmin, message),
            Throttled { retry_after } => ApiError {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::Throttled, message)
            },
            Busy { retry_after } => ApiError {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Busy, message)
            },
            Unavailable(cause) => {
                tracing::error!(
                    error = &cause as &dyn std::error::Error,
                    "the store is unavailable"
                );
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    "The service is temporarily unavailable; retry shortly.",
                )
            }
            Unexpected(cause) => {
                tracing::error!(
                    error = &*cause as &dyn std::error::Error,
                    "unexpected error"
                );
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "Something went wrong on our side.",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::JsonDataError(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidInput)
            }
            JsonRejection::JsonSyntaxError(_) => {
                (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson)
            }
            JsonRejection::MissingJsonContentType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge)
            }
            _ => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            rejection.body_text(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.code == ErrorCode::InvalidToken {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
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
