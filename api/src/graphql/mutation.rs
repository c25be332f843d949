//! The root `Mutation` type: privacy (the librarian's own data) and the admin writes that
//! run the network. Each mutation is one transaction; what the caller can fix comes back
//! as `userErrors`, everything else as a top-level error with a code.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::policy;
use crate::domain::SyncMode;
use crate::domain::SyncSource;
use crate::domain::input::UserError;
use crate::domain::{GlobalId, NodeKind, Sector};
use crate::error::ApiError;
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{
    Ambassador, Association, ChangeEntityType, CountryCodeScalar, Librarian, Membership, SyncMembersPayload, Webhook,
};
use crate::service::memberships::{self, MembershipChanges};
use crate::service::partners::{self, AssociationInput};
use crate::service::people::{self, ProfileInput};
use crate::service::sync::{self, MemberRecord, SyncRequest};
use crate::service::{feed, webhooks};

/// Members one `syncMembers` call may carry; larger lists go through the bulk path.
pub const MAX_GRAPHQL_MEMBERS: usize = 10_000;

macro_rules! payload {
    ($name:ident, $field:ident: $ty:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The object as the mutation left it; `null` when it was refused (see `userErrors`).
            pub $field: Option<$ty>,
            /// What the caller can fix; empty when the mutation was applied.
            pub user_errors: Vec<UserError>,
        }

        impl $name {
            fn from_outcome<M>(outcome: Result<M, Vec<UserError>>, wrap: impl FnOnce(Arc<M>) -> $ty) -> Self {
                match outcome {
                    Ok(model) => Self { $field: Some(wrap(Arc::new(model))), user_errors: Vec::new() },
                    Err(user_errors) => Self { $field: None, user_errors },
                }
            }
        }
    };
}

payload!(SetDirectoryConsentPayload, librarian: Librarian, "The librarian with their new consent.");
payload!(UpdateMyProfilePayload, librarian: Librarian, "The updated profile.");
payload!(EraseLibrarianPayload, librarian: Librarian, "The erased (anonymised) librarian.");
payload!(CreateLibrarianPayload, librarian: Librarian, "The new librarian.");
payload!(CreateAssociationPayload, association: Association, "The new association.");
payload!(UpdateAssociationPayload, association: Association, "The updated association.");
payload!(AppointAmbassadorPayload, ambassador: Ambassador, "The new appointment.");
payload!(EndAmbassadorPayload, ambassador: Ambassador, "The ended appointment.");
payload!(UpdateMembershipPayload, membership: Membership, "The membership as it is now.");
payload!(DeleteWebhookPayload, deleted_webhook_id: ID, "The id of the deleted webhook.");

/// The new webhook and its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct RegisterWebhookPayload {
    /// The new webhook; `null` when it was refused (see `userErrors`).
    pub webhook: Option<Webhook>,
    /// The HMAC-SHA256 key of the `Interlib-Signature` header. Store it now: it is not
    /// shown again.
    pub secret: Option<String>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// One member of an association's list. `externalId` is the association's own member id
/// (the key). A new member needs `email`, `fullName` and `countryCode`; for an existing
/// one, fields left out keep their value. `active: false` deactivates the member.
/// Limits as in `UpdateMyProfileInput`; `externalId` at most 128 characters.
#[derive(InputObject)]
pub struct SyncMemberInput {
    /// The association's own id for the member: what later syncs match on.
    pub external_id: String,
    /// Their email address (unique in the network; at most 254 characters).
    pub email: Option<String>,
    /// The person's full name as they write it (at most 200 characters).
    pub full_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<CountryCodeScalar>,
    /// Where they work (at most 200 characters).
    pub institution: Option<String>,
    /// The kind of institution they work in.
    pub sector: Option<Sector>,
    /// Their job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Years in the profession (0 to 70).
    pub years_experience: Option<i32>,
    /// ISO 639-1 codes.
    pub languages: Option<Vec<String>>,
    /// Professional interests, such as `open access` (at most 20, each at most 50 characters).
    pub interests: Option<Vec<String>>,
    /// Whether they are a member now; `false` deactivates the membership (a tombstone).
    #[graphql(default = true)]
    pub active: bool,
}

