//! Admin writes that run the network: associations and ambassador appointments. Each is
//! one transaction with its change-log and audit entries.

use chrono::{DateTime, Utc};
use entities::{ambassador, association, librarian};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::NodeKind;
use crate::domain::input::{Checks, MAX_NAME, UserErrorCode};
use crate::error::ApiResult;
use crate::service::journal::{self, Operation, Scope};
use crate::service::now;
use crate::service::people::{Outcome, refused};

/// Association fields to set; `None` leaves a field as it is (an empty website clears it).
#[derive(Debug, Default, Clone)]
pub struct AssociationInput {
    pub name: Option<String>,
    pub country_code: Option<String>,
    pub website: Option<String>,
}

async fn name_taken<C: ConnectionTrait>(db: &C, name: &str, except: Option<i32>) -> ApiResult<bool> {
    let mut query = association::Entity::find().filter(association::Column::Name.eq(name));
    if let Some(id) = except {
        query = query.filter(association::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

/// Creates (`id` is `None`) or updates an association.
///
/// # Errors
/// Database errors; invalid input, a taken name or an unknown association are user errors.
pub async fn save_association(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Option<i32>,
    input: AssociationInput,
) -> Outcome<association::Model> {
    let mut c = Checks::default();
    if id.is_none() {
        for (field, present) in [("name", input.name.is_some()), ("countryCode", input.country_code.is_some())] {
            if !present {
                c.fail(field, UserErrorCode::Blank, format!("`{field}` is required"));
            }
        }
    }
    let name = input.name.as_deref().and_then(|v| c.required("name", v, MAX_NAME));
    let country = input.country_code.as_deref().and_then(|v| c.country("countryCode", v));
    let website = input.website.as_deref().map(|v| c.website("website", v));
    if !c.ok() {
        return Ok(Err(c.errors));
    }
    let txn = crate::db::begin_write(db).await?;
    if let Some(name) = &name
        && name_taken(&txn, name, id).await?
    {
        return refused("name", UserErrorCode::Taken, "another association has this name");
    }
    let at = now();
    let (action, model) = match id {
        None => {
            let model = association::ActiveModel {
                id: NotSet,
                name: Set(name.unwrap_or_default()),
                country_code: Set(country.unwrap_or_default()),
                website: Set(website.flatten()),
                created_at: Set(at),
                updated_at: Set(at),
            };
            (Action::CreateAssociation, model.insert(&txn).await?)
        }
        Some(id) => {
            let Some(current) = association::Entity::find_by_id(id).one(&txn).await? else {
                return refused("associationId", UserErrorCode::NotFound, "no such association");
            };
            let mut model = current.into_active_model();
            if let Some(v) = name {
                model.name = Set(v);
            }
            if let Some(v) = country {
                model.country_code = Set(v);
            }
            if let Some(v) = website {
                model.website = Set(v);
            }
            model.updated_at = Set(at);
            (Action::UpdateAssociation, model.update(&txn).await?)
        }
    };
    journal::change(&txn, viewer, NodeKind::Association, model.id, Operation::Upsert, Scope::public()).await?;
    let details = json!({ "name": model.name, "countryCode": model.country_code, "website": model.website });
    journal::audit(&txn, viewer, action, NodeKind::Association, model.id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Appoints the librarian `librarian_id` ambassador of `country` from `from` (default now)
/// until `until` (open-ended by default).
///
/// # Errors
/// Database errors; an unknown or erased librarian, a bad country or term, or an
/// appointment that is already open are user errors.
pub async fn appoint_ambassador(
    db: &DatabaseConnection,
    viewer: &Viewer,
    librarian_id: i32,
    country: &str,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Outcome<ambassador::Model> {
    let mut c = Checks::default();
    let country = c.country("countryCode", country);
    let from = from.unwrap_or_else(now);
    if until.is_some_and(|until| until <= from) {
        c.fail("termUntil", UserErrorCode::Invalid, "`termUntil` must be after `termFrom`");
    }
    let Some(country) = country.filter(|_| c.ok()) else {
        return Ok(Err(c.errors));
    };
    let txn = crate::db::begin_write(db).await?;
    match librarian::Entity::find_by_id(librarian_id).one(&txn).await? {
        Some(l) if l.erased_at.is_none() => {}
        Some(_) => return refused("librarianId", UserErrorCode::NotAllowed, "this librarian was erased"),
        None => return refused("librarianId", UserErrorCode::NotFound, "no such librarian"),
    }
    let open = ambassador::Entity::find()
        .filter(ambassador::Column::LibrarianId.eq(librarian_id))
        .filter(ambassador::Column::CountryCode.eq(country.as_str()))
        .filter(
            Condition::any().add(ambassador::Column::TermUntil.is_null()).add(ambassador::Column::TermUntil.gt(from)),
        )
        .one(&txn)
        .await?;
    if open.is_some() {
        return refused(
            "librarianId",
            UserErrorCode::NotAllowed,
            "this librarian already has an open term for this country",
        );
    }
    let model = ambassador::ActiveModel {
        id: NotSet,
        librarian_id: Set(librarian_id),
        country_code: Set(country),
        term_from: Set(from),
        term_until: Set(until),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    journal::change(&txn, viewer, NodeKind::Ambassador, model.id, Operation::Upsert, Scope::public()).await?;
    let details =
        json!({ "countryCode": model.country_code, "termFrom": model.term_from, "termUntil": model.term_until });
    journal::audit(&txn, viewer, Action::AppointAmbassador, NodeKind::Ambassador, model.id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Ends the open term `id` at `at` (default now).
///
/// # Errors
/// Database errors; an unknown or already ended term is a user error.
pub async fn end_ambassador(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    at: Option<DateTime<Utc>>,
) -> Outcome<ambassador::Model> {
    let at = at.unwrap_or_else(now);
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = ambassador::Entity::find_by_id(id).one(&txn).await? else {
        return refused("ambassadorId", UserErrorCode::NotFound, "no such ambassador appointment");
    };
    if current.term_until.is_some_and(|until| until <= at) {
        return refused("ambassadorId", UserErrorCode::NotAllowed, "this term has already ended");
    }
    if at < current.term_from {
        return refused("termUntil", UserErrorCode::Invalid, "a term cannot end before it starts");
    }
    let mut model = current.into_active_model();
    model.term_until = Set(Some(at));
    let model = model.update(&txn).await?;
    journal::change(&txn, viewer, NodeKind::Ambassador, id, Operation::Deactivate, Scope::public()).await?;
    journal::audit(&txn, viewer, Action::EndAmbassador, NodeKind::Ambassador, id, json!({ "termUntil": at })).await?;
    txn.commit().await?;
    Ok(Ok(model))
}
