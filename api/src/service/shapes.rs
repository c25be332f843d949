//! Statements of a fixed shape, rendered to SQL once.
//!
//! The batch functions of [`relations`](super::relations) send the same select again and
//! again with other keys, which travel as one parameter whatever their number
//! ([`any_of`]). Building such a select with SeaORM (an expression for every column, the
//! joins, the conditions), rendering it to text and converting its values for the driver
//! was about a fifteenth of the server's work on the ambassador query, for a text that
//! never changes. A [`Shape`] renders its select once per database backend and per shape
//! of the policy's scope (the scope's own text, its values left as parameters), and from
//! then on only binds values: the scope's, then the keys, which are the last parameter
//! (the builder filters on them last).
//!
//! When a shape is first rendered, with a sentinel key, its statement must bind exactly
//! the scope's values and then the keys; a shape that does not is not kept, and its
//! statement is built every time (as correct, only slower).

use std::sync::{Arc, Mutex};

use sea_orm::sea_query::{Condition, Expr, Query, SelectStatement, Values};
use sea_orm::sqlx::postgres::PgArguments;
use sea_orm::{ColumnTrait, DbBackend, DbErr, Statement, Value};

use super::keys::any_of;

/// A select over integer keys whose text is rendered once per backend and scope shape
/// (see the module's documentation). A `static` beside the function that sends it.
pub struct Shape(Mutex<Vec<Known>>);

/// A rendered shape: for `backend` and the scope whose text is `scope`, the statement's
/// text, or `None` when its values are not laid out as a shape's must be.
struct Known {
    kind: &'static str,
    backend: DbBackend,
    scope: String,
    sql: Option<Arc<str>>,
}

/// The most shapes one [`Shape`] keeps (the scopes of the policy have a handful of
/// shapes; beyond this, statements are built every time rather than kept without bound).
const MOST: usize = 64;

/// A statement of a [`Shape`]: its text, the scope's values and the keys.
#[derive(Clone, Debug)]
pub struct Keyed {
    backend: DbBackend,
    sql: Arc<str>,
    scope: Values,
    keys: Vec<i32>,
}

/// A statement to read rows with: built by SeaORM, or of a kept [`Shape`].
#[derive(Clone, Debug)]
pub enum Sql {
    Built(Statement),
    Keyed(Keyed),
}

impl From<Statement> for Sql {
    fn from(statement: Statement) -> Self {
        Self::Built(statement)
    }
}

impl Sql {
    /// The statement, as SeaORM sends it.
    pub fn into_statement(self) -> Statement {
        match self {
            Self::Built(statement) => statement,
            Self::Keyed(keyed) => keyed.statement(),
        }
    }
}

/// A key that no row has, to find the keys' parameter when a shape is first rendered.
const SENTINEL: i32 = i32::MIN;

impl Shape {
    pub const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// The statement of this shape for `keys` (compared with `column`) within `scope`;
    /// `kind` tells apart the selects of one shape that a generic function builds (its
    /// entity's table), and is empty otherwise.
    /// `build` makes the select from the scope and the condition on the keys, which it
    /// applies after every other condition; it is called the first time for the backend
    /// and the scope's shape, and every time for a shape that is not kept.
    pub fn keyed<C: ColumnTrait>(
        &self,
        kind: &'static str,
        backend: DbBackend,
        scope: Option<Condition>,
        column: C,
        keys: Vec<i32>,
        build: impl Fn(Option<Condition>, Expr) -> SelectStatement,
    ) -> Sql {
        let (scope_text, scope_values) = match &scope {
            Some(condition) => {
                let rendered = backend.build(&Query::select().cond_where(condition.clone()).to_owned());
                (rendered.sql, rendered.values.unwrap_or(Values(Vec::new())))
            }
            None => (String::new(), Values(Vec::new())),
        };
        let known = self.0.lock().ok().and_then(|known| {
            known
                .iter()
                .find(|k| k.kind == kind && k.backend == backend && k.scope == scope_text)
                .map(|k| k.sql.clone())
        });
        let sql = match known {
            Some(sql) => sql,
            None => {
                let rendered = backend.build(&build(scope.clone(), any_of(backend, column, vec![SENTINEL])));
                let sql = laid_out(backend, &rendered, &scope_values).then(|| Arc::<str>::from(rendered.sql));
                // A builder of the server's own whose keys are not its last parameter is a
                // mistake (its statement is built every time): the test suite fails on it.
                debug_assert!(cfg!(test) || sql.is_some(), "the keys of a shape must be its last parameter");
                if let Ok(mut known) = self.0.lock()
                    && known.len() < MOST
                    && !known.iter().any(|k| k.kind == kind && k.backend == backend && k.scope == scope_text)
                {
                    known.push(Known { kind, backend, scope: scope_text, sql: sql.clone() });
                }
                sql
            }
        };
        match sql {
            Some(sql) => Sql::Keyed(Keyed { backend, sql, scope: scope_values, keys }),
            None => Sql::Built(backend.build(&build(scope, any_of(backend, column, keys)))),
        }
    }

