//! One DataLoader per relation, created fresh for every request (so caches never leak
//! between callers). Each loader batches the keys asked for in one tick of execution and
//! answers them with one call into `service::relations`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entities::{
    ambassador, application, association, certificate, discussion_topic, engagement_report, librarian, membership,
    pairing, round, sync_run, webhook, webhook_delivery,
};
use futures::future::BoxFuture;

use crate::auth::{Viewer, policy};
use crate::db::Reader;
use crate::domain::{ApplicationStatus, LibrarianOrderField, MembershipStatus, OrderDirection, PairingStatus};
use crate::error::ApiResult;
use crate::graphql::relation::Relation;
use crate::graphql::windowed::NestedLoader;
use crate::service::filters::{self, LibrarianFilter, PairingFilter};
use crate::service::orderings;
use crate::service::page::PageLimits;
use crate::service::relations::{self as rel, Keyed};

type BatchFn<K, V> = fn(Reader, Arc<Viewer>, Vec<K>) -> BoxFuture<'static, ApiResult<Keyed<K, V>>>;

/// A loader that delegates to a batch function of the service layer, for one viewer (the
/// batch functions apply the policy, so a cache never holds what its viewer may not see).
pub struct BatchLoader<K, V> {
    db: Reader,
    viewer: Arc<Viewer>,
    batch: BatchFn<K, V>,
}

impl<K, V> BatchLoader<K, V> {
    /// Runs the batch function directly (for prefetching), bypassing the DataLoader.
    ///
    /// # Errors
    /// Database errors.
    pub async fn batch(&self, keys: Vec<K>) -> ApiResult<Keyed<K, V>> {
        (self.batch)(self.db.clone(), self.viewer.clone(), keys).await
    }
}

impl<K, V> Loader<K> for BatchLoader<K, V>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    type Value = V;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, V>, Self::Error> {
        let rows = (self.batch)(self.db.clone(), self.viewer.clone(), keys.to_vec()).await?;
        Ok(rows.into_iter().collect())
    }
}

fn loader<K, V>(db: &Reader, viewer: &Arc<Viewer>, batch: BatchFn<K, V>) -> Rows<K, V>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    // Lists prefetch their relations (see `prefetch`), so the loaders mostly answer from
    // the prefetched rows; the batching delay only matters for single objects and `nodes`.
    Relation::new(BatchLoader { db: db.clone(), viewer: viewer.clone(), batch })
}

/// The arguments of `Country.participants`.
pub type ParticipantsSpec = (LibrarianFilter, LibrarianOrderField, OrderDirection);

type Nested<E, P, S> = DataLoader<NestedLoader<E, P, S>, HashMapCache>;

fn nested<E: sea_orm::EntityTrait, P, S>(loader: NestedLoader<E, P, S>) -> Nested<E, P, S> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

/// A relation answered by a batch function of the service layer.
pub type Rows<K, V> = Relation<BatchLoader<K, V>, K, V>;
type ById<V> = Rows<i32, Arc<V>>;
type ManyById<V> = Rows<i32, Vec<Arc<V>>>;
type Strings = Rows<i32, Vec<String>>;

