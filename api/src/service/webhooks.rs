//! Webhooks: an association registers a URL and receives its change events in signed
//! batches, retried with exponential back-off until the receiver answers 2xx.
//!
//! All state is in the database, so any number of server processes can run the deliverer.
//! A batch is cut by moving the webhook's cursor with a compare-and-set that also requires
//! the webhook to have no pending delivery, so a webhook has at most one, and its receiver
//! gets batches in feed order. An attempt is claimed with a compare-and-set on the
//! delivery's status and attempt count that takes a short lease (`locked_until`) and
//! counts the attempt; its outcome is recorded only if that attempt still holds the
//! delivery. So a process that read a delivery before another one sent it cannot send it
//! again, and one whose lease ran out cannot overwrite a later attempt's outcome.
//!
//! The request: `POST url` with the JSON body
//! `{"deliveryId", "webhookId", "associationId", "events": [{cursor, entityType, entity, operation, at}]}`
//! and the headers `Interlib-Delivery: <deliveryId>` and
//! `Interlib-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
//! Receivers check the signature and that `t` is recent, and deduplicate by delivery id
//! (a delivery is retried with the same body and id).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{association, change_log, webhook, webhook_delivery};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::json;
use sha2::Sha256;

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::input::{Checks, MAX_URL, UserErrorCode};
use crate::domain::{DeliveryStatus, GlobalId, NodeKind};
use crate::error::{ApiError, ApiResult};
use crate::service::feed;
use crate::service::journal;
use crate::service::now;
use crate::service::people::{Outcome, refused};

/// Webhooks one association may register.
pub const MAX_WEBHOOKS: u64 = 10;

/// The signature header of a body sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn new_secret() -> String {
    let mut rng = fastrand::Rng::new();
    let bytes: Vec<u8> = (0..32).map(|_| rng.u8(..)).collect();
    format!("whsec_{}", hex::encode(bytes))
}

/// The caller may manage the webhooks of `association_id`: that association, or an admin.
fn authorize(viewer: &Viewer, association_id: i32) -> ApiResult<()> {
    crate::auth::policy::association_or_admin(viewer, association_id, "manage its webhooks", "webhooks need a token")
}

/// An address a webhook must not reach unless private networks are allowed: anything not
/// globally reachable by the IANA special-purpose registries, IPv4 embedded in IPv6
/// judged by the IPv4 address ([`crate::domain::public_ip`]).
pub fn is_private(ip: IpAddr) -> bool {
    !crate::domain::public_ip::is_public(ip)
}

/// Why `url` may not receive webhooks, if it may not: not http(s), or (unless private
/// networks are allowed) a private address or `localhost`. Host names are checked again
/// when they are resolved, at every delivery.
fn refuse_url(url: &str, allow_private_networks: bool) -> Option<&'static str> {
    let Ok(parsed) = reqwest::Url::parse(url) else { return Some("`url` must be an http or https URL") };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some("`url` must be an http or https URL");
    }
    let private = match parsed.host() {
        None => return Some("`url` must be an http or https URL"),
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    (private && !allow_private_networks).then_some("`url` must not point at a private or loopback address")
}

/// Where a webhook goes, and whether private networks are allowed (a setting).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub url: &'a str,
    pub allow_private_networks: bool,
}

