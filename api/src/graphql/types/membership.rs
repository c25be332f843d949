use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::membership;

use super::{Association, CountryCodeScalar, Librarian, gid, required, stored};
use crate::auth::policy;
use crate::domain::{MembershipConsent, MembershipStatus, NodeKind, Sector};
use crate::error::ApiError;
use crate::graphql::context::{loaders, viewer};
use crate::graphql::prefetch;
use crate::graphql::serial::Serial;
use crate::service::sync::SentMember as Sent;

/// The fields of `Membership` that a brief row (`service::relations::BRIEF_MEMBERSHIP`)
/// answers: its ids, its member id and its status, and the related objects by their keys.
static BRIEF_FIELDS: [&str; 6] = ["__typename", "id", "externalId", "status", "association", "librarian"];

/// Whether the memberships selected by `sel` read only [`BRIEF_FIELDS`] (see
/// [`prefetch::selects_only`]).
pub fn brief(sel: &async_graphql::Lookahead<'_>) -> bool {
    prefetch::selects_only(sel, &BRIEF_FIELDS)
}

/// [`brief`] for the memberships of the field `ctx` resolves, decided once per field of the
/// document (see [`prefetch::field_selects_only`]).
pub fn brief_field(ctx: &Context<'_>) -> bool {
    prefetch::field_selects_only(ctx, &BRIEF_FIELDS)
}

/// What an association sent for a member it linked to someone already in the network: all
/// it sees of that person until they confirm the membership.
#[derive(SimpleObject)]
pub struct SentMember {
    /// Their email, as sent.
    pub email: Option<String>,
    /// Their full name, as sent.
    pub full_name: Option<String>,
    /// Their country, as sent.
    pub country_code: Option<CountryCodeScalar>,
    /// Where they work, as sent.
    pub institution: Option<String>,
    /// The kind of institution, as sent.
    pub sector: Option<Sector>,
    /// Their job title, as sent.
    pub job_title: Option<String>,
    /// Years in the profession, as sent.
    pub years_experience: Option<i32>,
    /// Working languages (ISO 639-1 codes), as sent.
    pub languages: Option<Vec<String>>,
    /// Interest tags, as sent.
    pub interests: Option<Vec<String>>,
}

impl From<Sent> for SentMember {
    fn from(sent: Sent) -> Self {
        Self {
            email: sent.email,
            full_name: sent.full_name,
            country_code: sent.country_code.map(CountryCodeScalar),
            institution: sent.institution,
            sector: sent.sector.as_deref().and_then(Sector::parse),
            job_title: sent.job_title,
            years_experience: sent.years_experience,
            languages: sent.languages,
            interests: sent.interests,
        }
    }
}

pub struct Membership(pub Arc<membership::Model>);

impl From<Arc<membership::Model>> for Membership {
    fn from(model: Arc<membership::Model>) -> Self {
        Self(model)
    }
}

/// A librarian's membership of an association, keyed by the association's own member id.
#[Object]
impl Membership {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Membership, self.0.id)
    }

    /// The association's own id for this member.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }

    /// Where it is in its life.
    async fn status(&self) -> async_graphql::Result<MembershipStatus> {
        stored(MembershipStatus::parse(&self.0.status), "status")
    }

    /// When the membership was deactivated (a tombstone), if it was.
    async fn deactivated_at(&self) -> Option<DateTime<Utc>> {
        self.0.deactivated_at
    }

    /// Incremented by every change: pass it back to update only what you read.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the record last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Whether the librarian agreed to this membership. A link the association made by
    /// email to someone already in the network is `PENDING` until they (or an admin)
    /// confirm it, and gives the association no view of them until then.
    async fn consent(&self) -> async_graphql::Result<MembershipConsent> {
        stored(MembershipConsent::parse(&self.0.consent), "consent")
    }

    /// What the association sent for a linked member (`null` for a member its sync
    /// created: their profile is what it sent). Read by the association, the librarian
    /// and admins.
    async fn sent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SentMember>> {
        if !policy::reads_sent_member(viewer(ctx)?) {
            let error: async_graphql::Error =
                ApiError::Forbidden("what an association sent is for it, the librarian and admins".into()).into();
            ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
            return Ok(None);
        }
        Ok(Sent::parse_sent(self.0.sent.as_deref()).map(SentMember::from))
    }

    /// The member: `null` while the viewer may not see them (for the association, until
    /// the librarian confirms a link).
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Serial<Librarian>>> {
        Ok(loaders(ctx)?.librarian.load_one(self.0.librarian_id).await?.map(|l| Serial(Librarian::from(l))))
    }

    /// The association they are a member of.
    async fn association(&self, ctx: &Context<'_>) -> async_graphql::Result<Serial<Association>> {
        required(ctx, self.0.association_id, |l| &l.association).await.map(|a| Serial(Association(a)))
    }
}