/// A membership sync. At most 10,000 members per call; larger lists go through
/// `POST /bulk/members` (JSON Lines or CSV).
#[derive(InputObject)]
pub struct SyncMembersInput {
    /// The association whose members these are (its global id).
    pub association_id: ID,
    /// `UPSERT` (the listed members only) or `FULL_REPLACE` (the list is the whole membership).
    #[graphql(default_with = "SyncMode::Upsert")]
    pub mode: SyncMode,
    /// Compute the result without writing anything.
    #[graphql(default = false)]
    pub dry_run: bool,
    /// The members, each by the association's own id.
    pub members: Vec<SyncMemberInput>,
}

/// A membership's new status.
#[derive(InputObject)]
pub struct UpdateMembershipInput {
    /// The membership's global id.
    pub membership_id: ID,
    /// A new external id (unique within the association).
    pub external_id: Option<String>,
    /// `false` deactivates the membership (a tombstone), `true` reactivates it.
    pub active: Option<bool>,
    /// The version the client last read; a stale one is a `CONFLICT` error with `extensions.currentVersion`.
    pub expected_version: Option<i32>,
}

/// A URL that receives an association's change feed.
#[derive(InputObject)]
pub struct RegisterWebhookInput {
    /// The association whose feed the webhook delivers (its global id).
    pub association_id: ID,
    /// An http or https URL that accepts POSTed JSON.
    pub url: String,
    /// The kinds of event to deliver; all when left out.
    pub entity_types: Option<Vec<ChangeEntityType>>,
    /// Start after this feed cursor (replaying what came after it); by default only events
    /// from now on are delivered.
    pub after: Option<String>,
}

/// A webhook to delete.
#[derive(InputObject)]
pub struct DeleteWebhookInput {
    /// The webhook's global id.
    pub webhook_id: ID,
}

/// Whether the caller is listed in the librarians' directory.
#[derive(InputObject)]
pub struct SetDirectoryConsentInput {
    /// Whether to appear in the network's directory.
    pub listed: bool,
}

/// Profile fields to change; omitted fields stay as they are, an empty string clears an
/// optional text. Limits: names and texts 200 characters, bio 2,000, 1 to 10 ISO 639-1
/// languages, up to 20 interests of 50 characters, experience 0 to 70 years.
#[derive(InputObject, Default)]
pub struct UpdateMyProfileInput {
    /// The person's full name as they write it (at most 200 characters).
    pub full_name: Option<String>,
    /// Their email address (unique in the network; at most 254 characters).
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<CountryCodeScalar>,
    /// Where they work (at most 200 characters).
    pub institution: Option<String>,
    /// The kind of institution they work in.
    pub sector: Option<Sector>,
    /// Their job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Years in the profession (0 to 70).
    pub years_experience: Option<i32>,
    /// ISO 639-1 codes of the languages they can work in with a partner (1 to 10).
    pub languages: Option<Vec<String>>,
    /// Professional interests, such as `open access` (at most 20, each at most 50 characters).
    pub interests: Option<Vec<String>>,
    /// A few words about themselves (at most 2,000 characters).
    pub bio: Option<String>,
    /// The version the client last read; a stale one is a `CONFLICT` error with `extensions.currentVersion`.
    pub expected_version: Option<i32>,
}

/// A librarian whose personal data is erased.
#[derive(InputObject)]
pub struct EraseLibrarianInput {
    /// The librarian's global id.
    pub librarian_id: ID,
}

/// A new librarian; the same limits as `UpdateMyProfileInput`.
#[derive(InputObject)]
pub struct CreateLibrarianInput {
    /// The person's full name as they write it (at most 200 characters).
    pub full_name: String,
    /// Their email address (unique in the network; at most 254 characters).
    pub email: String,
    /// An ISO 3166-1 alpha-2 country code, such as `ZA`.
    pub country_code: CountryCodeScalar,
    /// The kind of institution they work in.
    pub sector: Sector,
    /// ISO 639-1 codes of the languages they can work in with a partner (1 to 10).
    pub languages: Vec<String>,
    /// Where they work (at most 200 characters).
    pub institution: Option<String>,
    /// Their job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Years in the profession (0 to 70).
    pub years_experience: Option<i32>,
    /// Professional interests, such as `open access` (at most 20, each at most 50 characters).
    pub interests: Option<Vec<String>>,
    /// A few words about themselves (at most 2,000 characters).
    pub bio: Option<String>,
    /// Whether other librarians may find their profile in the directory.
    #[graphql(default = false)]
    pub listed_in_directory: bool,
}