/// Every DataLoader of a request.
pub struct Loaders {
    pub librarian: ById<librarian::Model>,
    pub association: ById<association::Model>,
    pub membership: ById<membership::Model>,
    pub ambassador: ById<ambassador::Model>,
    pub round: ById<round::Model>,
    pub application: ById<application::Model>,
    pub pairing: ById<pairing::Model>,
    pub topic: ById<discussion_topic::Model>,
    pub certificate: ById<certificate::Model>,
    pub engagement_report: ById<engagement_report::Model>,
    pub sync_run: ById<sync_run::Model>,
    pub webhook: ById<webhook::Model>,
    pub webhook_delivery: Rows<i64, Arc<webhook_delivery::Model>>,
    pub webhooks_of_association: ManyById<webhook::Model>,
    pub memberships_of_librarian: ManyById<membership::Model>,
    /// The same memberships as brief rows, for selections that read nothing else (see
    /// `types::membership::brief`).
    pub brief_memberships_of_librarian: ManyById<membership::Model>,
    pub applications_of_librarian: ManyById<application::Model>,
    pub pairings_of_librarian: ManyById<pairing::Model>,
    /// The same pairings as brief rows, for selections that read nothing else (see
    /// `types::pairing::brief`).
    pub brief_pairings_of_librarian: ManyById<pairing::Model>,
    pub members_of_pairing: ManyById<librarian::Model>,
    /// The same members as brief rows, for selections that read nothing else (see
    /// `types::librarian::brief`).
    pub brief_members_of_pairing: ManyById<librarian::Model>,
    pub topics_of_round: ManyById<discussion_topic::Model>,
    pub languages_of_librarian: Strings,
    pub interests_of_librarian: Strings,
    pub participants_of_country: Nested<librarian::Entity, String, ParticipantsSpec>,
    pub members_of_association: Nested<membership::Entity, i32, Option<MembershipStatus>>,
    pub applications_of_round: Nested<application::Entity, i32, Option<ApplicationStatus>>,
    pub pairings_of_round: Nested<pairing::Entity, i32, Option<PairingStatus>>,
    pub ambassadors_of_country: Rows<String, Vec<Arc<ambassador::Model>>>,
    pub participant_count: Rows<String, i64>,
    pub application_count: Rows<i32, i64>,
    pub pairing_count: Rows<i32, i64>,
    /// Members of a pairing, whether the viewer sees them or not.
    pub member_count: Rows<i32, i64>,
}

macro_rules! by_id {
    ($entity:ident) => {
        |db, _, ids| Box::pin(rel::by_ids::<$entity::Entity>(db, None, $entity::Column::Id, ids, |m| m.id))
    };
    ($entity:ident, $scope:expr) => {
        |db, viewer: Arc<Viewer>, ids| {
            let scope = $scope(&*viewer);
            Box::pin(rel::by_ids::<$entity::Entity>(db, scope, $entity::Column::Id, ids, |m| m.id))
        }
    };
}

