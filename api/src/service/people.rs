//! Writes to librarians: creation (admins), profile and consent (the librarian), erasure
//! (the librarian or an admin). The export of their data is in `export`.

use entities::{ambassador, application, certificate, librarian, librarian_interest, librarian_language, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, sea_query::Expr,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::input::{Checks, MAX_BIO, MAX_NAME, MAX_TEXT, UserError, UserErrorCode};
use crate::domain::{MembershipConsent, MembershipStatus, NodeKind, Sector};
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

/// Profile fields to set; `None` leaves a field as it is. For optional text, an empty
/// string clears it.
#[derive(Debug, Default, Clone)]
pub struct ProfileInput {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub country_code: Option<String>,
    pub institution: Option<String>,
    pub sector: Option<Sector>,
    pub job_title: Option<String>,
    pub years_experience: Option<i32>,
    pub languages: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    pub bio: Option<String>,
    pub listed_in_directory: Option<bool>,
}

/// A validated [`ProfileInput`].
#[derive(Debug, Default)]
struct Profile {
    full_name: Option<String>,
    email: Option<String>,
    country_code: Option<String>,
    institution: Option<Option<String>>,
    sector: Option<Sector>,
    job_title: Option<Option<String>>,
    years_experience: Option<i32>,
    languages: Option<Vec<String>>,
    interests: Option<Vec<String>>,
    bio: Option<Option<String>>,
    listed_in_directory: Option<bool>,
}

fn parse(input: &ProfileInput) -> Result<Profile, Vec<UserError>> {
    let mut c = Checks::default();
    let profile = Profile {
        full_name: input.full_name.as_deref().and_then(|v| c.required("fullName", v, MAX_NAME)),
        email: input.email.as_deref().and_then(|v| c.email("email", v)),
        country_code: input.country_code.as_deref().and_then(|v| c.country("countryCode", v)),
        institution: input.institution.as_deref().map(|v| c.text("institution", v, MAX_TEXT)),
        sector: input.sector,
        job_title: input.job_title.as_deref().map(|v| c.text("jobTitle", v, MAX_TEXT)),
        years_experience: input.years_experience.and_then(|v| c.years("yearsExperience", v)),
        languages: input.languages.as_deref().and_then(|v| c.languages("languages", v)),
        interests: input.interests.as_deref().and_then(|v| c.interests("interests", v)),
        bio: input.bio.as_deref().map(|v| c.text("bio", v, MAX_BIO)),
        listed_in_directory: input.listed_in_directory,
    };
    if c.ok() { Ok(profile) } else { Err(c.errors) }
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
    let at = now();
    let model = librarian::ActiveModel {
        id: NotSet,
        full_name: Set(profile.full_name.clone().unwrap_or_default()),
        email: Set(email),
        country_code: Set(profile.country_code.clone().unwrap_or_default()),
        institution: Set(profile.institution.clone().flatten()),
        sector: Set(profile.sector.unwrap_or(Sector::Other).as_str().to_owned()),
        job_title: Set(profile.job_title.clone().flatten()),
        years_experience: Set(profile.years_experience.unwrap_or(0)),
        bio: Set(profile.bio.clone().flatten()),
        listed_in_directory: Set(profile.listed_in_directory.unwrap_or(false)),
        erased_at: Set(None),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let model = match on_unique(model.insert(&txn).await)? {
        Ok(model) => model,
        Err(errors) => return Ok(Err(errors)),
    };
    replace_tags(&txn, model.id, &profile).await?;
    journal::change(&txn, viewer, NodeKind::Librarian, model.id, Operation::Upsert, Scope::librarian(&model)).await?;
    journal::audit(
        &txn,
        viewer,
        "createLibrarian",
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
    let before = current.clone();
    let mut model = current.into_active_model();
    profile.apply_to(&mut model);
    model.version = Set(version + 1);
    model.updated_at = Set(now());
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
    if viewer.is_admin() {
        journal::audit(&txn, viewer, "updateLibrarian", NodeKind::Librarian, id, json!({ "fields": changed(&input) }))
            .await?;
    }
    journal::record(&txn, viewer, entries).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// The names of the fields an input sets (for the audit log: no values, no personal data).
fn changed(input: &ProfileInput) -> Vec<&'static str> {
    [
        ("fullName", input.full_name.is_some()),
        ("email", input.email.is_some()),
        ("countryCode", input.country_code.is_some()),
        ("institution", input.institution.is_some()),
        ("sector", input.sector.is_some()),
        ("jobTitle", input.job_title.is_some()),
        ("yearsExperience", input.years_experience.is_some()),
        ("languages", input.languages.is_some()),
        ("interests", input.interests.is_some()),
        ("bio", input.bio.is_some()),
        ("listedInDirectory", input.listed_in_directory.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
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
    journal::audit(&txn, viewer, "eraseLibrarian", NodeKind::Librarian, id, details).await?;
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
/// for good, and what associations sent cleared: it is personal data like the rest.
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

impl Profile {
    /// Sets the given fields on `model`; fields left out stay as they are.
    fn apply_to(&self, model: &mut librarian::ActiveModel) {
        if let Some(v) = self.full_name.clone() {
            model.full_name = Set(v);
        }
        if let Some(v) = self.email.clone() {
            model.email = Set(v);
        }
        if let Some(v) = self.country_code.clone() {
            model.country_code = Set(v);
        }
        if let Some(v) = self.institution.clone() {
            model.institution = Set(v);
        }
        if let Some(v) = self.sector {
            model.sector = Set(v.as_str().to_owned());
        }
        if let Some(v) = self.job_title.clone() {
            model.job_title = Set(v);
        }
        if let Some(v) = self.years_experience {
            model.years_experience = Set(v);
        }
        if let Some(v) = self.bio.clone() {
            model.bio = Set(v);
        }
        if let Some(v) = self.listed_in_directory {
            model.listed_in_directory = Set(v);
        }
    }
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