/// Registers the target URL for the events of `association_id` (of `kinds`, all when
/// empty), from the entry after `after` (default: from now on). Returns the webhook, whose
/// `secret` is shown this once.
///
/// # Errors
/// `FORBIDDEN` for other callers, `NOT_FOUND` for an unknown association; a bad or private
/// URL, or too many webhooks, are user errors.
pub async fn register(
    db: &DatabaseConnection,
    viewer: &Viewer,
    association_id: i32,
    target: Target<'_>,
    kinds: &[NodeKind],
    after: Option<i64>,
) -> Outcome<webhook::Model> {
    authorize(viewer, association_id)?;
    let mut c = Checks::default();
    let url = c.required("url", target.url, MAX_URL);
    let Some(url) = url.filter(|_| c.ok()) else { return Ok(Err(c.errors)) };
    if let Some(problem) = refuse_url(&url, target.allow_private_networks) {
        return refused("url", UserErrorCode::Invalid, problem);
    }
    let txn = crate::db::begin_write(db).await?;
    if association::Entity::find_by_id(association_id).one(&txn).await?.is_none() {
        return Err(ApiError::NotFound("no such association".into()));
    }
    let existing =
        webhook::Entity::find().filter(webhook::Column::AssociationId.eq(association_id)).count(&txn).await?;
    if existing >= MAX_WEBHOOKS {
        return refused("associationId", UserErrorCode::NotAllowed, format!("at most {MAX_WEBHOOKS} webhooks"));
    }
    let cursor = match after {
        Some(after) => after,
        None => change_log::Entity::find()
            .select_only()
            .column_as(change_log::Column::Id.max(), "max")
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await?
            .flatten()
            .unwrap_or(0),
    };
    let at = now();
    let kinds: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    let model = webhook::ActiveModel {
        id: NotSet,
        association_id: Set(association_id),
        url: Set(url),
        secret: Set(new_secret()),
        entity_types: Set((!kinds.is_empty()).then(|| kinds.join(","))),
        active: Set(true),
        cursor: Set(cursor),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&txn)
    .await?;
    journal::audit(&txn, viewer, Action::RegisterWebhook, NodeKind::Webhook, model.id, json!({ "url": model.url }))
        .await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Deletes the webhook `id` with its deliveries.
///
/// # Errors
/// `FORBIDDEN` for callers who may not manage it; an unknown id is a user error.
pub async fn delete(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> Outcome<i32> {
    let txn = crate::db::begin_write(db).await?;
    let Some(hook) = webhook::Entity::find_by_id(id).one(&txn).await? else {
        return refused("webhookId", UserErrorCode::NotFound, "no such webhook");
    };
    if authorize(viewer, hook.association_id).is_err() {
        return refused("webhookId", UserErrorCode::NotFound, "no such webhook");
    }
    webhook::Entity::delete_by_id(id).exec(&txn).await?;
    journal::audit(&txn, viewer, Action::DeleteWebhook, NodeKind::Webhook, id, json!({ "url": hook.url })).await?;
    txn.commit().await?;
    Ok(Ok(id))
}

/// How the deliverer works.
#[derive(Debug, Clone)]
pub struct DelivererConfig {
    pub poll: Duration,
    pub retry_base: Duration,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub batch_size: u64,
    pub allow_private_networks: bool,
}

/// How the resolver refuses a name with no public address.
const PRIVATE_ONLY: &str = "resolves to private addresses only";

/// Resolves host names for deliveries, keeping public addresses only: a name that a
/// partner (or an attacker who controls its DNS) points at a private address later does
/// not reach the private network.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} {PRIVATE_ONLY}", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The delay before attempt `attempts + 1`: the base doubled per failed attempt, capped at
/// an hour, with up to 10% jitter so that receivers coming back are not hit all at once.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let capped = exp.min(Duration::from_secs(3600));
    capped + capped.mul_f64(fastrand::f64() * 0.1)
}

/// Runs the deliverer until the process ends: cut batches, send what is due, sleep.
pub async fn run(db: DatabaseConnection, config: DelivererConfig) {
    // Webhook URLs may be https: use the ring provider that the database driver already uses.
    crate::install_tls_provider();
    let client = match client(&config) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "webhook deliverer cannot start");
            return;
        }
    };
    loop {
        if let Err(err) = tick(&db, &client, &config).await {
            tracing::warn!(error = ?err, "webhook deliverer");
        }
        tokio::time::sleep(config.poll).await;
    }
}

/// The HTTP client deliveries go out with: no redirects followed, and (unless private
/// networks are allowed) only public addresses resolved.
///
/// # Errors
/// When the TLS backend cannot start.
pub fn client(config: &DelivererConfig) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(config.timeout).redirect(reqwest::redirect::Policy::none());
    if !config.allow_private_networks {
        builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
    }
    builder.build()
}

/// One round of the deliverer: cut new batches, then attempt what is due.
///
/// # Errors
/// Database errors.
pub async fn tick(db: &DatabaseConnection, client: &reqwest::Client, config: &DelivererConfig) -> ApiResult<()> {
    enqueue(db, config).await?;
    let sends = due(db).await?.into_iter().map(|d| attempt(db, client, config, d));
    for result in futures::future::join_all(sends).await {
        result?;
    }
    Ok(())
}

