//! The sort orders each list supports, as keyset [`Ordering`]s.

use entities::{
    application, association, audit_log, country, librarian, membership, pairing, round, sync_run, webhook_delivery,
};
use serde_json::json;

use crate::domain::{LibrarianOrderField, OrderDirection};
use crate::service::page::{KeyKind, Ordering, time_key};

/// Librarians sorted by `field` (then id) in `direction`.
pub fn librarians(field: LibrarianOrderField, direction: OrderDirection) -> Ordering<librarian::Entity> {
    use librarian::Column as C;
    let id = (C::Id, KeyKind::Int);
    let (columns, keys): (_, fn(&librarian::Model) -> Vec<serde_json::Value>) = match field {
        LibrarianOrderField::Id => (vec![id], |m| vec![json!(m.id)]),
        LibrarianOrderField::Name => {
            (vec![(C::FullName, KeyKind::Text), id], |m| vec![json!(m.full_name), json!(m.id)])
        }
        LibrarianOrderField::CreatedAt => {
            (vec![(C::CreatedAt, KeyKind::Time), id], |m| vec![time_key(&m.created_at), json!(m.id)])
        }
        LibrarianOrderField::UpdatedAt => {
            (vec![(C::UpdatedAt, KeyKind::Time), id], |m| vec![time_key(&m.updated_at), json!(m.id)])
        }
    };
    Ordering {
        name: format!("{}_{}", field.as_str(), direction.as_str()),
        columns,
        descending: direction == OrderDirection::Desc,
        keys,
    }
}

macro_rules! by_id {
    ($fn_name:ident, $entity:ident) => {
        #[doc = concat!("`", stringify!($entity), "` rows in id order (the order they were created).")]
        pub fn $fn_name() -> Ordering<$entity::Entity> {
            Ordering {
                name: "ID_ASC".to_owned(),
                columns: vec![($entity::Column::Id, KeyKind::Int)],
                descending: false,
                keys: |m| vec![json!(m.id)],
            }
        }
    };
}

by_id!(associations, association);
by_id!(memberships, membership);
by_id!(rounds, round);
by_id!(applications, application);
by_id!(pairings, pairing);

/// Countries by ISO code.
pub fn countries() -> Ordering<country::Entity> {
    Ordering {
        name: "CODE_ASC".to_owned(),
        columns: vec![(country::Column::Code, KeyKind::Text)],
        descending: false,
        keys: |m| vec![json!(m.code)],
    }
}

macro_rules! newest_first {
    ($fn_name:ident, $entity:ident) => {
        #[doc = concat!("`", stringify!($entity), "` rows newest first (by id).")]
        pub fn $fn_name() -> Ordering<$entity::Entity> {
            Ordering {
                name: "ID_DESC".to_owned(),
                columns: vec![($entity::Column::Id, KeyKind::Int)],
                descending: true,
                keys: |m| vec![json!(m.id)],
            }
        }
    };
}

newest_first!(audit_entries, audit_log);
newest_first!(sync_runs, sync_run);
newest_first!(webhook_deliveries, webhook_delivery);
