//! The one error type at the API edge, and its mapping to `extensions.code`.

use std::fmt;

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// Every `extensions.code` the API answers with: the stable contract clients branch on.
/// Resolvers, the guard and the HTTP layer all name their errors with it, and the status
/// of an answer is decided by it, never by comparing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The client sent something malformed or out of range (a document, an argument).
    BadUserInput,
    /// The HTTP request itself is malformed (its body, its query string).
    BadRequest,
    NotFound,
    Unauthenticated,
    Forbidden,
    /// The request contradicts the current state.
    Conflict,
    /// Over the client's budget.
    RateLimited,
    /// Over a limit on the document's shape or cost.
    QueryTooComplex,
    /// Over the execution timeout.
    Timeout,
    /// The database cannot serve right now; retry later.
    ServiceUnavailable,
    /// A bug or an unexpected failure, logged under the request id.
    Internal,
    CsrfPrevented,
    UnsupportedMediaType,
    NotAcceptable,
    PayloadTooLarge,
    MethodNotAllowed,
    HeadersTooLarge,
    BatchTooLarge,
    BatchingDisabled,
    PersistedQueryNotFound,
    PersistedQueryNotAllowed,
    PersistedQueryNotSupported,
}

impl ErrorCode {
    pub const ALL: [Self; 22] = [
        Self::BadUserInput,
        Self::BadRequest,
        Self::NotFound,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::Conflict,
        Self::RateLimited,
        Self::QueryTooComplex,
        Self::Timeout,
        Self::ServiceUnavailable,
        Self::Internal,
        Self::CsrfPrevented,
        Self::UnsupportedMediaType,
        Self::NotAcceptable,
        Self::PayloadTooLarge,
        Self::MethodNotAllowed,
        Self::HeadersTooLarge,
        Self::BatchTooLarge,
        Self::BatchingDisabled,
        Self::PersistedQueryNotFound,
        Self::PersistedQueryNotAllowed,
        Self::PersistedQueryNotSupported,
    ];

    /// The code as clients read it in `extensions.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::BadRequest => "BAD_REQUEST",
            Self::NotFound => "NOT_FOUND",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::Timeout => "TIMEOUT",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
            Self::CsrfPrevented => "CSRF_PREVENTED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::HeadersTooLarge => "HEADERS_TOO_LARGE",
            Self::BatchTooLarge => "BATCH_TOO_LARGE",
            Self::BatchingDisabled => "BATCHING_DISABLED",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
            Self::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
        }
    }

    /// The HTTP status of an answer refused with this error before any operation ran (a
    /// GraphQL request error under `application/json` is answered 200 instead, as the
    /// GraphQL-over-HTTP specification wants for older clients).
    pub const fn status(self) -> u16 {
        match self {
            Self::BadUserInput
            | Self::BadRequest
            | Self::QueryTooComplex
            | Self::CsrfPrevented
            | Self::BatchTooLarge
            | Self::BatchingDisabled
            | Self::PersistedQueryNotFound
            | Self::PersistedQueryNotAllowed
            | Self::PersistedQueryNotSupported => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::NotAcceptable => 406,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::HeadersTooLarge => 431,
            Self::Internal => 500,
            Self::ServiceUnavailable | Self::Timeout => 503,
        }
    }

    /// The code of an HTTP error answered with `status` by something that named none (the
    /// HTTP layer, a route's extractor).
    pub fn of_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            406 => Self::NotAcceptable,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            429 => Self::RateLimited,
            431 => Self::HeadersTooLarge,
            503 => Self::ServiceUnavailable,
            500..=599 => Self::Internal,
            _ => Self::BadRequest,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a service or resolver can fail with. Its `Display` is the message a client
/// reads (an internal error's cause is logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `BAD_USER_INPUT`: the client sent something malformed or out of range; the message
    /// names the argument and what is allowed.
    #[error("{message}")]
    BadUserInput { field: Option<String>, message: String },
    /// `NOT_FOUND`: a referenced object does not exist (queries answer `null` instead).
    #[error("{0}")]
    NotFound(String),
    /// `UNAUTHENTICATED`: no valid credentials for something that needs them.
    #[error("{0}")]
    Unauthenticated(String),
    /// `FORBIDDEN`: the caller may not see or do this.
    #[error("{0}")]
    Forbidden(String),
    /// `CONFLICT`: the request contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// `CONFLICT`: concurrent writers changed what the request read, and a retry may
    /// succeed (services retry it themselves before giving up with it).
    #[error("{0}")]
    Contended(String),
    /// `CONFLICT` with `extensions.currentVersion`: an `expectedVersion` that is not current.
    #[error("{message}")]
    Stale { message: String, current_version: i32 },
    /// `SERVICE_UNAVAILABLE`: the database cannot be reached right now; retry later.
    #[error("the database is unavailable; retry later")]
    ServiceUnavailable,
    /// `INTERNAL`: a bug or an unexpected database error; details are logged, never shown.
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// A `BAD_USER_INPUT` error about the argument `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput { field: Some(field.into()), message: message.into() }
    }

    /// The stable `extensions.code` of this error.
    pub const fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Conflict(_) | Self::Contended(_) | Self::Stale { .. } => ErrorCode::Conflict,
            Self::ServiceUnavailable => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status of this error where it is the whole answer (the bulk path).
    pub const fn status(&self) -> u16 {
        self.code().status()
    }
}

