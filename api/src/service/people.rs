//! Writes to librarians: creation (admins), profile and consent (the librarian), erasure
//! (the librarian or an admin). The export of their data is in `export`.

use entities::{ambassador, application, certificate, librarian, librarian_interest, librarian_language, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, sea_query::Expr,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::input::{Checks, UserError, UserErrorCode};
use crate::domain::profile::Profile;
pub use crate::domain::profile::ProfileInput;
use crate::domain::{MembershipConsent, MembershipStatus, NodeKind};
use crate::error::{ApiError, ApiResult};
use crate::service::journal::{self, Entry, Operation, Scope};
use crate::service::now;

/// What an erased librarian is called from then on, everywhere.
pub const ERASED_NAME: &str = "Erased librarian";

/// A write that either happened or was refused for reasons the caller can fix.
pub type Outcome<T> = ApiResult<Result<T, Vec<UserError>>>;

/// The `CONFLICT` of an `expectedVersion` that is not current.
pub(crate) fn stale(what: &str, expected: i32, current: i32) -> ApiError {
    ApiError::Stale {
        message: format!("the {what} is at version {current}, not the expected version {expected}; reload and retry"),
        current_version: current,
    }
}

/// A refusal for one field.
pub(crate) fn refused<T>(field: &str, code: UserErrorCode, message: impl Into<String>) -> Outcome<T> {
    Ok(Err(vec![UserError { field: field.to_owned(), code, message: message.into() }]))
}

/// Checks a profile; the refusals are the caller's to fix.
fn parse(input: &ProfileInput) -> Result<Profile, Vec<UserError>> {
    let mut checks = Checks::default();
    let profile = Profile::parse(input, &mut checks);
    if checks.ok() { Ok(profile) } else { Err(checks.errors) }
}

async fn email_taken<C: ConnectionTrait>(db: &C, email: &str, except: Option<i32>) -> ApiResult<bool> {
    let mut query = librarian::Entity::find().filter(librarian::Column::Email.eq(email));
    if let Some(id) = except {
        query = query.filter(librarian::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

fn taken_email<T>() -> Outcome<T> {
    refused("email", UserErrorCode::Taken, "another librarian has this email")
}

async fn replace_tags<C: ConnectionTrait>(db: &C, id: i32, profile: &Profile) -> ApiResult<()> {
    if let Some(languages) = &profile.languages {
        librarian_language::Entity::delete_many()
            .filter(librarian_language::Column::LibrarianId.eq(id))
            .exec(db)
            .await?;
        let rows = languages
            .iter()
            .map(|l| librarian_language::ActiveModel { librarian_id: Set(id), language: Set(l.clone()) });
        librarian_language::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    if let Some(interests) = &profile.interests {
        librarian_interest::Entity::delete_many()
            .filter(librarian_interest::Column::LibrarianId.eq(id))
            .exec(db)
            .await?;
        if !interests.is_empty() {
            let rows = interests
                .iter()
                .map(|t| librarian_interest::ActiveModel { librarian_id: Set(id), interest: Set(t.clone()) });
            librarian_interest::Entity::insert_many(rows).exec_without_returning(db).await?;
        }
    }
    Ok(())
}

/// A race on the unique email (two writers with the same one) is a user error too; any
/// other violation is not the client's.
fn on_unique<T>(result: Result<T, sea_orm::DbErr>) -> ApiResult<Result<T, Vec<UserError>>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) if crate::error::violates_unique(&err, "librarians", &["email"]) => Ok(Err(vec![UserError {
            field: "email".to_owned(),
            code: UserErrorCode::Taken,
            message: "another librarian has this email".to_owned(),
        }])),
        Err(err) => Err(err.into()),
    }
}

/// Creates a librarian (an admin write: audited).
///
/// # Errors
/// Database errors; invalid input is returned as user errors.
pub async fn create(db: &DatabaseConnection, viewer: &Viewer, input: ProfileInput) -> Outcome<librarian::Model> {
    let mut missing = Checks::default();
    for (field, present) in [
        ("fullName", input.full_name.is_some()),
        ("email", input.email.is_some()),
        ("countryCode", input.country_code.is_some()),
        ("sector", input.sector.is_some()),
        ("languages", input.languages.is_some()),
    ] {
        if !present {
            missing.fail(field, UserErrorCode::Blank, format!("`{field}` is required"));
        }
    }
    let profile = match parse(&input) {
        Ok(profile) if missing.ok() => profile,
        Ok(_) => return Ok(Err(missing.errors)),
        Err(mut errors) => {
            missing.errors.append(&mut errors);
            return Ok(Err(missing.errors));
        }
    };
    let txn = crate::db::begin_write(db).await?;
    let email = profile.email.clone().unwrap_or_default();
    if email_taken(&txn, &email, None).await? {
        return taken_email();
    }
    let mut model = profile.new_librarian(now());
    model.email = Set(email);
    let model = match on_unique(model.insert(&txn).await)? {
        Ok(model) => model,
        Err(errors) => return Ok(Err(errors)),
    };
    replace_tags(&txn, model.id, &profile).await?;
    journal::change(&txn, viewer, NodeKind::Librarian, model.id, Operation::Upsert, Scope::librarian(&model)).await?;
    journal::audit(
        &txn,
        viewer,
        Action::CreateLibrarian,
        NodeKind::Librarian,
        model.id,
        json!({ "countryCode": model.country_code }),
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Applies `input` to the librarian `id`, if `expected_version` (when given) is current.
///
/// # Errors
/// Database errors; invalid input, a taken email, a stale version or an erased librarian
/// are user errors.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    input: ProfileInput,
    expected_version: Option<i32>,
) -> Outcome<librarian::Model> {
    let profile = match parse(&input) {
        Ok(profile) => profile,
        Err(errors) => return Ok(Err(errors)),
    };
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = librarian::Entity::find_by_id(id).one(&txn).await? else {
        return refused("id", UserErrorCode::NotFound, "no such librarian");
    };
    if current.erased_at.is_some() {
        return refused("id", UserErrorCode::NotAllowed, "this librarian was erased");
    }
    if let Some(expected) = expected_version.filter(|v| *v != current.version) {
        return Err(stale("librarian", expected, current.version));
    }
    if let Some(email) = &profile.email
        && email_taken(&txn, email, Some(id)).await?
    {
        return taken_email();
    }
    let version = current.version;
    let mut next = current.clone();
    profile.apply(&mut next);
    next.version = version + 1;
    next.updated_at = now();
    let before = current;
    let mut model = next.into_active_model().reset_all();
    model.id = NotSet;
    // The version in the WHERE clause makes a concurrent update lose cleanly.
    let updated = librarian::Entity::update_many()
        .set(model)
        .filter(librarian::Column::Id.eq(id))
        .filter(librarian::Column::Version.eq(version))
        .exec(&txn)
        .await;
    match on_unique(updated)? {
        Ok(result) if result.rows_affected == 1 => {}
        Ok(_) => {
            // Another writer got in between the read and the update.
            let current = librarian::Entity::find_by_id(id).one(&txn).await?.map_or(version, |l| l.version);
            return Err(stale("librarian", expected_version.unwrap_or(version), current));
        }
        Err(errors) => return Ok(Err(errors)),
    }
    replace_tags(&txn, id, &profile).await?;
    let Some(model) = librarian::Entity::find_by_id(id).one(&txn).await? else {
        return refused("id", UserErrorCode::NotFound, "no such librarian");
    };
    let entries = profile_entries(&txn, &before, &model).await?;
    journal::audit_admin(
        &txn,
        viewer,
        Action::UpdateLibrarian,
        NodeKind::Librarian,
        id,
        json!({ "fields": profile.fields() }),
    )
    .await?;
    journal::record(&txn, viewer, entries).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Erases the librarian `id`: personal fields anonymised, languages and interests removed,
/// memberships deactivated, application goals and certificate names cleared, open
/// ambassador terms ended; pairings stay for statistics. Idempotent: erasing again changes
/// nothing and logs nothing.
///
/// # Errors
/// Database errors; an unknown librarian is a user error.
pub async fn erase(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> Outcome<librarian::Model> {
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = librarian::Entity::find_by_id(id).one(&txn).await? else {
        return refused("librarianId", UserErrorCode::NotFound, "no such librarian");
    };
    if current.erased_at.is_some() {
        return Ok(Ok(current));
    }
    let at = now();
    let before = current.clone();
    let model = anonymise(&txn, current, at).await?;
    let active = end_memberships(&txn, id, at).await?;
    forget_programme_data(&txn, id).await?;
    let open_terms = end_ambassador_terms(&txn, id, at).await?;

    let scope = Scope::changed(&before, &model);
    let mut entries = vec![Entry::new(NodeKind::Librarian, id, Operation::Erase, scope.clone())];
    entries.extend(
        active
            .iter()
            .map(|m| Entry::new(NodeKind::Membership, m.id, Operation::Deactivate, Scope::membership(m, &scope))),
    );
    // The others changed too (links declined, what associations sent cleared).
    let others = membership::Entity::find().filter(membership::Column::LibrarianId.eq(id)).all(&txn).await?;
    entries.extend(
        others
            .iter()
            .filter(|m| active.iter().all(|a| a.id != m.id))
            .map(|m| Entry::new(NodeKind::Membership, m.id, Operation::Upsert, Scope::membership(m, &scope))),
    );
    entries.extend(
        open_terms.iter().map(|a| Entry::new(NodeKind::Ambassador, *a, Operation::Deactivate, Scope::public())),
    );
    journal::record(&txn, viewer, entries).await?;
    let details = json!({ "deactivatedMemberships": active.len() });
    journal::audit(&txn, viewer, Action::EraseLibrarian, NodeKind::Librarian, id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// The librarian row anonymised, and their languages and interests deleted.
async fn anonymise(
    txn: &DatabaseTransaction,
    current: librarian::Model,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<librarian::Model> {
    let id = current.id;
    let version = current.version;
    let mut model = current.into_active_model();
    model.full_name = Set(ERASED_NAME.to_owned());
    model.email = Set(format!("erased-{id}@erased.invalid"));
    model.institution = Set(None);
    model.job_title = Set(None);
    model.years_experience = Set(0);
    model.bio = Set(None);
    model.listed_in_directory = Set(false);
    model.erased_at = Set(Some(at));
    model.version = Set(version + 1);
    model.updated_at = Set(at);
    let model = model.update(txn).await?;
    librarian_language::Entity::delete_many().filter(librarian_language::Column::LibrarianId.eq(id)).exec(txn).await?;
    librarian_interest::Entity::delete_many().filter(librarian_interest::Column::LibrarianId.eq(id)).exec(txn).await?;
    Ok(model)
}

/// Active memberships deactivated (returned, as they were), links never confirmed declined
/// for good, and what associations sent and their directories' records cleared: it is
/// personal data like the rest.
async fn end_memberships(
    txn: &DatabaseTransaction,
    id: i32,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Vec<membership::Model>> {
    let active = membership::Entity::find()
        .filter(membership::Column::LibrarianId.eq(id))
        .filter(membership::Column::Status.eq(MembershipStatus::Active.as_str()))
        .all(txn)
        .await?;
    for m in &active {
        membership::Entity::update_many()
            .col_expr(membership::Column::Status, Expr::value(MembershipStatus::Deactivated.as_str()))
            .col_expr(membership::Column::DeactivatedAt, Expr::value(at))
            .col_expr(membership::Column::Version, Expr::value(m.version + 1))
            .col_expr(membership::Column::UpdatedAt, Expr::value(at))
            .filter(membership::Column::Id.eq(m.id))
            .exec(txn)
            .await?;
    }
    membership::Entity::update_many()
        .col_expr(membership::Column::Consent, Expr::value(MembershipConsent::Declined.as_str()))
        .filter(membership::Column::LibrarianId.eq(id))
        .filter(membership::Column::Consent.eq(MembershipConsent::Pending.as_str()))
        .exec(txn)
        .await?;
    membership::Entity::update_many()
        .col_expr(membership::Column::Sent, Expr::value(Option::<String>::None))
        .col_expr(membership::Column::Directory, Expr::value(Option::<String>::None))
        .col_expr(membership::Column::UserName, Expr::value(Option::<String>::None))
        .filter(membership::Column::LibrarianId.eq(id))
        .exec(txn)
        .await?;
    Ok(active)
}

/// Application goals and preferences cleared, and certificates' names anonymised
/// (pairings stay, for the programme's statistics).
async fn forget_programme_data(txn: &DatabaseTransaction, id: i32) -> ApiResult<()> {
    application::Entity::update_many()
        .col_expr(application::Column::Goal, Expr::value(Option::<String>::None))
        .col_expr(
            application::Column::Preferences,
            Expr::value(json!({ "languages": [], "preferredSectors": [], "interests": [] })),
        )
        .filter(application::Column::LibrarianId.eq(id))
        .exec(txn)
        .await?;
    certificate::Entity::update_many()
        .col_expr(certificate::Column::RecipientName, Expr::value(ERASED_NAME))
        .filter(certificate::Column::LibrarianId.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Open ambassador terms ended now; the ids of those ended.
async fn end_ambassador_terms(
    txn: &DatabaseTransaction,
    id: i32,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Vec<i32>> {
    let open_terms: Vec<i32> = ambassador::Entity::find()
        .filter(ambassador::Column::LibrarianId.eq(id))
        .filter(Condition::any().add(ambassador::Column::TermUntil.is_null()).add(ambassador::Column::TermUntil.gt(at)))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    if !open_terms.is_empty() {
        ambassador::Entity::update_many()
            .col_expr(ambassador::Column::TermUntil, Expr::value(at))
            .filter(ambassador::Column::Id.is_in(open_terms.clone()))
            .exec(txn)
            .await?;
    }
    Ok(open_terms)
}

/// The change-log entries of a profile update: the librarian's (announcing what they own
/// again when directory consent changed, since it decides whether partners read the profile
/// and so the explanation of their pairings), and for a move between countries their
/// memberships', whose ambassadors change.
async fn profile_entries(
    txn: &DatabaseTransaction,
    before: &librarian::Model,
    after: &librarian::Model,
) -> ApiResult<Vec<Entry>> {
    let scope = Scope::changed(before, after);
    let mut entries = Vec::new();
    if scope.previous_country_code.is_some() {
        let memberships =
            membership::Entity::find().filter(membership::Column::LibrarianId.eq(after.id)).all(txn).await?;
        entries.extend(
            memberships
                .iter()
                .map(|m| Entry::new(NodeKind::Membership, m.id, Operation::Upsert, Scope::membership(m, &scope))),
        );
    }
    let consent_changed = before.listed_in_directory != after.listed_in_directory;
    let entry = Entry::new(NodeKind::Librarian, after.id, Operation::Upsert, scope);
    entries.insert(0, if consent_changed { entry.with_belongings() } else { entry });
    Ok(entries)
}
