use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::application;

use super::{Librarian, Round, gid, required, stored};
use crate::domain::{ApplicationStatus, MatchPreference, NodeKind, Sector};
use crate::graphql::serial::Serial;

/// Why an application was deferred to a later round.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeferralReason {
    /// Its country had more applications than its share of the round's places; the
    /// earliest kept their places.
    CountryShare,
    /// An admin deferred it by hand.
    ByAdmin,
}

/// A deferral: why, and the note shown to the applicant.
#[derive(async_graphql::SimpleObject)]
pub struct ApplicationDeferral {
    /// Who put it off: the country share at the close of applications, or an admin.
    pub reason: DeferralReason,
    /// The explanation shown to the applicant (a standard one when an admin gave none).
    pub note: String,
}

pub struct Application(pub Arc<application::Model>);

impl From<Arc<application::Model>> for Application {
    fn from(model: Arc<application::Model>) -> Self {
        Self(model)
    }
}

impl Application {
    fn strings(&self, key: &str) -> Vec<String> {
        self.0
            .preferences
            .get(key)
            .and_then(|v| v.as_array())
            .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

/// A librarian's application to a round, with matching preferences.
#[Object]
impl Application {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Application, self.0.id)
    }

    /// The round applied to.
    async fn round(&self, ctx: &Context<'_>) -> async_graphql::Result<Serial<Round>> {
        required(ctx, self.0.round_id, |l| &l.round).await.map(|r| Serial(Round(r)))
    }

    /// The applicant.
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Serial<Librarian>> {
        required(ctx, self.0.librarian_id, |l| &l.librarian).await.map(|l| Serial(Librarian::from(l)))
    }

    /// Where the application stands.
    async fn status(&self) -> async_graphql::Result<ApplicationStatus> {
        stored(ApplicationStatus::parse(&self.0.status), "status")
    }

    /// What the applicant cares most about in a partner (the engine weighs it).
    async fn match_preference(&self) -> async_graphql::Result<MatchPreference> {
        stored(MatchPreference::parse(&self.0.match_preference), "match_preference")
    }

    /// Languages the applicant can work in with a partner (ISO 639-1).
    async fn languages(&self) -> Vec<String> {
        self.strings("languages")
    }

    /// Sectors the applicant would like a partner from.
    async fn preferred_sectors(&self) -> Vec<Sector> {
        self.strings("preferredSectors").iter().filter_map(|s| Sector::parse(s)).collect()
    }

    /// Interests the applicant wants to talk about.
    async fn interests(&self) -> Vec<String> {
        self.strings("interests")
    }

    /// What the applicant hopes to get from the round.
    async fn goal(&self) -> Option<&str> {
        self.0.goal.as_deref()
    }

    /// Why a `DEFERRED` application is deferred, and the note that explains it; null
    /// otherwise.
    async fn deferral(&self) -> Option<ApplicationDeferral> {
        let reason = match self.0.deferral.as_deref()? {
            crate::service::country_share::BY_COUNTRY_SHARE => DeferralReason::CountryShare,
            _ => DeferralReason::ByAdmin,
        };
        Some(ApplicationDeferral { reason, note: self.0.deferral_note.clone().unwrap_or_default() })
    }

    /// When the application was made (a new application after a withdrawal counts from
    /// then): the order in which the country share keeps applications.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the application last changed (its status, preferences or deferral).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