/// Deliveries due for an attempt now: pending, their time come, not leased (at most 20).
/// What another process does after this read is settled by [`attempt`]'s claim.
///
/// # Errors
/// Database errors.
pub async fn due(db: &DatabaseConnection) -> ApiResult<Vec<webhook_delivery::Model>> {
    let at = now();
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(at))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LockedUntil.is_null())
                .add(webhook_delivery::Column::LockedUntil.lt(at)),
        )
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(20)
        .all(db)
        .await?)
}

/// The ids of the webhooks with a pending delivery, as a subquery.
fn with_pending() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(webhook_delivery::Column::WebhookId)
        .from(webhook_delivery::Entity)
        .and_where(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .to_owned()
}

/// Cuts the next batch of every active webhook that has none pending.
async fn enqueue(db: &DatabaseConnection, config: &DelivererConfig) -> ApiResult<()> {
    // Skipping the webhooks with a pending delivery here only saves reading their feed:
    // `cut` decides, in the statement that moves the cursor.
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::Id.not_in_subquery(with_pending()))
        .all(db)
        .await?;
    for hook in hooks {
        cut(db, config, &hook).await?;
    }
    Ok(())
}

/// Cuts `hook`'s next batch, as read in `hook`, into a pending delivery; its id, or `None`
/// when there is nothing new, another process moved the cursor first, or the webhook has a
/// pending delivery (whoever read it when).
///
/// # Errors
/// Database errors.
pub async fn cut(db: &DatabaseConnection, config: &DelivererConfig, hook: &webhook::Model) -> ApiResult<Option<i64>> {
    let viewer = Viewer::Association { subject: format!("webhook:{}", hook.id), association_id: hook.association_id };
    let kinds: Vec<NodeKind> =
        hook.entity_types.as_deref().unwrap_or_default().split(',').filter_map(NodeKind::from_name).collect();
    let first = i32::try_from(config.batch_size).unwrap_or(100);
    let page = feed::read(db, &viewer, Some(hook.cursor), Some(first), &kinds).await?;
    let (Some(first), Some(last)) = (page.events.first(), page.events.last()) else { return Ok(None) };
    let txn = crate::db::begin_write(db).await?;
    // Compare-and-set in one statement: the cursor is where this batch starts, and no
    // delivery of the webhook is pending. (On PostgreSQL a concurrent cutter holds the
    // row until it commits, and the condition is then checked again on the new row.)
    let moved = webhook::Entity::update_many()
        .col_expr(webhook::Column::Cursor, Expr::value(last.id))
        .filter(webhook::Column::Id.eq(hook.id))
        .filter(webhook::Column::Cursor.eq(hook.cursor))
        .filter(webhook::Column::Id.not_in_subquery(with_pending()))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(None);
    }
    let at = now();
    let delivery = webhook_delivery::ActiveModel {
        id: NotSet,
        webhook_id: Set(hook.id),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        first_cursor: Set(first.id),
        last_cursor: Set(last.id),
        event_count: Set(crate::domain::counts::to_i32(page.events.len())),
        payload: Set(String::new()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        locked_until: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        delivered_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let events: Vec<_> = page
        .events
        .iter()
        .map(|e| {
            json!({
                "cursor": feed::cursor(e.id),
                "entityType": e.entity_type,
                "entity": e.entity_id,
                "operation": e.operation,
                "at": e.at,
            })
        })
        .collect();
    let payload = json!({
        "deliveryId": GlobalId::encode(NodeKind::WebhookDelivery, delivery.id),
        "webhookId": GlobalId::encode(NodeKind::Webhook, hook.id),
        "associationId": GlobalId::encode(NodeKind::Association, hook.association_id),
        "events": events,
    });
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Payload, Expr::value(payload.to_string()))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Some(delivery.id))
}

