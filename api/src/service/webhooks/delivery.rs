//! Delivering webhooks: the deliverer cuts batches from the change log, claims and sends
//! them, and records their outcome (the rules are in the module above).

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{webhook, webhook_delivery};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::{DeliveryStatus, GlobalId, NodeKind};
use crate::error::ApiResult;
use crate::service::feed;
use crate::service::now;

use super::{is_private, refuse_url, signature};

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
    let first = crate::domain::counts::to_i32(config.batch_size);
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
