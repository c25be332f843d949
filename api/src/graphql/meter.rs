//! What the guard measured of one request, shared with the HTTP handler that reads it
//! for headers, status codes and metrics, and the key the request's cost is charged to.

use std::sync::Mutex;

use async_graphql::parser::types::OperationType;

use crate::ratelimit::RateStatus;

/// The key the cost of a request is charged to: the caller's token subject, or the
/// client address for anonymous requests.
#[derive(Debug, Clone)]
pub struct RateClient(pub String);

impl RateClient {
    /// The budget of a token's subject (role and subject: the same subject under two roles
    /// spends two budgets); `None` for anonymous callers, who are known by address.
    pub fn of_viewer(viewer: &crate::auth::Viewer) -> Option<Self> {
        viewer.subject().map(|subject| Self(format!("{:?}:{subject}", viewer.role())))
    }
}

/// What the guard measured of one request.
#[derive(Debug, Clone, Default)]
pub struct Measure {
    /// The operation that ran (or was asked for), when named.
    pub operation_name: Option<String>,
    pub operation_type: Option<OperationType>,
    /// The request failed before execution (parsing, validation, a limit, the budget):
    /// the response has no `data`.
    pub request_error: bool,
    pub depth: usize,
    pub complexity: usize,
    /// The operation's root fields as `(response key, field name)`, aliases resolved.
    pub root_fields: Vec<(String, String)>,
    /// The state of the client's budget after this request was charged.
    pub rate: Option<RateStatus>,
}

/// Shared between the guard and the HTTP handler of one request.
#[derive(Debug, Default)]
pub struct Meter(Mutex<Measure>);

impl Meter {
    /// A copy of what was measured so far.
    pub fn measure(&self) -> Measure {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Measure)) {
        if let Ok(mut measure) = self.0.lock() {
            f(&mut measure);
        }
    }
}