impl Loaders {
    /// Fresh loaders for one request of `viewer`.
    pub fn new(db: &Reader, viewer: &Arc<Viewer>, limits: PageLimits) -> Self {
        let v = viewer;
        Self {
            librarian: loader(db, v, |db, v, ids| Box::pin(rel::librarians_by_ids(db, v, ids))),
            association: loader(db, v, by_id!(association)),
            membership: loader(db, v, by_id!(membership, policy::memberships)),
            ambassador: loader(db, v, by_id!(ambassador)),
            round: loader(db, v, by_id!(round)),
            application: loader(
                db,
                v,
                by_id!(application, |v| policy::applications(v, application::Column::LibrarianId)),
            ),
            pairing: loader(db, v, by_id!(pairing, policy::pairings)),
            topic: loader(db, v, by_id!(discussion_topic, |v| policy::topics(v, crate::service::now()))),
            certificate: loader(db, v, by_id!(certificate, policy::certificates)),
            engagement_report: loader(db, v, by_id!(engagement_report, policy::engagement_reports)),
            sync_run: loader(
                db,
                v,
                by_id!(sync_run, |v| policy::association_records(v, sync_run::Column::AssociationId)),
            ),
            webhook: loader(db, v, by_id!(webhook, |v| policy::association_records(v, webhook::Column::AssociationId))),
            webhook_delivery: loader(db, v, |db, v, ids| Box::pin(rel::webhook_deliveries_by_ids(db, v, ids))),
            webhooks_of_association: loader(db, v, |db, v, ids| Box::pin(rel::webhooks_of_associations(db, v, ids))),
            memberships_of_librarian: loader(db, v, |db, v, ids| Box::pin(rel::memberships_of_librarians(db, v, ids))),
            brief_memberships_of_librarian: loader(db, v, |db, v, ids| {
                Box::pin(rel::brief_memberships_of_librarians(db, v, ids))
            }),
            applications_of_librarian: loader(db, v, |db, _, ids| Box::pin(rel::applications_of_librarians(db, ids))),
            pairings_of_librarian: loader(db, v, |db, _, ids| Box::pin(rel::pairings_of_librarians(db, ids))),
            brief_pairings_of_librarian: loader(db, v, |db, _, ids| {
                Box::pin(rel::brief_pairings_of_librarians(db, ids))
            }),
            members_of_pairing: loader(db, v, |db, v, ids| Box::pin(rel::members_of_pairings(db, v, ids))),
            brief_members_of_pairing: loader(db, v, |db, v, ids| Box::pin(rel::brief_members_of_pairings(db, v, ids))),
            topics_of_round: loader(db, v, |db, v, ids| Box::pin(rel::topics_of_rounds(db, v, ids))),
            languages_of_librarian: loader(db, v, |db, _, ids| Box::pin(rel::languages_of_librarians(db, ids))),
            interests_of_librarian: loader(db, v, |db, _, ids| Box::pin(rel::interests_of_librarians(db, ids))),
            participants_of_country: nested(NestedLoader {
                db: db.clone(),
                viewer: viewer.clone(),
                limits,
                parent: (librarian::Column::CountryCode, |m| m.country_code.clone()),
                select: |viewer, (filter, field, _)| filters::librarians(viewer, filter, *field),
                ordering: |(_, field, direction)| orderings::librarians(*field, *direction),
            }),
            members_of_association: nested(NestedLoader {
                db: db.clone(),
                viewer: viewer.clone(),
                limits,
                parent: (membership::Column::AssociationId, |m| m.association_id),
                select: |viewer, status| filters::memberships(viewer, None, *status),
                ordering: |_| orderings::memberships(),
            }),
            applications_of_round: nested(NestedLoader {
                db: db.clone(),
                viewer: viewer.clone(),
                limits,
                parent: (application::Column::RoundId, |m| m.round_id),
                select: |viewer, status| filters::applications(viewer, None, *status),
                ordering: |_| orderings::applications(),
            }),
            pairings_of_round: nested(NestedLoader {
                db: db.clone(),
                viewer: viewer.clone(),
                limits,
                parent: (pairing::Column::RoundId, |m| m.round_id),
                select: |viewer, status| {
                    filters::pairings(viewer, &PairingFilter { status: *status, ..PairingFilter::default() })
                },
                ordering: |_| orderings::pairings(),
            }),
            ambassadors_of_country: loader(db, v, |db, _, codes| Box::pin(rel::ambassadors_of_countries(db, codes))),
            participant_count: loader(db, v, |db, _, codes| Box::pin(rel::participant_counts(db, codes))),
            application_count: loader(db, v, |db, _, ids| Box::pin(rel::application_counts(db, ids))),
            pairing_count: loader(db, v, |db, _, ids| Box::pin(rel::pairing_counts(db, ids))),
            member_count: loader(db, v, |db, _, ids| Box::pin(rel::member_counts(db, ids))),
        }
    }

    /// Loaders that batch but never cache, for a subscription: it lives long, and each
    /// update must be read as it is now.
    pub fn uncached(db: &Reader, viewer: &Arc<Viewer>, limits: PageLimits) -> Self {
        let loaders = Self::new(db, viewer, limits);
        macro_rules! off {
            ($($field:ident),* $(,)?) => { $(loaders.$field.enable_all_cache(false);)* };
        }
        off!(
            librarian,
            association,
            membership,
            ambassador,
            round,
            application,
            pairing,
            topic,
            certificate,
            engagement_report,
            sync_run,
            webhook,
            webhook_delivery,
            webhooks_of_association,
            memberships_of_librarian,
            brief_memberships_of_librarian,
            applications_of_librarian,
            pairings_of_librarian,
            brief_pairings_of_librarian,
            members_of_pairing,
            brief_members_of_pairing,
            topics_of_round,
            languages_of_librarian,
            interests_of_librarian,
            participants_of_country,
            members_of_association,
            applications_of_round,
            pairings_of_round,
            ambassadors_of_country,
            participant_count,
            application_count,
            pairing_count,
            member_count,
        );
        loaders
    }
}