/// An error with `extensions.code` and more extension values.
pub fn coded_error(
    message: String,
    code: ErrorCode,
    extra: impl FnOnce(&mut async_graphql::ErrorExtensionValues),
) -> async_graphql::ServerError {
    let mut error = async_graphql::ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    extra(&mut extensions);
    error.extensions = Some(extensions);
    error.source = Some(std::sync::Arc::new(code));
    error
}

/// The code of an error this crate made (every `extensions.code` it writes travels with the
/// error as its typed source too); `None` for async-graphql's own errors (a document that
/// does not parse or validate), which the endpoint reports as `BAD_USER_INPUT`.
pub fn code_of(error: &async_graphql::ServerError) -> Option<ErrorCode> {
    error.source::<ErrorCode>().copied()
}

/// Whether `err` violates the unique index of `table` on `columns`: a write can violate
/// several, and each means something else to the client. PostgreSQL names the violated
/// index (the migrations call it `uq_<table>_<columns>`), and that name decides; SQLite
/// names no constraint, only the columns it failed on, so there they decide.
pub fn violates_unique(err: &DbErr, table: &str, columns: &[&str]) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::{Error as Sqlx, error::ErrorKind};
    let (DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = err else { return false };
    let Sqlx::Database(violation) = e.as_ref() else { return false };
    if violation.kind() != ErrorKind::UniqueViolation {
        return false;
    }
    match violation.constraint() {
        Some(index) => index == format!("uq_{table}_{}", columns.join("_")),
        None => {
            let failed = columns.iter().map(|c| format!("{table}.{c}")).collect::<Vec<_>>().join(", ");
            violation.message().ends_with(&format!("UNIQUE constraint failed: {failed}"))
        }
    }
}

/// Whether a database error means the database cannot serve right now (unreachable,
/// restarting, out of connections, a statement cancelled by its timeout) rather than a
/// bug: the request is answered `SERVICE_UNAVAILABLE`, and a retry later may succeed.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => e.as_ref(),
        _ => return false,
    };
    match sqlx {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::Protocol(_) => true,
        Sqlx::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: connection exceptions (08), query_canceled (57014, the statement
            // timeout), admin/crash shutdown and cannot_connect_now (57P0x), too many
            // connections (53300). SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6) after the
            // busy timeout.
            code.starts_with("08") || code.starts_with("57") || code == "53300" || code == "5" || code == "6"
        }),
        _ => false,
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::error!(error = %err, "database unavailable");
            Self::ServiceUnavailable
        } else {
            Self::Internal(err.into())
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(cause) = &err {
            // The cause chain goes to the log only: clients never see SQL or internals.
            tracing::error!(error = ?cause, "internal error");
        }
        let code = err.code();
        let field = match &err {
            ApiError::BadUserInput { field, .. } => field.clone(),
            _ => None,
        };
        let current_version = match &err {
            ApiError::Stale { current_version, .. } => Some(*current_version),
            _ => None,
        };
        let mut error = async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(field) = field {
                ext.set("field", field);
            }
            if let Some(version) = current_version {
                ext.set("currentVersion", version);
            }
        });
        error.source = Some(std::sync::Arc::new(code));
        error
    }
}

impl ApiError {
    /// For callers outside GraphQL (the CLI, seeds): the error with its cause.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::Internal(cause) => cause,
            other => anyhow::anyhow!("{}: {other}", other.code()),
        }
    }
}

/// Results of services and resolvers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_is_named_once() {
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(code.to_string(), code.as_str());
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }

    #[test]
    fn an_error_carries_its_code_as_its_typed_source() {
        let made = coded_error("slow down".into(), ErrorCode::RateLimited, |_| {});
        assert_eq!(code_of(&made), Some(ErrorCode::RateLimited));
        let converted = async_graphql::Error::from(ApiError::Conflict("busy".into()))
            .into_server_error(async_graphql::Pos::default());
        assert_eq!(code_of(&converted), Some(ErrorCode::Conflict));
        // async-graphql's own errors carry none: the endpoint names them BAD_USER_INPUT.
        assert_eq!(code_of(&async_graphql::ServerError::new("expected name", None)), None);
    }

    #[test]
    fn a_bare_status_gets_the_code_that_answers_with_it() {
        for code in [
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::NotAcceptable,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::RateLimited,
            ErrorCode::HeadersTooLarge,
            ErrorCode::ServiceUnavailable,
            ErrorCode::Internal,
        ] {
            assert_eq!(ErrorCode::of_status(code.status()), code);
        }
        assert_eq!(ErrorCode::of_status(400), ErrorCode::BadRequest);
        assert_eq!(ErrorCode::of_status(502), ErrorCode::Internal);
    }

    #[test]
    fn errors_show_their_message_and_hide_internal_causes() {
        let err = ApiError::bad_input("first", "`first` must be 0 to 100");
        assert_eq!(
            (err.to_string().as_str(), err.code(), err.status()),
            ("`first` must be 0 to 100", ErrorCode::BadUserInput, 400)
        );
        let err = ApiError::Internal(anyhow::anyhow!("SELECT secret FROM users"));
        assert_eq!(err.to_string(), "internal error");
        let graphql: async_graphql::Error = err.into();
        assert_eq!(graphql.message, "internal error");
        let err = ApiError::Contended("try again".into());
        assert_eq!((err.code(), err.status()), (ErrorCode::Conflict, 409));
    }
}
