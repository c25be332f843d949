//! A librarian's consent to the memberships associations hold of them: a sync that names
//! someone already in the network by email links them `PENDING`, and only the librarian
//! (or an admin) can confirm or decline it. Pending links are listed in
//! `viewer { librarian { memberships { consent sent { .. } association { name } } } }`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::domain::input::UserError;
use crate::domain::{GlobalId, NodeKind};
use crate::graphql::context::{api, viewer};
use crate::graphql::types::Membership;
use crate::service::memberships::{self, Decision};

/// A membership the librarian (or an admin) confirms.
#[derive(InputObject)]
pub struct ConfirmMembershipInput {
    /// The membership's global id.
    pub membership_id: ID,
}

/// A membership the librarian (or an admin) declines.
#[derive(InputObject)]
pub struct DeclineMembershipInput {
    /// The membership's global id.
    pub membership_id: ID,
}

/// The membership with the librarian's decision.
#[derive(SimpleObject)]
pub struct MembershipConsentPayload {
    /// The membership as the decision left it; `null` when it was refused (see `userErrors`).
    pub membership: Option<Membership>,
    /// What the caller can fix; empty when the decision was recorded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct ConsentMutations;

async fn decide(ctx: &Context<'_>, id: &ID, decision: Decision) -> async_graphql::Result<MembershipConsentPayload> {
    let viewer = viewer(ctx)?;
    let id = GlobalId::decode_int("membershipId", id, NodeKind::Membership)?;
    Ok(match memberships::decide(&api(ctx)?.db, viewer, id, decision).await? {
        Ok(model) => {
            MembershipConsentPayload { membership: Some(Membership(Arc::new(model))), user_errors: Vec::new() }
        }
        Err(user_errors) => MembershipConsentPayload { membership: None, user_errors },
    })
}

#[Object]
impl ConsentMutations {
    /// The librarian (or an admin) confirms a membership an association linked them to:
    /// from now on the association sees them, their applications and pairings.
    async fn confirm_membership(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ConfirmMembershipInput,
    ) -> async_graphql::Result<MembershipConsentPayload> {
        decide(ctx, &input.membership_id, Decision::Confirm).await
    }

    /// The librarian (or an admin) declines a membership an association linked them to:
    /// the association sees nothing of them, whatever its later syncs send.
    async fn decline_membership(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: DeclineMembershipInput,
    ) -> async_graphql::Result<MembershipConsentPayload> {
        decide(ctx, &input.membership_id, Decision::Decline).await
    }
}
