//! The REST layer's one error type: every failure — the core's, an extractor's, a
//! missing route — leaves as `{"error": {"code", "message"}}` with the right status.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::model::{ErrorBody, ErrorCode, ErrorDetail, OUR_FAILURE};

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
    /// The status is the code's own (`ErrorCode::http_status`): one table for both doors.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, OUR_FAILURE)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such endpoint")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
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
                ..ApiError::new(ErrorCode::InvalidInput, message)
            },
            InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials, message),
            InvalidToken(TokenProblem::Missing) => ApiError::new(
                ErrorCode::MissingToken,
                "This endpoint needs an `Authorization: Bearer <access token>` header.",
            ),
            InvalidToken(problem) => {
                tracing::debug!(%problem, "access token refused");
                ApiError::new(
                    ErrorCode::InvalidToken,
                    "The access token is missing, invalid, expired or revoked.",
                )
            }
            InvalidRefreshToken => ApiError::new(ErrorCode::InvalidRefreshToken, message),
            RefreshTokenReused => ApiError::new(ErrorCode::RefreshTokenReused, message),
            Forbidden(_) => ApiError::new(ErrorCode::Forbidden, message),
            AccountDisabled => ApiError::new(ErrorCode::AccountDisabled, message),
            SignInLocked => ApiError::new(ErrorCode::SignInLocked, message),
            ReauthenticationRequired => ApiError::new(ErrorCode::ReauthenticationRequired, message),
            NotFound(_) => ApiError::new(ErrorCode::NotFound, message),
            UsernameTaken => ApiError::new(ErrorCode::UsernameTaken, message),
            EmailTaken => ApiError {
                field: Some("email".to_owned()),
                ..ApiError::new(ErrorCode::EmailTaken, message)
            },
            EmailNotVerified => ApiError::new(ErrorCode::EmailNotVerified, message),
            InvalidLink => ApiError::new(ErrorCode::InvalidLink, message),
            LastAdmin => ApiError::new(ErrorCode::LastAdmin, message),
            LastFactor => ApiError::new(ErrorCode::LastFactor, message),
            WayOff(_) => ApiError::new(ErrorCode::WayOff, message),
            StrongerSignInRequired(_) => ApiError::new(ErrorCode::StrongerSignInRequired, message),
            InvalidCode => ApiError {
                field: Some("code".to_owned()),
                ..ApiError::new(ErrorCode::InvalidCode, message)
            },
            InvalidStepUp => ApiError::new(ErrorCode::InvalidStepUp, message),
            SecondFactorExists => ApiError::new(ErrorCode::SecondFactorExists, message),
            InvalidCeremony => ApiError::new(ErrorCode::InvalidCeremony, message),
            InvalidPasskey => ApiError::new(ErrorCode::InvalidPasskey, message),
            PasskeyExists => ApiError::new(ErrorCode::PasskeyExists, message),
            RuleExists => ApiError::new(ErrorCode::RuleExists, message),
            ProviderExists => ApiError {
                field: Some("id".to_owned()),
                ..ApiError::new(ErrorCode::ProviderExists, message)
            },
            ProviderInUse => ApiError {
                field: Some("issuer".to_owned()),
                ..ApiError::new(ErrorCode::ProviderInUse, message)
            },
            ProviderFlowInvalid(_) | ProviderRefused(..) => {
                ApiError::new(ErrorCode::ProviderFlowInvalid, message)
            }
            ProviderAnswerInvalid(_) => ApiError::new(ErrorCode::ProviderAnswerInvalid, message),
            ProviderUnavailable(_) => ApiError::new(ErrorCode::ProviderUnavailable, message),
            NoLinkedAccount(_) => ApiError::new(ErrorCode::NoLinkedAccount, message),
            IdentityTaken(_) => ApiError::new(ErrorCode::IdentityTaken, message),
            Throttled { retry_after } => ApiError {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(ErrorCode::Throttled, message)
            },
            Busy { retry_after } => ApiError {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(ErrorCode::Busy, message)
            },
            Unavailable(cause) => {
                tracing::error!(
                    error = &cause as &dyn std::error::Error,
                    "the store is unavailable"
                );
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "The service is temporarily unavailable; retry shortly.",
                )
            }
            Unexpected(cause) => {
                tracing::error!(
                    error = &*cause as &dyn std::error::Error,
                    "unexpected error"
                );
                ApiError::internal()
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => ErrorCode::InvalidInput,
            JsonRejection::JsonSyntaxError(_) => ErrorCode::MalformedJson,
            JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
            _ => ErrorCode::BadRequest,
        };
        ApiError::new(code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidInput, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(ErrorCode::NotFound, rejection.body_text())
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
