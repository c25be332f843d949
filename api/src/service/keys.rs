//! `column IN (keys)` with one statement shape, whatever the number of keys.
//!
//! A literal `IN ($1, ..., $n)` is a different statement for every `n`: each one is parsed
//! and planned anew and they crowd out the prepared-statement cache. Instead the keys travel
//! as one parameter: an array on PostgreSQL (`= ANY($1)`), a JSON array on SQLite
//! (`IN (SELECT value FROM json_each(?))`).

use sea_orm::{
    ColumnTrait, DbBackend, Value,
    sea_query::{Alias, Expr, ExprTrait, Func, PgFunc, Query},
};

/// `column` is one of `keys`.
pub fn any_of<C, K>(backend: DbBackend, column: C, keys: Vec<K>) -> Expr
where
    C: ColumnTrait,
    K: Into<Value> + serde::Serialize,
    Value: From<Vec<K>>,
{
    let col = Expr::col(column.as_column_ref());
    match backend {
        DbBackend::Postgres => col.eq(PgFunc::any(Expr::val(Value::from(keys)))),
        _ => {
            let json = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_owned());
            col.in_subquery(
                Query::select()
                    .column(Alias::new("value"))
                    .from_function(Func::cust(Alias::new("json_each")).arg(json), Alias::new("keys"))
                    .to_owned(),
            )
        }
    }
}
