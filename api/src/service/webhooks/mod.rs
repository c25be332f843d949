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

use std::net::IpAddr;

use entities::{association, change_log, webhook};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde_json::json;
use sha2::Sha256;

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::NodeKind;
use crate::domain::input::{Checks, MAX_URL, UserErrorCode};
use crate::error::{ApiError, ApiResult};
use crate::service::journal;
use crate::service::now;
use crate::service::people::{Outcome, refused};

mod delivery;

pub use delivery::{DelivererConfig, attempt, backoff, client, cut, due, run, tick};

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
}
