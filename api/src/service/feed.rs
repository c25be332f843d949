//! The change feed: the change log read in order, filtered by the reader's rights.
//!
//! Entries become visible in id order (writers hold the feed lock until they commit, see
//! `journal`), so a reader that keeps the last id it saw and asks for what comes after
//! never misses an entry and never reads one twice.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entities::change_log;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::{Viewer, policy};
use crate::domain::NodeKind;
use crate::error::{ApiError, ApiResult};
use crate::service::filters::scoped;

/// Most events one read returns.
pub const MAX_EVENTS: u64 = 1_000;
/// Events a read returns when the caller does not say.
pub const DEFAULT_EVENTS: u64 = 100;

/// The opaque cursor of the entry `id`.
pub fn cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("change:{id}"))
}

/// The entry id of a cursor given in the argument `field`.
///
/// # Errors
/// `BAD_USER_INPUT` when it is not a cursor of the feed.
pub fn decode_cursor(field: &str, cursor: &str) -> ApiResult<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("change:").and_then(|id| id.parse::<i64>().ok()))
        .filter(|id| *id >= 0)
        .ok_or_else(|| ApiError::bad_input(field, format!("`{field}` is not a cursor of the change feed")))
}

/// One read of the feed.
#[derive(Debug)]
pub struct FeedPage {
    pub events: Vec<change_log::Model>,
    /// Whether more events were already there when this page was read.
    pub has_more: bool,
}

/// The entries after `after` (from the start when `None`) that `viewer` may follow, of the
/// given kinds (all when empty), oldest first.
///
/// # Errors
/// `BAD_USER_INPUT` for a page size out of range; database errors.
pub async fn read<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    after: Option<i64>,
    first: Option<i32>,
    kinds: &[NodeKind],
) -> ApiResult<FeedPage> {
    let first = match first {
        None => DEFAULT_EVENTS,
        Some(n) if n >= 1 && u64::try_from(n).is_ok_and(|n| n <= MAX_EVENTS) => u64::try_from(n).unwrap_or(1),
        Some(_) => return Err(ApiError::bad_input("first", format!("`first` must be between 1 and {MAX_EVENTS}"))),
    };
    let mut select = scoped(change_log::Entity::find(), policy::changes(viewer))
        .filter(change_log::Column::Id.gt(after.unwrap_or(0)));
    if !kinds.is_empty() {
        select = select.filter(change_log::Column::EntityType.is_in(kinds.iter().map(|k| k.name())));
    }
    let mut events = select.order_by_asc(change_log::Column::Id).limit(first + 1).all(db).await?;
    let has_more = events.len() as u64 > first;
    events.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok(FeedPage { events, has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode_cursor("after", &cursor(42)).ok(), Some(42));
        assert!(decode_cursor("after", "bm9wZToxMg").is_err());
        assert!(decode_cursor("after", "!!").is_err());
    }
}
