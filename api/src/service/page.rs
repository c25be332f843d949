//! Keyset (cursor) pagination in SQL.
//!
//! A page is `ORDER BY k1, ..., id LIMIT n + 1` with a `WHERE (k1, ..., id) > cursor`
//! condition spelled out as `k1 > a OR (k1 = a AND k2 > b) ...`, which both databases can
//! answer from an index on the same columns. There is no OFFSET anywhere: the cost of a page
//! does not grow with its position. Cursors are opaque (`base64url` JSON of the ordering name
//! and the key values of the row) and are rejected if they were made for another ordering.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};
use serde_json::{Value as Json, json};

use crate::error::{ApiError, ApiResult};

/// Type of one key column, to turn cursor JSON back into a typed SQL value.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    Int,
    Text,
    Time,
}

/// One key value of a row, as it goes into a cursor.
pub fn time_key(t: &DateTime<Utc>) -> Json {
    Json::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// A sort order over an entity: key columns (the last one unique, usually the primary key)
/// and how to read their values from a row.
pub struct Ordering<E: EntityTrait> {
    /// Name written into cursors, e.g. `NAME_ASC`.
    pub name: String,
    pub columns: Vec<(E::Column, KeyKind)>,
    pub descending: bool,
    pub keys: fn(&E::Model) -> Vec<Json>,
}

/// `first`/`after`/`last`/`before` as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Page size limits from the settings.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default_size: u64,
    pub max_size: u64,
}

/// One page of rows with their cursors.
#[derive(Debug)]
pub struct Page<M> {
    pub rows: Vec<(String, M)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<M: Clone> Page<M> {
    /// The rows of the page, without cursors.
    pub fn models(&self) -> Vec<M> {
        self.rows.iter().map(|(_, m)| m.clone()).collect()
    }
}

struct Window {
    limit: u64,
    backward: bool,
}

impl PageArgs {
    fn window(&self, limits: PageLimits) -> ApiResult<Window> {
        let check = |field: &str, n: i32| -> ApiResult<u64> {
            u64::try_from(n).ok().filter(|n| *n <= limits.max_size).ok_or_else(|| {
                ApiError::bad_input(field, format!("`{field}` must be between 0 and {}, got {n}", limits.max_size))
            })
        };
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(ApiError::bad_input("last", "pass either `first` or `last`, not both")),
            (Some(first), None) => Ok(Window { limit: check("first", first)?, backward: false }),
            (None, Some(last)) => Ok(Window { limit: check("last", last)?, backward: true }),
            (None, None) => Ok(Window { limit: limits.default_size, backward: false }),
        }
    }
}

/// Encodes the cursor of a row.
fn encode_cursor(ordering: &str, keys: Vec<Json>) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "o": ordering, "k": keys }).to_string())
}

/// Decodes a cursor given in `field`, checking that it belongs to `ordering`.
fn decode_cursor<E: EntityTrait>(field: &str, cursor: &str, ordering: &Ordering<E>) -> ApiResult<Vec<Value>> {
    let invalid = || ApiError::bad_input(field, format!("`{field}` is not a valid cursor for this list and order"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let parsed: Json = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if parsed.get("o").and_then(Json::as_str) != Some(ordering.name.as_str()) {
        return Err(invalid());
    }
    let keys = parsed.get("k").and_then(Json::as_array).ok_or_else(invalid)?;
    if keys.len() != ordering.columns.len() {
        return Err(invalid());
    }
    keys.iter()
        .zip(&ordering.columns)
        .map(|(key, (_, kind))| match kind {
            KeyKind::Int => key.as_i64().and_then(|v| i32::try_from(v).ok()).map(Value::from).ok_or_else(invalid),
            KeyKind::Text => key.as_str().map(|s| Value::from(s.to_owned())).ok_or_else(invalid),
            KeyKind::Time => key
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| Value::from(t.with_timezone(&Utc)))
                .ok_or_else(invalid),
        })
        .collect()
}

/// `(k1, k2, ...) > values` (or `<`) as a portable condition.
fn beyond<E: EntityTrait>(columns: &[(E::Column, KeyKind)], values: &[Value], greater: bool) -> Condition {
    let mut any = Condition::any();
    for i in 0..columns.len() {
        let mut all = Condition::all();
        for j in 0..i {
            all = all.add(columns[j].0.eq(values[j].clone()));
        }
        let (column, _) = columns[i];
        let value = values[i].clone();
        all = all.add(if greater { column.gt(value) } else { column.lt(value) });
        any = any.add(all);
    }
    any
}

/// Fetches one page of `select` in `ordering`.
///
/// # Errors
/// `BAD_USER_INPUT` for out-of-range sizes or foreign cursors; database errors.
pub async fn paginate<E, C>(
    db: &C,
    select: Select<E>,
    ordering: &Ordering<E>,
    args: &PageArgs,
    limits: PageLimits,
) -> ApiResult<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let window = args.window(limits)?;
    let mut select = select;
    // "after" is further along the sort order; for a descending order that means smaller.
    if let Some(after) = &args.after {
        let values = decode_cursor("after", after, ordering)?;
        select = select.filter(beyond::<E>(&ordering.columns, &values, !ordering.descending));
    }
    if let Some(before) = &args.before {
        let values = decode_cursor("before", before, ordering)?;
        select = select.filter(beyond::<E>(&ordering.columns, &values, ordering.descending));
    }
    if window.limit == 0 {
        return Ok(Page { rows: Vec::new(), has_next_page: false, has_previous_page: false });
    }
    let ascending_in_sql = ordering.descending == window.backward;
    let order = if ascending_in_sql { Order::Asc } else { Order::Desc };
    for (column, _) in &ordering.columns {
        select = select.order_by(*column, order.clone());
    }
    let mut models = select.limit(window.limit + 1).all(db).await?;
    let more = models.len() as u64 > window.limit;
    models.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    if window.backward {
        models.reverse();
    }
    let rows = models.into_iter().map(|m| (encode_cursor(&ordering.name, (ordering.keys)(&m)), m)).collect();
    Ok(if window.backward {
        Page { rows, has_next_page: args.before.is_some(), has_previous_page: more }
    } else {
        Page { rows, has_next_page: more, has_previous_page: args.after.is_some() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits { default_size: 20, max_size: 100 };

    #[test]
    fn page_sizes_are_checked() {
        let args = |first, last| PageArgs { first, last, ..PageArgs::default() };
        assert_eq!(args(None, None).window(LIMITS).map(|w| w.limit).ok(), Some(20));
        assert_eq!(args(Some(100), None).window(LIMITS).map(|w| w.limit).ok(), Some(100));
        let err = args(Some(1000), None).window(LIMITS).err().expect("too large");
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert!(args(Some(-1), None).window(LIMITS).is_err());
        assert!(args(Some(1), Some(1)).window(LIMITS).is_err());
        assert!(args(None, Some(5)).window(LIMITS).map(|w| w.backward).unwrap_or(false));
    }
}
