//! Running a round through the API: the life cycle, applications, matching, pairings fixed
//! by hand, topics, engagement, completion and certificates, and the round reports.
//! Admins run rounds; librarians apply (or their association or an admin for them) and
//! report engagement; certificates are public by their verification id.

use std::sync::Arc;

use async_graphql::{Context, ID, MaybeUndefined, Object};

use crate::auth::policy;
use crate::domain::Action;
use crate::domain::counts::to_i32;
use crate::domain::{GlobalId, NodeKind};
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{Application, Certificate, DiscussionTopic, Pairing, Round};
use crate::service::applications::{self, Preferences};
use crate::service::country_share;
use crate::service::rounds::{self, RoundInput};
use crate::service::stats::Scope;

mod inputs;
mod matching;
mod reports;

pub use inputs::*;
pub use matching::*;
pub use reports::*;

/// The round of a global id.
fn round_id(id: &ID) -> async_graphql::Result<i32> {
    Ok(GlobalId::decode_int("roundId", id, NodeKind::Round)?)
}

/// Queries about rounds that are not fields of a round.
#[derive(Default)]
pub struct RoundQueries;

#[Object]
impl RoundQueries {
    /// A certificate, by the verification code printed on it (`Certificate.code`): public,
    /// so anyone can check it. It names the recipient, the round and the dates; no contact data.
    async fn certificate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The verification code printed on the certificate (in any case).")] code: String,
    ) -> async_graphql::Result<Option<Certificate>> {
        let found = rounds::certificate_by_code(&api(ctx)?.db, &code).await?;
        Ok(found.map(|c| Certificate(Arc::new(c))))
    }

    /// A round's figures across the network (admins).
    async fn round_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round, by its global id.")] round_id: ID,
    ) -> async_graphql::Result<RoundStats> {
        round_stats(ctx, &round_id, Scope::Network).await
    }
}

/// The mutations that run a round.
#[derive(Default)]
pub struct RoundMutations;