/// A new partner association.
#[derive(InputObject)]
pub struct CreateAssociationInput {
    /// Unique, at most 200 characters.
    pub name: String,
    /// The association's country (an ISO 3166-1 alpha-2 code).
    pub country_code: CountryCodeScalar,
    /// An http(s) URL.
    pub website: Option<String>,
}

/// Changes to an association; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateAssociationInput {
    /// The association's global id.
    pub association_id: ID,
    /// The association's name (at most 200 characters).
    pub name: Option<String>,
    /// The association's country (an ISO 3166-1 alpha-2 code).
    pub country_code: Option<CountryCodeScalar>,
    /// An http(s) URL; an empty string clears it.
    pub website: Option<String>,
}

/// A librarian appointed ambassador of a country.
#[derive(InputObject)]
pub struct AppointAmbassadorInput {
    /// The librarian to appoint (their global id).
    pub librarian_id: ID,
    /// The country they look after (an ISO 3166-1 alpha-2 code).
    pub country_code: CountryCodeScalar,
    /// Default: now.
    pub term_from: Option<DateTime<Utc>>,
    /// Default: open-ended.
    pub term_until: Option<DateTime<Utc>>,
}

/// An ambassador appointment to end now.
#[derive(InputObject)]
pub struct EndAmbassadorInput {
    /// The ambassador appointment's global id.
    pub ambassador_id: ID,
    /// Default: now.
    pub term_until: Option<DateTime<Utc>>,
}

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
        Ok(SetDirectoryConsentPayload::from_outcome(outcome, Librarian))
    }

    /// The calling librarian edits their profile.
    async fn update_my_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: UpdateMyProfileInput,
    ) -> async_graphql::Result<UpdateMyProfilePayload> {
        let viewer = viewer(ctx)?;
        let me = policy::librarian(viewer)?;
        let changes = ProfileInput {
            full_name: input.full_name,
            email: input.email,
            country_code: input.country_code.map(String::from),
            institution: input.institution,
            sector: input.sector,
            job_title: input.job_title,
            years_experience: input.years_experience,
            languages: input.languages,
            interests: input.interests,
            bio: input.bio,
            listed_in_directory: None,
        };
        let outcome = people::update(&api(ctx)?.db, viewer, me, changes, input.expected_version).await?;
        Ok(UpdateMyProfilePayload::from_outcome(outcome, Librarian))
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
        Ok(EraseLibrarianPayload::from_outcome(outcome, Librarian))
    }

    /// Admin: adds a librarian to the network.
    async fn create_librarian(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: CreateLibrarianInput,
    ) -> async_graphql::Result<CreateLibrarianPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let profile = ProfileInput {
            full_name: Some(input.full_name),
            email: Some(input.email),
            country_code: Some(input.country_code.into()),
            institution: input.institution,
            sector: Some(input.sector),
            job_title: input.job_title,
            years_experience: input.years_experience,
            languages: Some(input.languages),
            interests: input.interests,
            bio: input.bio,
            listed_in_directory: Some(input.listed_in_directory),
        };
        let outcome = people::create(&api(ctx)?.db, viewer, profile).await?;
        Ok(CreateLibrarianPayload::from_outcome(outcome, Librarian))
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
        let members = input
            .members
            .into_iter()
            .map(|m| MemberRecord {
                external_id: Some(m.external_id),
                email: m.email,
                full_name: m.full_name,
                country_code: m.country_code.map(String::from),
                institution: m.institution,
                sector: m.sector.map(|s| s.as_str().to_owned()),
                job_title: m.job_title,
                years_experience: m.years_experience,
                languages: m.languages,
                interests: m.interests,
                active: Some(m.active),
            })
            .collect();
        let api = api(ctx)?;
        let request = SyncRequest {
            association_id,
            mode: input.mode,
            dry_run: input.dry_run,
            members,
            unreadable: Vec::new(),
            idempotency_key,
            source: SyncSource::Graphql,
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
