//! The root `Mutation` type: privacy (the librarian's own data) and the admin writes that
//! run the network. Each mutation is one transaction; what the caller can fix comes back
//! as `userErrors`, everything else as a top-level error with a code.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::domain::input::UserError;
use crate::domain::{GlobalId, NodeKind, Sector};
use crate::error::ApiError;
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{Ambassador, Association, Librarian};
use crate::service::partners::{self, AssociationInput};
use crate::service::people::{self, ProfileInput};

/// The caller must be an admin.
pub fn require_admin(viewer: &Viewer) -> async_graphql::Result<()> {
    match viewer {
        Viewer::Admin { .. } => Ok(()),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs an admin token".into()).into()),
        _ => Err(ApiError::Forbidden("only admins may do this".into()).into()),
    }
}

/// The caller must be a librarian; their id.
pub fn require_librarian(viewer: &Viewer) -> async_graphql::Result<i32> {
    match viewer {
        Viewer::Librarian { librarian_id, .. } => Ok(*librarian_id),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs a librarian token".into()).into()),
        _ => Err(ApiError::Forbidden("only a librarian may do this, for themself".into()).into()),
    }
}

macro_rules! payload {
    ($name:ident, $field:ident: $ty:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
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
    pub full_name: Option<String>,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    pub institution: Option<String>,
    pub sector: Option<Sector>,
    pub job_title: Option<String>,
    pub years_experience: Option<i32>,
    pub languages: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    pub bio: Option<String>,
    /// The version the client last read; a stale one is a `CONFLICT` error with `extensions.currentVersion`.
    pub expected_version: Option<i32>,
}

#[derive(InputObject)]
pub struct EraseLibrarianInput {
    pub librarian_id: ID,
}

/// A new librarian; the same limits as `UpdateMyProfileInput`.
#[derive(InputObject)]
pub struct CreateLibrarianInput {
    pub full_name: String,
    pub email: String,
    pub country_code: String,
    pub sector: Sector,
    pub languages: Vec<String>,
    pub institution: Option<String>,
    pub job_title: Option<String>,
    pub years_experience: Option<i32>,
    pub interests: Option<Vec<String>>,
    pub bio: Option<String>,
    #[graphql(default = false)]
    pub listed_in_directory: bool,
}

#[derive(InputObject)]
pub struct CreateAssociationInput {
    /// Unique, at most 200 characters.
    pub name: String,
    pub country_code: String,
    /// An http(s) URL.
    pub website: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateAssociationInput {
    pub association_id: ID,
    pub name: Option<String>,
    pub country_code: Option<String>,
    /// An http(s) URL; an empty string clears it.
    pub website: Option<String>,
}

#[derive(InputObject)]
pub struct AppointAmbassadorInput {
    pub librarian_id: ID,
    pub country_code: String,
    /// Default: now.
    pub term_from: Option<DateTime<Utc>>,
    /// Default: open-ended.
    pub term_until: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct EndAmbassadorInput {
    pub ambassador_id: ID,
    /// Default: now.
    pub term_until: Option<DateTime<Utc>>,
}

pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// The calling librarian says whether they appear in the directory.
    async fn set_directory_consent(
        &self,
        ctx: &Context<'_>,
        input: SetDirectoryConsentInput,
    ) -> async_graphql::Result<SetDirectoryConsentPayload> {
        let viewer = viewer(ctx)?;
        let me = require_librarian(viewer)?;
        let changes = ProfileInput { listed_in_directory: Some(input.listed), ..ProfileInput::default() };
        let outcome = people::update(&api(ctx)?.db, viewer, me, changes, None).await?;
        Ok(SetDirectoryConsentPayload::from_outcome(outcome, Librarian))
    }

    /// The calling librarian edits their profile.
    async fn update_my_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateMyProfileInput,
    ) -> async_graphql::Result<UpdateMyProfilePayload> {
        let viewer = viewer(ctx)?;
        let me = require_librarian(viewer)?;
        let changes = ProfileInput {
            full_name: input.full_name,
            email: input.email,
            country_code: input.country_code,
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
        input: EraseLibrarianInput,
    ) -> async_graphql::Result<EraseLibrarianPayload> {
        let viewer = viewer(ctx)?;
        let id = GlobalId::decode_int("librarianId", &input.librarian_id, NodeKind::Librarian)?;
        match viewer {
            Viewer::Admin { .. } => {}
            Viewer::Librarian { librarian_id, .. } if *librarian_id == id => {}
            Viewer::Anonymous => return Err(ApiError::Unauthenticated("this needs a token".into()).into()),
            _ => return Err(ApiError::Forbidden("only the librarian themself or an admin may erase".into()).into()),
        }
        let outcome = people::erase(&api(ctx)?.db, viewer, id).await?;
        Ok(EraseLibrarianPayload::from_outcome(outcome, Librarian))
    }

    /// Admin: adds a librarian to the network.
    async fn create_librarian(
        &self,
        ctx: &Context<'_>,
        input: CreateLibrarianInput,
    ) -> async_graphql::Result<CreateLibrarianPayload> {
        let viewer = viewer(ctx)?;
        require_admin(viewer)?;
        let profile = ProfileInput {
            full_name: Some(input.full_name),
            email: Some(input.email),
            country_code: Some(input.country_code),
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
        input: CreateAssociationInput,
    ) -> async_graphql::Result<CreateAssociationPayload> {
        let viewer = viewer(ctx)?;
        require_admin(viewer)?;
        let changes =
            AssociationInput { name: Some(input.name), country_code: Some(input.country_code), website: input.website };
        let outcome = partners::save_association(&api(ctx)?.db, viewer, None, changes).await?;
        Ok(CreateAssociationPayload::from_outcome(outcome, Association))
    }

    /// Admin: changes an association's name, country or website.
    async fn update_association(
        &self,
        ctx: &Context<'_>,
        input: UpdateAssociationInput,
    ) -> async_graphql::Result<UpdateAssociationPayload> {
        let viewer = viewer(ctx)?;
        require_admin(viewer)?;
        let id = GlobalId::decode_int("associationId", &input.association_id, NodeKind::Association)?;
        let changes = AssociationInput { name: input.name, country_code: input.country_code, website: input.website };
        let outcome = partners::save_association(&api(ctx)?.db, viewer, Some(id), changes).await?;
        Ok(UpdateAssociationPayload::from_outcome(outcome, Association))
    }

    /// Admin: appoints a librarian ambassador of a country.
    async fn appoint_ambassador(
        &self,
        ctx: &Context<'_>,
        input: AppointAmbassadorInput,
    ) -> async_graphql::Result<AppointAmbassadorPayload> {
        let viewer = viewer(ctx)?;
        require_admin(viewer)?;
        let librarian = GlobalId::decode_int("librarianId", &input.librarian_id, NodeKind::Librarian)?;
        let outcome = partners::appoint_ambassador(
            &api(ctx)?.db,
            viewer,
            librarian,
            &input.country_code,
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
        input: EndAmbassadorInput,
    ) -> async_graphql::Result<EndAmbassadorPayload> {
        let viewer = viewer(ctx)?;
        require_admin(viewer)?;
        let id = GlobalId::decode_int("ambassadorId", &input.ambassador_id, NodeKind::Ambassador)?;
        let outcome = partners::end_ambassador(&api(ctx)?.db, viewer, id, input.term_until).await?;
        Ok(EndAmbassadorPayload::from_outcome(outcome, Ambassador))
    }
}
