//! Cells of rows: each column decoded by the driver, or, for the fixed-size values of
//! PostgreSQL's binary format, read directly (see [`Cell`]). [`super::rows`] reads models
//! from these.

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat};
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::sqlx::{Column, Decode, Postgres, Row, Sqlite, Type, ValueRef};
use sea_orm::{DbErr, QueryResult};

/// A row the models are read from: SeaORM's, or the driver's own on the direct path.
pub trait Cells {
    /// Column `at`, decoded by the driver (its type checked against the column's when
    /// `checked`).
    ///
    /// # Errors
    /// A value of the wrong type, or `NULL` in a column that cannot hold it.
    fn cell<T: Cell>(&self, at: usize, checked: bool) -> Result<T, DbErr>;

    /// Whether column `at` is `NULL` (or missing).
    fn null_at(&self, at: usize) -> bool;

    /// The names of the columns.
    fn names(&self) -> Vec<String>;
}

/// A field's type, decoded by the driver itself: `NULL` becomes `None` there (SeaORM's
/// path formats an error message for every `NULL` before turning it into `None`).
pub trait Cell: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + Sized {
    /// Column `at` of a PostgreSQL row (its type checked against the column's when
    /// `checked`).
    ///
    /// # Errors
    /// A value of the wrong type, or `NULL` in a column that cannot hold it.
    fn from_pg(row: &PgRow, at: usize, checked: bool) -> Result<Self, sea_orm::sqlx::Error>;
}

/// The driver's own decoding, through its `Decode` for PostgreSQL.
fn driver<T>(row: &PgRow, at: usize, checked: bool) -> Result<T, sea_orm::sqlx::Error>
where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    if checked { row.try_get(at) } else { row.try_get_unchecked(at) }
}

/// Implements [`Cell`] with the driver's decoding.
macro_rules! driver_cells {
    ($($ty:ty),+ $(,)?) => {$(
        impl Cell for $ty {
            fn from_pg(row: &PgRow, at: usize, checked: bool) -> Result<Self, sea_orm::sqlx::Error> {
                driver(row, at, checked)
            }
        }
    )+};
}

driver_cells!(String, Option<String>, serde_json::Value);

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A timestamp as PostgreSQL sends it in binary (microseconds since its epoch, for
/// `timestamptz` and `timestamp` alike), read as the driver reads it but directly: the
/// driver adds a `Duration` to its epoch, which costs hundreds of instructions a value.
pub fn timestamp_from_pg(micros: i64) -> Option<DateTime<Utc>> {
    micros.checked_add(POSTGRES_EPOCH_MICROS).and_then(DateTime::from_timestamp_micros)
}

/// Column `at` in PostgreSQL's binary format: `Some(None)` for `NULL`; `None` where only
/// the driver can tell (the text format, and the first row, whose types the driver checks).
fn binary(row: &PgRow, at: usize, checked: bool) -> Option<Option<&[u8]>> {
    if checked {
        return None;
    }
    let value = row.try_get_raw(at).ok()?;
    if value.is_null() {
        return Some(None);
    }
    if value.format() != PgValueFormat::Binary {
        return None;
    }
    value.as_bytes().ok().map(Some)
}

/// Implements [`Cell`] for fixed-size values read from PostgreSQL's binary format as the
/// driver reads them, without its generic steps (a quarter of the cost of the rows on the
/// read path went to decoding integers and timestamps); anything unusual (the first row,
/// the text format, a value of an unexpected size or out of range) goes to the driver.
macro_rules! binary_cells {
    ($($ty:ty => $read:expr),+ $(,)?) => {$(
        impl Cell for $ty {
            fn from_pg(row: &PgRow, at: usize, checked: bool) -> Result<Self, sea_orm::sqlx::Error> {
                let read: fn(&[u8]) -> Option<$ty> = $read;
                match binary(row, at, checked) {
                    Some(Some(bytes)) => read(bytes).map_or_else(|| driver(row, at, checked), Ok),
                    _ => driver(row, at, checked),
                }
            }
        }

        impl Cell for Option<$ty> {
            fn from_pg(row: &PgRow, at: usize, checked: bool) -> Result<Self, sea_orm::sqlx::Error> {
                let read: fn(&[u8]) -> Option<$ty> = $read;
                match binary(row, at, checked) {
                    Some(None) => Ok(None),
                    Some(Some(bytes)) => read(bytes).map_or_else(|| driver(row, at, checked), |value| Ok(Some(value))),
                    None => driver(row, at, checked),
                }
            }
        }
    )+};
}

binary_cells! {
    i32 => |bytes| bytes.try_into().ok().map(i32::from_be_bytes),
    i64 => |bytes| bytes.try_into().ok().map(i64::from_be_bytes),
    bool => |bytes| match bytes {
        [0] => Some(false),
        [1] => Some(true),
        _ => None,
    },
    DateTime<Utc> => |bytes| timestamp_from_pg(i64::from_be_bytes(bytes.try_into().ok()?)),
}

fn decoded<T>(at: usize, decoded: Result<T, sea_orm::sqlx::Error>) -> Result<T, DbErr> {
    decoded.map_err(|error| DbErr::Type(format!("column {at}: {error}")))
}

impl Cells for QueryResult {
    fn cell<T: Cell>(&self, at: usize, checked: bool) -> Result<T, DbErr> {
        if let Some(row) = self.try_as_pg_row() {
            Cells::cell(row, at, checked)
        } else if let Some(row) = self.try_as_sqlite_row() {
            Cells::cell(row, at, checked)
        } else {
            Err(DbErr::Type("a row of another driver".into()))
        }
    }

    fn null_at(&self, at: usize) -> bool {
        if let Some(row) = self.try_as_pg_row() {
            row.null_at(at)
        } else if let Some(row) = self.try_as_sqlite_row() {
            Cells::null_at(row, at)
        } else {
            true
        }
    }

    fn names(&self) -> Vec<String> {
        self.column_names()
    }
}

impl Cells for PgRow {
    fn cell<T: Cell>(&self, at: usize, checked: bool) -> Result<T, DbErr> {
        decoded(at, T::from_pg(self, at, checked))
    }

    fn null_at(&self, at: usize) -> bool {
        self.try_get_raw(at).map_or(true, |value| value.is_null())
    }

    fn names(&self) -> Vec<String> {
        self.columns().iter().map(|column| column.name().to_owned()).collect()
    }
}

impl Cells for SqliteRow {
    fn cell<T: Cell>(&self, at: usize, checked: bool) -> Result<T, DbErr> {
        decoded(at, if checked { self.try_get(at) } else { self.try_get_unchecked(at) })
    }

    fn null_at(&self, at: usize) -> bool {
        self.try_get_raw(at).map_or(true, |value| value.is_null())
    }

    fn names(&self) -> Vec<String> {
        self.columns().iter().map(|column| column.name().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_the_driver_reads_them() {
        // The driver's way: its epoch plus a duration of microseconds.
        let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("epoch");
        let mut micros = vec![0, 1, -1, 999_999, -1_000_001, 86_400_000_000, -86_400_000_000 * 365 * 40];
        micros.extend((0..2_000).map(|i: i64| i * 7_919_000_123_457 - 3_000_000_000_000_000));
        for us in micros {
            let driver = (epoch + chrono::Duration::microseconds(us)).and_utc();
            assert_eq!(timestamp_from_pg(us), Some(driver), "{us} microseconds");
        }
        // Out of range: left to the driver, which reports it.
        assert_eq!(timestamp_from_pg(i64::MAX), None);
    }
}
