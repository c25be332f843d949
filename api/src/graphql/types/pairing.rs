use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::pairing;

use super::{Librarian, Round, gid, many, required, stored};
use crate::auth::policy;
use crate::domain::{NodeKind, PairingOrigin, PairingStatus};
use crate::error::ApiError;
use crate::graphql::context::{loaders, viewer};
use crate::graphql::prefetch;
use crate::graphql::serial::{Items, Serial};

/// The fields of `Pairing` that a brief row (`service::relations::BriefPairing`) answers:
/// its id, round and status, and its members (by the pairing's id).
static BRIEF_FIELDS: [&str; 5] = ["__typename", "id", "round", "status", "members"];

/// Whether the pairings selected by `sel` read only [`BRIEF_FIELDS`] (see
/// [`prefetch::selects_only`]).
pub fn brief(sel: &async_graphql::Lookahead<'_>) -> bool {
    prefetch::selects_only(sel, &BRIEF_FIELDS)
}

/// [`brief`] for the pairings of the field `ctx` resolves, decided once per field of the
/// document (see [`prefetch::field_selects_only`]).
pub fn brief_field(ctx: &Context<'_>) -> bool {
    prefetch::field_selects_only(ctx, &BRIEF_FIELDS)
}

pub struct Pairing(pub Arc<pairing::Model>);

impl From<Arc<pairing::Model>> for Pairing {
    fn from(model: Arc<pairing::Model>) -> Self {
        Self(model)
    }
}

/// Two librarians (or three, for a group of three) paired for a round.
#[Object]
impl Pairing {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Pairing, self.0.id)
    }

    /// The round it belongs to.
    async fn round(&self, ctx: &Context<'_>) -> async_graphql::Result<Serial<Round>> {
        required(ctx, self.0.round_id, |l| &l.round).await.map(|r| Serial(Round(r)))
    }

    /// Where it is in its life.
    async fn status(&self) -> async_graphql::Result<PairingStatus> {
        stored(PairingStatus::parse(&self.0.status), "status")
    }

    /// Whether the matching engine proposed it or a director made it by hand.
    async fn origin(&self) -> async_graphql::Result<PairingOrigin> {
        stored(PairingOrigin::parse(&self.0.origin), "origin")
    }

    /// Matching score: higher is a better fit.
    async fn score(&self) -> i32 {
        self.0.score
    }

    /// Why these people were paired, in words. It names every member's country, languages
    /// and interests, so it is `null` with a `FORBIDDEN` error for a viewer who may not
    /// read the profile of every member.
    async fn explanation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let viewer = viewer(ctx)?;
        if !policy::reads_every_profile(viewer) {
            let visible = many(ctx, self.0.id, |l| &l.members_of_pairing).await?;
            let members = loaders(ctx)?.member_count.load_one(self.0.id).await?.unwrap_or(0);
            if !policy::reads_explanation(viewer, usize::try_from(members).unwrap_or(0), &visible) {
                let error: async_graphql::Error =
                    ApiError::Forbidden("the explanation describes members you may not read".into()).into();
                ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
                return Ok(None);
            }
        }
        Ok(Some(&self.0.explanation))
    }

    /// The two or three partners.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Items<Serial<Librarian>>> {
        let rows = if super::librarian::brief_field(ctx) {
            many(ctx, self.0.id, |l| &l.brief_members_of_pairing).await?
        } else {
            many(ctx, self.0.id, |l| &l.members_of_pairing).await?
        };
        Ok(rows.into_iter().map(|l| Serial(Librarian::from(l))).collect())
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the record last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