    /// Whether the shape is kept for `backend` and a scope of `scope`'s shape (tests).
    #[cfg(test)]
    fn kept(&self, kind: &str, backend: DbBackend, scope: Option<Condition>) -> bool {
        let scope_text =
            scope.map(|c| backend.build(&Query::select().cond_where(c).to_owned()).sql).unwrap_or_default();
        self.0.lock().is_ok_and(|known| {
            known.iter().any(|k| k.kind == kind && k.backend == backend && k.scope == scope_text && k.sql.is_some())
        })
    }
}

impl Default for Shape {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `rendered` (with the sentinel key) binds exactly `scope`'s values, then the keys.
fn laid_out(backend: DbBackend, rendered: &Statement, scope: &Values) -> bool {
    let values = rendered.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    values.len() == scope.0.len() + 1
        && values[..scope.0.len()] == scope.0[..]
        && values.last() == Some(&keys_value(backend, vec![SENTINEL]))
}

/// The value the keys are bound as: an array on PostgreSQL, JSON text on SQLite (as
/// [`any_of`] binds them).
fn keys_value(backend: DbBackend, keys: Vec<i32>) -> Value {
    match backend {
        DbBackend::Postgres => Value::from(keys),
        _ => Value::from(serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_owned())),
    }
}

impl Keyed {
    /// The statement, as SeaORM would send it.
    pub fn statement(&self) -> Statement {
        let mut values = self.scope.0.clone();
        values.push(keys_value(self.backend, self.keys.clone()));
        Statement { sql: self.sql.to_string(), values: Some(Values(values)), db_backend: self.backend }
    }

    /// The statement's text, shared.
    pub fn sql(&self) -> &Arc<str> {
        &self.sql
    }

    /// The values bound for the driver, as SeaORM binds them: the scope's, then the keys
    /// as an `int4[]`.
    ///
    /// # Errors
    /// A value the driver cannot encode.
    pub fn arguments(&self) -> Result<PgArguments, DbErr> {
        use sea_orm::sqlx::{Arguments, IntoArguments, Postgres};
        let mut arguments = IntoArguments::<Postgres>::into_arguments(sea_query_sqlx::SqlxValues(self.scope.clone()));
        arguments.add(self.keys.as_slice()).map_err(|error| DbErr::Type(error.to_string()))?;
        Ok(arguments)
    }
}

#[cfg(test)]
mod tests {
    use entities::membership;
    use sea_orm::{EntityTrait, QueryFilter, QueryOrder, QueryTrait};

    use super::*;

    fn select(scope: Option<Condition>, keys: Expr) -> SelectStatement {
        crate::service::filters::scoped(membership::Entity::find(), scope)
            .filter(keys)
            .order_by_asc(membership::Column::Id)
            .into_query()
    }

    fn fresh(backend: DbBackend, scope: Option<Condition>, keys: Vec<i32>) -> Statement {
        backend.build(&select(scope, any_of(backend, membership::Column::LibrarianId, keys)))
    }

    fn scope(association: i32) -> Option<Condition> {
        Some(
            Condition::all()
                .add(membership::Column::AssociationId.eq(association))
                .add(membership::Column::Status.ne("x")),
        )
    }

    #[test]
    fn a_kept_shape_sends_what_seaorm_renders() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let shape = Shape::new();
            for (scope, keys) in [
                (None, vec![1, 2, 3]),
                (None, vec![]),
                (scope(7), vec![4]),
                (scope(8), vec![5, 6, 7, 8]),
                (None, vec![9]),
            ] {
                let sql =
                    shape.keyed("", backend, scope.clone(), membership::Column::LibrarianId, keys.clone(), select);
                let Sql::Keyed(keyed) = &sql else { panic!("{backend:?}: the shape was not kept") };
                let expected = fresh(backend, scope.clone(), keys.clone());
                let sent = sql.clone().into_statement();
                assert_eq!(sent.sql, expected.sql, "{backend:?}");
                assert_eq!(sent.values, expected.values, "{backend:?}");
                if backend == DbBackend::Postgres {
                    use sea_orm::sqlx::IntoArguments;
                    let reference = IntoArguments::<sea_orm::sqlx::Postgres>::into_arguments(
                        sea_query_sqlx::SqlxValues(expected.values.expect("values")),
                    );
                    let bound = keyed.arguments().expect("encoded");
                    assert_eq!(format!("{bound:?}"), format!("{reference:?}"));
                }
            }
            assert!(shape.kept("", backend, None));
            assert!(shape.kept("", backend, scope(1)), "one scope shape for every association");
            assert!(!shape.kept("other", backend, None));
        }
    }

    #[test]
    fn a_shape_whose_keys_are_not_bound_last_is_built_every_time() {
        // The scope's values after the keys': not a shape's layout.
        let keys_first = |scope: Option<Condition>, keys: Expr| {
            membership::Entity::find().filter(keys).filter(scope.unwrap_or_else(Condition::all)).into_query()
        };
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let shape = Shape::new();
            for association in [1, 2] {
                let sql =
                    shape.keyed("", backend, scope(association), membership::Column::LibrarianId, vec![3], keys_first);
                let Sql::Built(statement) = sql else { panic!("{backend:?}: kept a shape laid out otherwise") };
                let expected = backend
                    .build(&keys_first(scope(association), any_of(backend, membership::Column::LibrarianId, vec![3])));
                assert_eq!((statement.sql, statement.values), (expected.sql, expected.values));
            }
            assert!(!shape.kept("", backend, scope(1)));
        }
    }
}