/// Claims and sends one delivery as read in `delivery`, then records what happened. The
/// claim holds only if the delivery is still pending at the same attempt count and not
/// leased: otherwise another process has sent it (or is sending it) since, and nothing is
/// sent.
///
/// # Errors
/// Database errors.
pub async fn attempt(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    config: &DelivererConfig,
    delivery: webhook_delivery::Model,
) -> ApiResult<()> {
    let at = now();
    let lease = chrono::Duration::from_std(config.timeout + Duration::from_secs(5)).unwrap_or_default();
    let claimed = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(Some(at + lease)))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(delivery.attempts + 1))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(at))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LockedUntil.is_null())
                .add(webhook_delivery::Column::LockedUntil.lt(at)),
        )
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(());
    }
    let Some(hook) = webhook::Entity::find_by_id(delivery.webhook_id).one(db).await? else { return Ok(()) };
    if let Some(problem) = refuse_url(&hook.url, config.allow_private_networks) {
        // The URL was accepted under other settings: record why it is not sent to.
        let message = problem.replace("`url` must", "the URL must");
        return finish(db, config, &delivery, None, Some(message)).await;
    }
    let result = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("user-agent", "Interlib-Webhooks/1")
        .header("interlib-delivery", GlobalId::encode(NodeKind::WebhookDelivery, delivery.id))
        .header("interlib-signature", signature(&hook.secret, Utc::now().timestamp(), &delivery.payload))
        .body(delivery.payload.clone())
        .send()
        .await;
    let (code, error) = match result {
        Ok(res) if res.status().is_success() => (Some(res.status().as_u16()), None),
        Ok(res) => (Some(res.status().as_u16()), Some(format!("the receiver answered {}", res.status()))),
        Err(err) => (None, Some(describe(&err))),
    };
    finish(db, config, &delivery, code, error).await
}

/// Records the outcome of the attempt that claimed `delivery` (its attempt count then):
/// delivered, to be retried after a back-off, or failed for good. Nothing is recorded if a
/// later attempt holds the delivery (this one's lease ran out).
async fn finish(
    db: &DatabaseConnection,
    config: &DelivererConfig,
    delivery: &webhook_delivery::Model,
    code: Option<u16>,
    error: Option<String>,
) -> ApiResult<()> {
    let attempts = delivery.attempts + 1;
    let done = now();
    let (status, next, delivered): (DeliveryStatus, DateTime<Utc>, Option<DateTime<Utc>>) = match &error {
        None => (DeliveryStatus::Succeeded, done, Some(done)),
        Some(_) if u32::try_from(attempts).unwrap_or(u32::MAX) >= config.max_attempts => {
            (DeliveryStatus::Failed, done, None)
        }
        Some(_) => {
            let wait = backoff(config.retry_base, u32::try_from(attempts).unwrap_or(1));
            (DeliveryStatus::Pending, done + chrono::Duration::from_std(wait).unwrap_or_default(), None)
        }
    };
    if let Some(error) = &error {
        tracing::info!(delivery = delivery.id, attempts, error, "webhook delivery failed");
    }
    let recorded = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status.as_str()))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(webhook_delivery::Column::LastStatusCode, Expr::value(code.map(i32::from)))
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(error.map(|e| e.chars().take(500).collect::<String>())),
        )
        .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(delivered))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(attempts))
        .exec(db)
        .await?;
    if recorded.rows_affected != 1 {
        tracing::warn!(delivery = delivery.id, attempts, "a later attempt holds the delivery: outcome not recorded");
    }
    Ok(())
}

/// A transport error in words, without the URL's query string (which may hold a token).
fn describe(err: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.to_string().contains(PRIVATE_ONLY) {
            return "the receiver's host name resolves to private addresses only".to_owned();
        }
        source = cause.source();
    }
    if err.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else if err.is_connect() {
        "could not connect to the receiver".to_owned()
    } else {
        "the request to the receiver failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_and_body() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, "{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn private_and_loopback_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.0.1/",
            "http://169.254.169.254/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::1]/",
            "http://[fec0::1]/",
            "http://198.18.0.1/",
            "http://240.0.0.1/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
            "http://[2001:db8::1]/",
            "http://localhost/",
            "http://api.localhost./",
        ] {
            assert!(refuse_url(url, false).is_some(), "{url}");
            assert!(refuse_url(url, true).is_none(), "{url}");
        }
        for url in ["https://partner.example.org/hook", "http://8.8.8.8/", "http://[2606:4700:4700::1111]/"] {
            assert!(refuse_url(url, false).is_none(), "{url}");
        }
    }

    #[tokio::test]
    async fn delivery_lookups_drop_private_addresses() {
        use reqwest::dns::Resolve;
        // `localhost` resolves (from /etc/hosts) to loopback addresses only.
        let name: reqwest::dns::Name = "localhost".parse().expect("a name");
        assert!(PublicOnly.resolve(name).await.is_err());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(1);
        assert!(backoff(base, 1) >= Duration::from_secs(1) && backoff(base, 1) < Duration::from_millis(1101));
        assert!(backoff(base, 3) >= Duration::from_secs(4));
        assert!(backoff(base, 30) <= Duration::from_secs(3960));
    }
}