#[Object]
impl RoundMutations {
    /// Admin: a new round, in `DRAFT`.
    async fn create_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: CreateRoundInput,
    ) -> async_graphql::Result<CreateRoundPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let input = RoundInput {
            name: input.name,
            applications_open_at: input.applications_open_at,
            applications_close_at: input.applications_close_at,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            country_share: match input.country_share {
                MaybeUndefined::Undefined => Some(country_share::DEFAULT_COUNTRY_SHARE),
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(share) => Some(share),
            },
        };
        Ok(rounds::create(&api(ctx)?.db, viewer, input).await?.into())
    }

    /// Admin: `DRAFT -> OPEN`: librarians may apply.
    async fn open_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<OpenApplicationsPayload> {
        use crate::domain::RoundStatus::{Draft, Open};
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(rounds::transition(&api(ctx)?.db, viewer, id, Action::OpenApplications, &[Draft], Open).await?.into())
    }

    /// Admin: `OPEN -> MATCHING`: applications close.
    async fn close_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<CloseApplicationsPayload> {
        use crate::domain::RoundStatus::{Matching, Open};
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(rounds::transition(&api(ctx)?.db, viewer, id, Action::CloseApplications, &[Open], Matching).await?.into())
    }

    /// Admin: matches the round's applicants (round `MATCHING`). A run stores its groups as
    /// `PROPOSED` pairings, replacing the proposals of an earlier run; pairings made by hand
    /// are kept, and pairs an admin dissolved are never proposed again. `dryRun` only
    /// returns the groups.
    async fn run_matching(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RunMatchingInput,
    ) -> async_graphql::Result<RunMatchingPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let api = api(ctx)?;
        let outcome = rounds::run_matching(&api.db, viewer, &api.countries, &api.matching, id, input.dry_run).await?;
        let (run, user_errors) = payload(outcome, |r| r);
        Ok(RunMatchingPayload { run, user_errors })
    }

    /// Admin: pairs two or three applicants by hand (`MANUAL`; round `MATCHING` or `ACTIVE`).
    async fn pair_manually(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: PairManuallyInput,
    ) -> async_graphql::Result<PairManuallyPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let ids = input
            .librarian_ids
            .iter()
            .map(|l| GlobalId::decode_int("librarianIds", l, NodeKind::Librarian))
            .collect::<Result<Vec<i32>, _>>()?;
        let api = api(ctx)?;
        let outcome =
            rounds::pair_manually(&api.db, viewer, &api.countries, &api.matching, id, ids, input.force).await?;
        let (pairing, user_errors) = payload(outcome, |m| Pairing(Arc::new(m)));
        Ok(PairManuallyPayload { pairing, user_errors })
    }

    /// Admin: dissolves a pairing (round `MATCHING` or `ACTIVE`). Its members may be paired
    /// again, never with each other in this round.
    async fn dissolve_pairing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: DissolvePairingInput,
    ) -> async_graphql::Result<DissolvePairingPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("pairingId", &input.pairing_id, NodeKind::Pairing)?;
        let outcome = rounds::dissolve(&api(ctx)?.db, viewer, id).await?;
        let (pairing, user_errors) = payload(outcome, |m| Pairing(Arc::new(m)));
        Ok(DissolvePairingPayload { pairing, user_errors })
    }

    /// Admin: two librarians of two pairings change places; the two new pairings are
    /// `MANUAL`, validated against the hard rules unless `force`.
    async fn swap_partners(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: SwapPartnersInput,
    ) -> async_graphql::Result<SwapPartnersPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let first = GlobalId::decode_int("firstPairingId", &input.first_pairing_id, NodeKind::Pairing)?;
        let second = GlobalId::decode_int("secondPairingId", &input.second_pairing_id, NodeKind::Pairing)?;
        let a = GlobalId::decode_int("firstLibrarianId", &input.first_librarian_id, NodeKind::Librarian)?;
        let b = GlobalId::decode_int("secondLibrarianId", &input.second_librarian_id, NodeKind::Librarian)?;
        let api = api(ctx)?;
        let outcome =
            rounds::swap(&api.db, viewer, &api.countries, &api.matching, (first, a), (second, b), input.force).await?;
        Ok(match outcome {
            Ok((one, two)) => SwapPartnersPayload {
                pairings: vec![Pairing(Arc::new(one)), Pairing(Arc::new(two))],
                user_errors: Vec::new(),
            },
            Err(user_errors) => SwapPartnersPayload { pairings: Vec::new(), user_errors },
        })
    }

    /// Admin: `MATCHING -> ACTIVE`: proposals become active pairings.
    async fn confirm_pairings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<ConfirmPairingsPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(rounds::confirm(&api(ctx)?.db, viewer, id).await?.into())
    }

    /// Admin: `ACTIVE -> COMPLETED`: active pairings complete and each of their members
    /// gets a certificate.
    async fn complete_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<CompleteRoundPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(match rounds::complete(&api(ctx)?.db, viewer, id).await? {
            Ok((model, issued)) => CompleteRoundPayload {
                round: Some(Round(Arc::new(model))),
                certificates_issued: to_i32(issued),
                user_errors: Vec::new(),
            },
            Err(user_errors) => CompleteRoundPayload { round: None, certificates_issued: 0, user_errors },
        })
    }

    /// Admin: cancels a round that has not completed; its pairings are dissolved.
    async fn cancel_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<CancelRoundPayload> {
        use crate::domain::RoundStatus::{Active, Cancelled, Draft, Matching, Open};
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let from = [Draft, Open, Matching, Active];
        Ok(rounds::transition(&api(ctx)?.db, viewer, id, Action::CancelRound, &from, Cancelled).await?.into())
    }

    /// Applies to a round while it is `OPEN`: a librarian for themself, an admin or the
    /// member's association on their behalf. One application per librarian per round.
    async fn apply_to_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ApplyToRoundInput,
    ) -> async_graphql::Result<ApplyToRoundPayload> {
        let viewer = viewer(ctx)?;
        let id = round_id(&input.round_id)?;
        let named = input.librarian_id.as_ref().map(|l| GlobalId::decode_int("librarianId", l, NodeKind::Librarian));
        let librarian = policy::applicant(viewer, named.transpose()?)?;
        let prefs = Preferences {
            languages: input.languages,
            preferred_sectors: input.preferred_sectors,
            interests: input.interests,
            goal: input.goal,
            match_preference: input.match_preference,
        };
        let outcome = applications::apply(&api(ctx)?.db, viewer, id, librarian, prefs).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(ApplyToRoundPayload { application, user_errors })
    }

    /// Withdraws an application while the round is `OPEN` (whoever may apply for the librarian).
    async fn withdraw_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: WithdrawApplicationInput,
    ) -> async_graphql::Result<WithdrawApplicationPayload> {
        let viewer = viewer(ctx)?;
        let id = GlobalId::decode_int("applicationId", &input.application_id, NodeKind::Application)?;
        let outcome = applications::withdraw(&api(ctx)?.db, viewer, id).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(WithdrawApplicationPayload { application, user_errors })
    }

    /// Admin: sets the round's country share (round `DRAFT` or `OPEN`): when applications
    /// close, a country's applications beyond that share of the places are `DEFERRED`.
    async fn set_country_share(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: SetCountryShareInput,
    ) -> async_graphql::Result<SetCountrySharePayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(country_share::set_share(&api(ctx)?.db, viewer, id, input.country_share).await?.into())
    }

    /// Admin: defers a submitted application by hand before matching (round `MATCHING`);
    /// the matching leaves it out and its note tells the applicant why.
    async fn defer_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: DeferApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("applicationId", &input.application_id, NodeKind::Application)?;
        let outcome = country_share::defer(&api(ctx)?.db, viewer, id, input.note).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(ApplicationPayload { application, user_errors })
    }

    /// Admin: takes a deferred application back into its round before matching (round
    /// `MATCHING`), whatever its country's share.
    async fn readmit_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ReadmitApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("applicationId", &input.application_id, NodeKind::Application)?;
        let outcome = country_share::readmit(&api(ctx)?.db, viewer, id).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(ApplicationPayload { application, user_errors })
    }

    /// Admin: a discussion topic, shown to the round's participants from `publishAt`.
    async fn add_topic(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: AddTopicInput,
    ) -> async_graphql::Result<AddTopicPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let outcome = rounds::add_topic(&api(ctx)?.db, viewer, id, &input.title, &input.body, input.publish_at).await?;
        let (topic, user_errors) = payload(outcome, |m| DiscussionTopic(Arc::new(m)));
        Ok(AddTopicPayload { topic, user_errors })
    }

    /// A member of an active pairing reports on it: met or not, a rating, a comment.
    async fn report_engagement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ReportEngagementInput,
    ) -> async_graphql::Result<ReportEngagementPayload> {
        let who = viewer(ctx)?;
        let me = policy::librarian(who)?;
        let id = GlobalId::decode_int("pairingId", &input.pairing_id, NodeKind::Pairing)?;
        let report = rounds::Report { met: input.met, rating: input.rating, comment: input.comment.as_deref() };
        let outcome = rounds::report_engagement(&api(ctx)?.db, who, me, id, report).await?;
        let (report, user_errors) = payload(outcome, |m| EngagementReport(Arc::new(m)));
        Ok(ReportEngagementPayload { report, user_errors })
    }
}
