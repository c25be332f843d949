//! GraphQL subscriptions over WebSocket (`GET /graphql` with an upgrade, or
//! `/graphql/ws`), in the graphql-transport-ws protocol (and the older graphql-ws, for
//! clients that still speak it).
//!
//! The caller authenticates once, in the `connection_init` payload:
//! `{ "Authorization": "Bearer <token>" }` (browsers cannot set headers on a WebSocket).
//! A refused token closes the connection before any subscription starts (with 1002 and
//! the reason: async-graphql's choice, where the protocol's text suggests 4403); no
//! payload, or one without a token, means anonymous. Each subscription is charged its
//! complexity when it starts, to the caller's budget (`RATE_LIMITED` when it does not
//! fit), and is then filtered by that caller's policy.
//!
//! A connection outlives no revocation: before every event, and every
//! `subscription_recheck_ms` while none comes, the caller's token is resolved again as a
//! request's would be (expiry, an erased librarian, an ambassador whose term ended, a
//! removed association). A caller who is gone, or whose rights changed since the
//! connection began (a librarian's partners, say), has the socket closed with 4403 and the
//! reason instead of the event; a client connects again to get its current rights. The
//! server also pings every few seconds and closes a connection that stopped answering.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket, WebSocketProtocols, WsMessage};
use futures::StreamExt;

use super::HttpState;
use crate::auth::{Viewer, authenticate};
use crate::error::ApiError;
use crate::graphql::guard::{Meter, RateClient};
use crate::graphql::loaders::Loaders;

/// The graphql-transport-ws close code for a caller who may no longer subscribe.
const FORBIDDEN: u16 = 4403;
/// How often the server pings, and how long a silent client is kept.
const HEARTBEAT: Duration = Duration::from_secs(5);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest message a client may send (a subscription document and its variables).
const MAX_FRAME: usize = 256 * 1024;

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

/// The protocol of a handshake: the first one the client offers that the server speaks.
fn protocol_of(req: &HttpRequest) -> Option<WebSocketProtocols> {
    let offered = req.headers().get("sec-websocket-protocol")?.to_str().ok()?;
    offered.split(',').find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

/// The connection's caller, checked again while it lives.
struct Caller {
    state: Arc<HttpState>,
    /// The `Authorization` value the connection authenticated with, and who it named;
    /// `None` while anonymous.
    token: Mutex<Option<(String, Arc<Viewer>)>>,
}

impl Caller {
    /// Why the caller may no longer receive events, if they may not: their token no
    /// longer authenticates, or names a caller with other rights than at the start. A
    /// database that does not answer is not a revocation.
    async fn revoked(&self) -> Option<String> {
        let (header, viewer) = self.token.lock().ok()?.clone()?;
        match authenticate(&self.state.db, &self.state.keys, Some(&header)).await {
            Err(ApiError::Unauthenticated(reason)) => Some(reason),
            Ok(now) if now != *viewer => Some("the caller's rights changed; connect again".to_owned()),
            _ => None,
        }
    }
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
    let Some(protocol) = protocol_of(&req) else {
        return Ok(super::graphql::error_response(
            crate::error::ErrorCode::BadRequest,
            "a GraphQL WebSocket needs the graphql-transport-ws (or graphql-ws) subprotocol",
        ));
    };
    // The client's address, for the budget of an anonymous connection.
    let anonymous = super::graphql::rate_client(&state, &req, None);
    let (response, session, messages) = actix_ws::handle_with_protocols(&req, payload, &ALL_WEBSOCKET_PROTOCOLS)?;
    let caller = Arc::new(Caller { state: state.into_inner(), token: Mutex::new(None) });
    actix_web::rt::spawn(serve(caller, anonymous, protocol, session, messages));
    Ok(response)
}

/// Whether a server message carries an event (`next` in graphql-transport-ws, `data` in
/// graphql-ws), rather than an acknowledgement, a pong or a completion.
fn is_event(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|message| message.get("type").and_then(|t| t.as_str()).map(|t| t == "next" || t == "data"))
        .unwrap_or(false)
}

/// The close of a revoked caller's connection.
fn forbidden(reason: &str) -> CloseReason {
    CloseReason { code: CloseCode::from(FORBIDDEN), description: Some(format!("Forbidden: {reason}")) }
}

