//! The root `Mutation` type: privacy (the librarian's own data) and the admin writes that
//! run the network. Each mutation is one transaction; what the caller can fix comes back
//! as `userErrors`, everything else as a top-level error with a code.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use crate::auth::policy;
use crate::domain::SyncSource;
use crate::domain::{GlobalId, NodeKind};
use crate::error::ApiError;
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{
    Ambassador, Association, ChangeEntityType, Librarian, Membership, SyncMembersPayload, Webhook,
};
use crate::service::memberships::{self, MembershipChanges};
use crate::service::partners::{self, AssociationInput};
use crate::service::people::{self, ProfileInput};
use crate::service::sync::{self, MemberRecord, SyncRequest};
use crate::service::{feed, webhooks};

/// Members one `syncMembers` call may carry; larger lists go through the bulk path.
pub const MAX_GRAPHQL_MEMBERS: usize = 10_000;

mod inputs;

pub use inputs::*;

#[derive(Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// The calling librarian says whether they appear in the directory.
    async fn set_directory_consent(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: SetDirectoryConsentInput,
    ) -> async_graphql::Result<SetDirectoryConsentPayload> {
        let viewer = viewer(ctx)?;
        let me = policy::librarian(viewer)?;
        let changes = ProfileInput { listed_in_directory: Some(input.listed), ..ProfileInput::default() };
        let outcome = people::update(&api(ctx)?.db, viewer, me, changes, None).await?;
        Ok(SetDirectoryConsentPayload::from_outcome(outcome, Librarian::from))
    }

    /// The calling librarian edits their profile.
    async fn update_my_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: UpdateMyProfileInput,
    ) -> async_graphql::Result<UpdateMyProfilePayload> {
        let viewer = viewer(ctx)?;
        let me = policy::librarian(viewer)?;
        let expected_version = input.expected_version;
        let changes = ProfileInput::from(input);
        let outcome = people::update(&api(ctx)?.db, viewer, me, changes, expected_version).await?;
        Ok(UpdateMyProfilePayload::from_outcome(outcome, Librarian::from))
    }

    /// Erases a librarian (the librarian themself, or an admin): personal data is
    /// anonymised for good, memberships are deactivated, pairings stay for statistics
    /// showing "Erased librarian", and partners learn it from the change log. Erasing an
    /// erased librarian changes nothing.
    async fn erase_librarian(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: EraseLibrarianInput,
    ) -> async_graphql::Result<EraseLibrarianPayload> {
        let viewer = viewer(ctx)?;
        let id = GlobalId::decode_int("librarianId", &input.librarian_id, NodeKind::Librarian)?;
        policy::librarian_or_admin(viewer, id, "erase")?;
        let outcome = people::erase(&api(ctx)?.db, viewer, id).await?;
        Ok(EraseLibrarianPayload::from_outcome(outcome, Librarian::from))
    }

    /// Admin: adds a librarian to the network.
    async fn create_librarian(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: CreateLibrarianInput,
    ) -> async_graphql::Result<CreateLibrarianPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let profile = ProfileInput::from(input);
        let outcome = people::create(&api(ctx)?.db, viewer, profile).await?;
        Ok(CreateLibrarianPayload::from_outcome(outcome, Librarian::from))
    }

    /// Admin: adds a partner association.
    async fn create_association(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: CreateAssociationInput,
    ) -> async_graphql::Result<CreateAssociationPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let changes = AssociationInput {
            name: Some(input.name),
            country_code: Some(input.country_code.into()),
            website: input.website,
        };
        let outcome = partners::save_association(&api(ctx)?.db, viewer, None, changes).await?;
        Ok(CreateAssociationPayload::from_outcome(outcome, Association))
    }

    /// Admin: changes an association's name, country or website.
    async fn update_association(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: UpdateAssociationInput,
    ) -> async_graphql::Result<UpdateAssociationPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("associationId", &input.association_id, NodeKind::Association)?;
        let changes = AssociationInput {
            name: input.name,
            country_code: input.country_code.map(String::from),
            website: input.website,
        };
        let outcome = partners::save_association(&api(ctx)?.db, viewer, Some(id), changes).await?;
        Ok(UpdateAssociationPayload::from_outcome(outcome, Association))
    }

    /// Admin: appoints a librarian ambassador of a country.
    async fn appoint_ambassador(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: AppointAmbassadorInput,
    ) -> async_graphql::Result<AppointAmbassadorPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let librarian = GlobalId::decode_int("librarianId", &input.librarian_id, NodeKind::Librarian)?;
        let outcome = partners::appoint_ambassador(
            &api(ctx)?.db,
            viewer,
            librarian,
            input.country_code.as_str(),
            input.term_from,
            input.term_until,
        )
        .await?;
        Ok(AppointAmbassadorPayload::from_outcome(outcome, Ambassador))
    }

    /// Admin: ends an ambassador's term (their tokens that name them stop working).
    async fn end_ambassador(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: EndAmbassadorInput,
    ) -> async_graphql::Result<EndAmbassadorPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("ambassadorId", &input.ambassador_id, NodeKind::Ambassador)?;
        let outcome = partners::end_ambassador(&api(ctx)?.db, viewer, id, input.term_until).await?;
        Ok(EndAmbassadorPayload::from_outcome(outcome, Ambassador))
    }

    /// Syncs an association's membership (the association itself or an admin): members
    /// are matched by `externalId`; someone already in the network is linked by email, not
    /// duplicated. `UPSERT` creates, updates or reactivates the listed members;
    /// `FULL_REPLACE` also deactivates members missing from the list. Invalid rows are
    /// skipped and reported by index; the others are applied in one transaction.
    ///
    /// `idempotencyKey`: a retry with the same key and input returns the first result
    /// without applying anything again; the same key with another input is `CONFLICT`.
    /// Keys are remembered for 24 hours (`idempotency_ttl_secs`).
    async fn sync_members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: SyncMembersInput,
        #[graphql(
            desc = "A key of the client's choosing: a second request with the same key and the same members replays the first one's answer instead of syncing again (keys are remembered for a day)."
        )]
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<SyncMembersPayload> {
        let viewer = viewer(ctx)?;
        let association_id = GlobalId::decode_int("associationId", &input.association_id, NodeKind::Association)?;
        if input.members.len() > MAX_GRAPHQL_MEMBERS {
            return Err(ApiError::bad_input(
                "members",
                format!(
                    "`members` takes at most {MAX_GRAPHQL_MEMBERS} members per call (got {}); send larger lists to POST /bulk/members",
                    input.members.len()
                ),
            )
            .into());
        }
        let members = input.members.into_iter().map(MemberRecord::from).collect();
        let api = api(ctx)?;
        let request = SyncRequest {
            association_id,
            mode: input.mode,
            dry_run: input.dry_run,
            members,
            unreadable: Vec::new(),
            idempotency_key,
            source: SyncSource::Graphql,
            precondition: None,
        };
        Ok(SyncMembersPayload(sync::sync(&api.db, viewer, api.sync, request).await?))
    }

    /// Changes one membership's external id or status (the association or an admin).
    async fn update_membership(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: UpdateMembershipInput,
    ) -> async_graphql::Result<UpdateMembershipPayload> {
        let viewer = viewer(ctx)?;
        let id = GlobalId::decode_int("membershipId", &input.membership_id, NodeKind::Membership)?;
        let changes = MembershipChanges { external_id: input.external_id, active: input.active };
        let outcome = memberships::update(&api(ctx)?.db, viewer, id, changes, input.expected_version).await?;
        Ok(UpdateMembershipPayload::from_outcome(outcome, Membership))
    }

    /// Registers a URL that receives the association's change events (the association or
    /// an admin): batches of events POSTed as JSON, signed in `Interlib-Signature`
    /// (`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), retried with exponential
    /// back-off. The delivery state is in `Webhook.deliveries`.
    async fn register_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RegisterWebhookInput,
    ) -> async_graphql::Result<RegisterWebhookPayload> {
        let viewer = viewer(ctx)?;
        let association_id = GlobalId::decode_int("associationId", &input.association_id, NodeKind::Association)?;
        let after = input.after.as_deref().map(|c| feed::decode_cursor("after", c)).transpose()?;
        let kinds: Vec<NodeKind> =
            input.entity_types.unwrap_or_default().into_iter().map(ChangeEntityType::kind).collect();
        let api = api(ctx)?;
        let target = webhooks::Target { url: &input.url, allow_private_networks: api.webhook_private_networks };
        let outcome = webhooks::register(&api.db, viewer, association_id, target, &kinds, after).await?;
        Ok(match outcome {
            Ok(model) => RegisterWebhookPayload {
                secret: Some(model.secret.clone()),
                webhook: Some(Webhook(Arc::new(model))),
                user_errors: Vec::new(),
            },
            Err(user_errors) => RegisterWebhookPayload { webhook: None, secret: None, user_errors },
        })
    }

    /// Deletes a webhook and its delivery history (the association or an admin).
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: DeleteWebhookInput,
    ) -> async_graphql::Result<DeleteWebhookPayload> {
        let viewer = viewer(ctx)?;
        let id = GlobalId::decode_int("webhookId", &input.webhook_id, NodeKind::Webhook)?;
        let outcome = webhooks::delete(&api(ctx)?.db, viewer, id).await?;
        Ok(DeleteWebhookPayload::from_outcome(outcome, |id| ID(GlobalId::encode(NodeKind::Webhook, *id))))
    }
}
