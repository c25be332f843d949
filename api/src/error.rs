//! The one error type at the API edge, and its mapping to `extensions.code`.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// Everything a resolver can fail with. Each variant has a stable `extensions.code`.
#[derive(Debug)]
pub enum ApiError {
    /// `BAD_USER_INPUT`: the client sent something malformed or out of range; the message
    /// names the argument and what is allowed.
    BadUserInput { field: Option<String>, message: String },
    /// `NOT_FOUND`: a referenced object does not exist (queries answer `null` instead).
    NotFound(String),
    /// `UNAUTHENTICATED`: no valid credentials for something that needs them.
    Unauthenticated(String),
    /// `FORBIDDEN`: the caller may not see or do this.
    Forbidden(String),
    /// `CONFLICT`: the request contradicts the current state.
    Conflict(String),
    /// `CONFLICT` with `extensions.currentVersion`: an `expectedVersion` that is not current.
    Stale { message: String, current_version: i32 },
    /// `SERVICE_UNAVAILABLE`: the database cannot be reached right now; retry later.
    ServiceUnavailable,
    /// `INTERNAL`: a bug or an unexpected database error; details are logged, never shown.
    Internal(anyhow::Error),
}

impl ApiError {
    /// A `BAD_USER_INPUT` error about the argument `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput { field: Some(field.into()), message: message.into() }
    }

    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Conflict(_) | Self::Stale { .. } => "CONFLICT",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::BadUserInput { message, .. } | Self::Stale { message, .. } => message.clone(),
            Self::NotFound(m) | Self::Unauthenticated(m) | Self::Forbidden(m) | Self::Conflict(m) => m.clone(),
            Self::ServiceUnavailable => "the database is unavailable; retry later".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
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
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
            if let Some(version) = current_version {
                ext.set("currentVersion", version);
            }
        })
    }
}

impl ApiError {
    /// For callers outside GraphQL (the CLI, seeds): the error with its cause.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::Internal(cause) => cause,
            other => anyhow::anyhow!("{}: {}", other.code(), other.message()),
        }
    }
}

/// Results of services and resolvers.
pub type ApiResult<T> = Result<T, ApiError>;