/// What the client sends, as the bytes async-graphql reads: text and binary frames pass,
/// pings are answered here, and every frame counts as the client being heard.
fn client_input(
    messages: actix_ws::MessageStream,
    session: &Session,
    heard: &Arc<Mutex<Instant>>,
) -> futures::stream::LocalBoxStream<'static, web::Bytes> {
    let (heard, session) = (heard.clone(), session.clone());
    messages
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .take_while(|m| {
            std::future::ready(matches!(
                m,
                Ok(AggregatedMessage::Text(_) | AggregatedMessage::Binary(_) | AggregatedMessage::Ping(_))
                    | Ok(AggregatedMessage::Pong(_))
            ))
        })
        .filter_map(move |message| {
            if let Ok(mut at) = heard.lock() {
                *at = Instant::now();
            }
            let mut session = session.clone();
            async move {
                match message {
                    Ok(AggregatedMessage::Text(text)) => Some(text.into_bytes()),
                    Ok(AggregatedMessage::Binary(bytes)) => Some(bytes),
                    Ok(AggregatedMessage::Ping(bytes)) => {
                        let _ = session.pong(&bytes).await;
                        None
                    }
                    _ => None,
                }
            }
        })
        .boxed_local()
}

/// The request data of a connection, from its `connection_init` payload: the caller
/// (remembered for the rechecks), their loaders and their budget.
async fn connection_data(
    caller: Arc<Caller>,
    anonymous: RateClient,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let header = bearer(&payload);
    let state = &caller.state;
    let viewer = match authenticate(&state.db, &state.keys, header.as_deref()).await {
        Ok(viewer) => Arc::new(viewer),
        Err(ApiError::Unauthenticated(message)) => {
            return Err(async_graphql::Error::new(format!("unauthenticated: {message}")));
        }
        Err(err) => return Err(async_graphql::Error::from(err)),
    };
    if let Some(header) = header.filter(|_| !matches!(*viewer, Viewer::Anonymous))
        && let Ok(mut slot) = caller.token.lock()
    {
        *slot = Some((header, viewer.clone()));
    }
    let mut data = Data::default();
    data.insert(Loaders::uncached(&state.reader(), &viewer, state.page_limits));
    // Each subscription is charged its complexity when it starts, to the same budget as
    // the caller's queries.
    data.insert(RateClient::of_viewer(&viewer).unwrap_or(anonymous));
    data.insert(Arc::new(Meter::default()));
    data.insert::<Arc<Viewer>>(viewer);
    Ok(data)
}

/// Runs one connection until either side closes it or the caller is revoked.
async fn serve(
    caller: Arc<Caller>,
    anonymous: RateClient,
    protocol: WebSocketProtocols,
    mut session: Session,
    messages: actix_ws::MessageStream,
) {
    let heard = Arc::new(Mutex::new(Instant::now()));
    let input = client_input(messages, &session, &heard);
    let init_caller = caller.clone();
    let mut graphql = WebSocket::new(caller.state.schema.clone(), input, protocol)
        .on_connection_init(move |payload| connection_data(init_caller, anonymous, payload))
        .boxed_local();
    let every = Duration::from_millis(caller.state.subscription_recheck_ms.max(10));
    let mut recheck = tokio::time::interval(every);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let close = loop {
        tokio::select! {
            message = graphql.next() => match message {
                Some(WsMessage::Text(text)) => {
                    // Every event (`next`) goes out on a fresh check of the caller.
                    if is_event(&text)
                        && let Some(reason) = caller.revoked().await
                    {
                        break Some(forbidden(&reason));
                    }
                    if session.text(text).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    break Some(CloseReason { code: CloseCode::from(code), description: Some(reason) });
                }
                None => break None,
            },
            _ = recheck.tick() => {
                if let Some(reason) = caller.revoked().await {
                    break Some(forbidden(&reason));
                }
            }
            _ = heartbeat.tick() => {
                let silent = heard.lock().map(|at| at.elapsed() > CLIENT_TIMEOUT).unwrap_or(false);
                if silent || session.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    // Dropping the GraphQL stream ends its subscriptions.
    drop(graphql);
    let _ = session.close(close).await;
}
