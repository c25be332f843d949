use std::sync::{Arc, OnceLock};

use async_graphql::{Context, ID, Lookahead, Object};
use chrono::{DateTime, Utc};
use entities::librarian;
use sea_orm::{IdenStatic, Iterable};

use super::{Application, Country, LibrarianOrder, Membership, Pairing, country_of, gid, many, stored};
use crate::auth::policy::{self, LibrarianAccess};
use crate::domain::{LibrarianOrderField, NodeKind, OrderDirection, Sector};
use crate::error::ErrorCode;
use crate::graphql::connection::{Conn, ConnectionTotals, connection};
use crate::graphql::context::{api, viewer};
use crate::graphql::prefetch;
use crate::graphql::serial::{Items, Leaves, Serial};
use crate::service::{filters, filters::LibrarianFilter, orderings, page, page::PageArgs};

/// A librarian as the schema shows it: the row, and what the viewer may read of it (worked
/// out at the first field that asks, then kept: a participant in a list asks for each of
/// its guarded fields).
pub struct Librarian(pub Arc<librarian::Model>, OnceLock<LibrarianAccess>);

impl From<Arc<librarian::Model>> for Librarian {
    fn from(model: Arc<librarian::Model>) -> Self {
        Self(model, OnceLock::new())
    }
}

/// The fields of `Librarian` that a brief row (`service::relations::BRIEF_LIBRARIAN`)
/// answers: the columns the policy reads, and nothing a denied field would need.
static BRIEF_FIELDS: [&str; 5] = ["__typename", "id", "fullName", "country", "erasedAt"];

/// Whether the librarians selected by `sel` (every field `sel` covers, their fragments
/// included whatever their type condition) read only [`BRIEF_FIELDS`]: then brief rows
/// serve them. The list's prefetch and the field's resolver both decide with this, so a
/// brief row never reaches a selection that reads more.
pub fn brief(sel: &Lookahead<'_>) -> bool {
    prefetch::selects_only(sel, &BRIEF_FIELDS)
}

/// [`brief`] for the librarians of the field `ctx` resolves, decided once per field of the
/// document (see [`prefetch::field_selects_only`]).
pub fn brief_field(ctx: &Context<'_>) -> bool {
    prefetch::field_selects_only(ctx, &BRIEF_FIELDS)
}

/// Denies `field`: reports a `FORBIDDEN` error at the field's path and answers `null`.
///
/// Returning the error instead would make async-graphql leave the key out of its object,
/// where the GraphQL specification (and clients' normalised caches) expect `"field": null`.
///
/// The error is built as `ApiError::Forbidden` converts (the same message, code and typed
/// source), without formatting the message twice: a list of participants who keep their
/// email to themselves denies it once per item.
fn denied<T>(ctx: &Context<'_>, field: &str) -> Option<T> {
    let message = ["you may not read `", field, "` of this librarian"].concat();
    let mut error = async_graphql::ServerError::new(message, Some(ctx.item.pos));
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", ErrorCode::Forbidden.as_str());
    error.extensions = Some(extensions);
    error.source = Some(Arc::new(ErrorCode::Forbidden));
    ctx.add_error(ctx.set_error_path(error));
    None
}

impl Librarian {
    fn access(&self, ctx: &Context<'_>) -> async_graphql::Result<LibrarianAccess> {
        if let Some(access) = self.1.get() {
            return Ok(*access);
        }
        let access = policy::librarian_access(viewer(ctx)?, &self.0);
        Ok(*self.1.get_or_init(|| access))
    }

    /// `value` if the viewer may read the contact group.
    fn contact<T>(&self, ctx: &Context<'_>, field: &str, value: T) -> async_graphql::Result<Option<T>> {
        Ok(if self.access(ctx)?.contact { Some(value) } else { denied(ctx, field) })
    }

    fn profile<T>(&self, ctx: &Context<'_>, field: &str, value: T) -> async_graphql::Result<Option<T>> {
        Ok(if self.access(ctx)?.profile { Some(value) } else { denied(ctx, field) })
    }

