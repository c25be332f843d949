//! Engagement reports and the round reports (applicants, matches, engagement, partner
//! countries) for admins, ambassadors and associations.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::engagement_report;

use crate::auth::policy::{self, ReportOf};
use crate::domain::NodeKind;
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{Country, Librarian, Pairing, country_of};
use crate::service::stats::{self, Scope};

use super::round_id;

pub struct EngagementReport(pub Arc<engagement_report::Model>);

/// A participant's report on their pairing, read by the participant, their ambassadors and
/// associations, and admins (not by their partners).
#[Object]
impl EngagementReport {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        crate::graphql::types::gid(NodeKind::EngagementReport, self.0.id)
    }

    /// The participant who reported (`null` when the caller may not see them).
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Librarian>> {
        Ok(crate::graphql::context::loaders(ctx)?.librarian.load_one(self.0.librarian_id).await?.map(Librarian::from))
    }

    /// The pairing reported on (`null` for a caller who may not see it).
    async fn pairing(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Pairing>> {
        Ok(crate::graphql::context::loaders(ctx)?.pairing.load_one(self.0.pairing_id).await?.map(Pairing))
    }

    /// Whether the partners met (or talked) since the last report.
    async fn met(&self) -> bool {
        self.0.met
    }

    /// 1 (poor) to 5 (excellent), when given.
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }

    /// The participant's comment, when given.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Engagement reported by a report's participants.
#[derive(SimpleObject)]
pub struct EngagementStats {
    /// Engagement reports filed.
    pub reports: i64,
    /// Reports that say the partners met.
    pub met: i64,
    /// The mean of the ratings given (1 to 5); `null` when no report gave one.
    pub average_rating: Option<f64>,
    /// Pairings with a report of a meeting.
    pub engaged_pairings: i64,
    /// Pairings whose reports all say they did not meet.
    pub disengaged_pairings: i64,
}

pub struct PartnerCountry(String, i64);

/// How many partners came from a country.
#[Object]
impl PartnerCountry {
    /// The country.
    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Country> {
        country_of(ctx, &self.0)
    }

    /// How many partners came from it.
    async fn count(&self) -> i64 {
        self.1
    }
}

pub struct RoundStats(pub(super) stats::RoundStats);

/// A round's figures for a country, an association's members or the network.
#[Object]
impl RoundStats {
    /// Applications (not withdrawn), deferred ones included.
    async fn applicants(&self) -> i64 {
        self.0.applicants
    }

    /// Applications deferred to a later round (by the country share or by hand).
    async fn deferred(&self) -> i64 {
        self.0.deferred
    }

    /// Participants in a pairing that was not dissolved.
    async fn matched(&self) -> i64 {
        self.0.matched
    }

    /// Participants of completed pairings.
    async fn completed(&self) -> i64 {
        self.0.completed
    }

    /// What the participants reported about their pairings.
    async fn engagement(&self) -> EngagementStats {
        let e = &self.0.engagement;
        EngagementStats {
            reports: e.reports,
            met: e.met,
            average_rating: e.average_rating,
            engaged_pairings: e.engaged_pairings,
            disengaged_pairings: e.disengaged_pairings,
        }
    }

    /// The countries of the participants' partners, most partners first.
    async fn partner_countries(&self) -> Vec<PartnerCountry> {
        self.0.partner_countries.iter().map(|(c, n)| PartnerCountry(c.clone(), *n)).collect()
    }
}

/// `roundStats` for `scope`, after checking the viewer may read it: admins everything,
/// an ambassador their countries, an association its own members.
pub async fn round_stats(ctx: &Context<'_>, round: &ID, scope: Scope) -> async_graphql::Result<RoundStats> {
    let of = match &scope {
        Scope::Network => ReportOf::Network,
        Scope::Country(code) => ReportOf::Country(code),
        Scope::Association(id) => ReportOf::Association(*id),
    };
    policy::round_report(viewer(ctx)?, of)?;
    let id = round_id(round)?;
    Ok(RoundStats(stats::round_stats(&api(ctx)?.db, id, &scope).await?))
}
