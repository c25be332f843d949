//! GraphQL subscriptions over WebSocket (`GET /graphql` with an upgrade, or
//! `/graphql/ws`), in the graphql-transport-ws protocol (and the older graphql-ws, for
//! clients that still speak it).
//!
//! The caller authenticates once, in the `connection_init` payload:
//! `{ "Authorization": "Bearer <token>" }` (browsers cannot set headers on a WebSocket).
//! A refused token closes the connection before any subscription starts (with 1002 and
//! the reason: async-graphql's choice, where the protocol's text suggests 4403); no
//! payload, or one without a token, means anonymous. Each subscription is charged its
//! complexity when it starts, to the caller's budget (`RATE_LIMITED` when it does not fit). Each subscription is then filtered by that caller's policy.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::Data;
use async_graphql_actix_web::GraphQLSubscription;

use super::HttpState;
use crate::auth::{Viewer, authenticate};
use crate::error::ApiError;
use crate::graphql::guard::{Meter, RateClient};
use crate::graphql::loaders::Loaders;

/// The token of a `connection_init` payload, under `Authorization` (any case) or `token`.
fn bearer(payload: &serde_json::Value) -> Option<String> {
    let map = payload.as_object()?;
    map.iter().find_map(|(key, value)| {
        let value = value.as_str()?;
        if key.eq_ignore_ascii_case("authorization") {
            Some(value.to_owned())
        } else if key == "token" {
            Some(format!("Bearer {value}"))
        } else {
            None
        }
    })
}

/// Upgrades to a WebSocket and serves subscriptions on it.
///
/// # Errors
/// Not a WebSocket handshake, or no protocol both sides speak.
pub async fn connect(
    state: web::Data<HttpState>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    if !state.health.is_up() {
        return Ok(super::graphql::unavailable());
    }
    // The client's address, for the budget of an anonymous connection.
    let anonymous = super::graphql::rate_client(&state, &req, None);
    let state = state.into_inner();
    let init_state = state.clone();
    GraphQLSubscription::new(state.schema.clone())
        .on_connection_init(move |payload| async move {
            let header = bearer(&payload);
            let viewer = match authenticate(&init_state.db, &init_state.keys, header.as_deref()).await {
                Ok(viewer) => Arc::new(viewer),
                Err(ApiError::Unauthenticated(message)) => {
                    return Err(async_graphql::Error::new(format!("unauthenticated: {message}")));
                }
                Err(err) => return Err(async_graphql::Error::from(err)),
            };
            let mut data = Data::default();
            data.insert(Loaders::uncached(&init_state.db, &viewer, init_state.page_limits));
            // Each subscription is charged its complexity when it starts, to the same
            // budget as the caller's queries.
            data.insert(RateClient::of_viewer(&viewer).unwrap_or(anonymous));
            data.insert(Arc::new(Meter::default()));
            data.insert::<Arc<Viewer>>(viewer);
            Ok(data)
        })
        .start(&req, payload)
}