    fn record<T>(&self, ctx: &Context<'_>, field: &str, value: T) -> async_graphql::Result<Option<T>> {
        Ok(if self.access(ctx)?.record { Some(value) } else { denied(ctx, field) })
    }
}

/// A participant of the network: a librarian, archivist or information professional.
///
/// Anyone who may see the librarian reads `id`, `fullName`, `country` and `erasedAt`.
/// The other fields come in three groups. Contact (`email`): the librarian, their partners,
/// associations and admins, and their country's ambassadors if they are listed in the
/// directory. Profile (work, languages, interests, bio, consent): the same, but other
/// librarians (partners included) only if they are listed. Record (version, timestamps,
/// memberships, applications, pairings): the librarian, their associations, their
/// country's ambassadors and admins. A denied field is `null`, with a `FORBIDDEN` error
/// for that field alone.
#[Object]
impl Librarian {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Librarian, self.0.id)
    }

    /// Their full name as they write it (`Erased librarian` once their data is erased).
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }

    /// Contact email (contact group: the librarian, their partners, their associations,
    /// admins, and their country's ambassadors if they consented to be listed).
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        self.contact(ctx, "email", self.0.email.as_str())
    }

    /// The country they live and work in.
    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Serial<Country>> {
        country_of(ctx, &self.0.country_code).map(Serial)
    }

    /// Where they work (profile group).
    async fn institution(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        Ok(self.profile(ctx, "institution", self.0.institution.as_deref())?.flatten())
    }

    /// The kind of institution they work in (profile group).
    async fn sector(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sector>> {
        if self.profile(ctx, "sector", ())?.is_none() {
            return Ok(None);
        }
        stored(Sector::parse(&self.0.sector), "sector").map(Some)
    }

    /// Their job title (profile group).
    async fn job_title(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        Ok(self.profile(ctx, "jobTitle", self.0.job_title.as_deref())?.flatten())
    }

    /// Years in the profession (profile group).
    async fn years_experience(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        self.profile(ctx, "yearsExperience", self.0.years_experience)
    }

    /// Working languages, ISO 639-1 codes (profile group).
    async fn languages(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Leaves<String>>> {
        if self.profile(ctx, "languages", ())?.is_none() {
            return Ok(None);
        }
        many(ctx, self.0.id, |l| &l.languages_of_librarian).await.map(|codes| Some(Leaves(codes)))
    }

    /// Interest tags (profile group).
    async fn interests(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Leaves<String>>> {
        if self.profile(ctx, "interests", ())?.is_none() {
            return Ok(None);
        }
        many(ctx, self.0.id, |l| &l.interests_of_librarian).await.map(|tags| Some(Leaves(tags)))
    }

    /// A few words about themselves (profile group).
    async fn bio(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        Ok(self.profile(ctx, "bio", self.0.bio.as_deref())?.flatten())
    }

    /// Whether the librarian consented to appear in the network's directory (profile group).
    async fn listed_in_directory(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        self.profile(ctx, "listedInDirectory", self.0.listed_in_directory)
    }

    /// When the librarian was erased (their personal data anonymised), if they were.
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.0.erased_at
    }

    /// Version for optimistic concurrency: it changes on every update (record group).
    async fn version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        self.record(ctx, "version", self.0.version)
    }

    /// When the record was created (record group).
    async fn created_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        self.record(ctx, "createdAt", self.0.created_at)
    }

    /// When the record last changed (record group).
    async fn updated_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        self.record(ctx, "updatedAt", self.0.updated_at)
    }

    /// Association memberships, active and deactivated, that the caller may see (record group).
    async fn memberships(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Items<Serial<Membership>>>> {
        if self.record(ctx, "memberships", ())?.is_none() {
            return Ok(None);
        }
        let rows = if super::membership::brief_field(ctx) {
            many(ctx, self.0.id, |l| &l.brief_memberships_of_librarian).await?
        } else {
            many(ctx, self.0.id, |l| &l.memberships_of_librarian).await?
        };
        Ok(Some(rows.into_iter().map(|m| Serial(Membership(m))).collect()))
    }

    /// Applications to rounds, oldest first (record group).
    async fn applications(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Items<Serial<Application>>>> {
        if self.record(ctx, "applications", ())?.is_none() {
            return Ok(None);
        }
        let rows = many(ctx, self.0.id, |l| &l.applications_of_librarian).await?;
        Ok(Some(rows.into_iter().map(|a| Serial(Application(a))).collect()))
    }

    /// Pairings in all rounds, oldest first (record group).
    async fn pairings(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Items<Serial<Pairing>>>> {
        if self.record(ctx, "pairings", ())?.is_none() {
            return Ok(None);
        }
        let rows = if super::pairing::brief_field(ctx) {
            many(ctx, self.0.id, |l| &l.brief_pairings_of_librarian).await?
        } else {
            many(ctx, self.0.id, |l| &l.pairings_of_librarian).await?
        };
        Ok(Some(rows.into_iter().map(|p| Serial(Pairing(p))).collect()))
    }
}

/// A page of librarians matching `filter`, shared by every librarian list of the schema.
///
/// # Errors
/// `BAD_USER_INPUT` for bad page arguments; database errors.
pub async fn librarian_connection(
    ctx: &Context<'_>,
    filter: LibrarianFilter,
    order_by: Option<LibrarianOrder>,
    args: PageArgs,
) -> async_graphql::Result<Conn<Librarian>> {
    let api = api(ctx)?;
    let order = order_by.unwrap_or(LibrarianOrder { field: LibrarianOrderField::Id, direction: OrderDirection::Asc });
    let select = filters::librarians(viewer(ctx)?, &filter, order.field);
    let ordering = orderings::librarians(order.field, order.direction);
    let items = prefetch::items(ctx);
    let present = items.as_ref().and_then(|sel| page_columns(sel, &ordering));
    let page =
        page::paginate_some(&api.reader, select.clone(), &ordering, &args, api.page_limits, present.as_deref()).await?;
    if let Some(sel) = items {
        prefetch::librarians(ctx, sel, page.models()).await?;
    }
    Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
}

/// The columns a page of librarians reads for `sel` (the selection of its items, fragments
/// included) and for the cursors of `ordering`, marked in the entity's column order;
/// `None` (every column) when `sel` selects a field this table does not know. The rows of a
/// page go only to its items (their relations are prefetched by id), so a page of 50
/// participants selected for their name and email no longer reads their bios and
/// timestamps.
pub fn page_columns(sel: &Lookahead<'_>, ordering: &page::Ordering<librarian::Entity>) -> Option<Vec<bool>> {
    use librarian::Column as C;
    // What the policy reads (`policy::librarian_access`), the cursors' keys, and the fields.
    let mut needed: Vec<C> = vec![C::Id, C::CountryCode, C::ListedInDirectory, C::ErasedAt];
    needed.extend(ordering.columns.iter().map(|(column, _)| *column));
    for field in sel.selection_fields() {
        for child in field.selection_set() {
            needed.push(match child.name() {
                "__typename" | "id" | "country" | "listedInDirectory" | "erasedAt" | "languages" | "interests"
                | "memberships" | "applications" | "pairings" => continue,
                "fullName" => C::FullName,
                "email" => C::Email,
                "institution" => C::Institution,
                "sector" => C::Sector,
                "jobTitle" => C::JobTitle,
                "yearsExperience" => C::YearsExperience,
                "bio" => C::Bio,
                "version" => C::Version,
                "createdAt" => C::CreatedAt,
                "updatedAt" => C::UpdatedAt,
                _ => return None,
            });
        }
    }
    Some(C::iter().map(|column| needed.iter().any(|n| n.as_str() == column.as_str())).collect())
}
