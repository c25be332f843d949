//! The change feed: which entries of the change log a viewer may follow.

use entities::{application, discussion_topic};
use sea_orm::{ColumnTrait, Condition, sea_query::Query};

use super::{members_of, nothing};
use crate::auth::Viewer;

/// The change-log entries the viewer may follow: those about an entity the viewer may see
/// now or could see when the entry was written (the scope columns and member rows record
/// that moment, see `service::journal`), so a follower also hears of what leaves its view.
///
/// | entries | admin | ambassador | association | librarian |
/// |---|---|---|---|---|
/// | associations, ambassador appointments | all | all | its own record | all |
/// | rounds; topics once published | all | all | all | rounds; topics of their rounds |
/// | a librarian and what they own | all | of their countries | of its members | self |
/// | memberships | all | confirmed, of their countries | its own | own |
/// | pairings | all | with a member of their countries | with a member of its | their own |
/// | a librarian's record | all | of their countries | of its members | partners, the directory |
///
/// (An association follows no other association's record nor ambassador appointments; a
/// topic announced before its publish time is an admin's entry until it is published.)
pub fn changes(viewer: &Viewer) -> Option<Condition> {
    use crate::domain::NodeKind as K;
    use entities::{change_log::Column as C, change_log_member as cm};
    let kinds = |kinds: &[K]| C::EntityType.is_in(kinds.iter().map(|k| k.name()));
    let public = || kinds(&[K::Association, K::Ambassador]);
    let published_topics = || Condition::all().add(C::EntityType.eq(K::DiscussionTopic.name())).add(C::Listed.eq(true));
    let programme = || Condition::any().add(C::EntityType.eq(K::Round.name())).add(published_topics());
    // Entries whose member rows match `rows`.
    let members = |rows: Condition| {
        C::Id.in_subquery(Query::select().column(cm::Column::ChangeId).from(cm::Entity).cond_where(rows).to_owned())
    };
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Ambassador { countries, .. } => Some(
            Condition::any()
                .add(public())
                .add(programme())
                .add(C::CountryCode.is_in(countries.clone()))
                .add(C::PreviousCountryCode.is_in(countries.clone()))
                .add(members(
                    Condition::all().add(cm::Column::Partner.eq(false)).add(
                        Condition::any()
                            .add(cm::Column::CountryCode.is_in(countries.clone()))
                            .add(cm::Column::PreviousCountryCode.is_in(countries.clone())),
                    ),
                )),
        ),
        // An association follows its own record, its memberships, its members and what
        // they own, their pairings, and the programme's rounds and topics.
        Viewer::Association { association_id, .. } => Some(
            Condition::any()
                .add(
                    Condition::all().add(C::EntityType.eq(K::Association.name())).add(C::EntityKey.eq(*association_id)),
                )
                .add(C::AssociationId.eq(*association_id))
                .add(
                    Condition::all()
                        .add(kinds(&[K::Librarian, K::Application, K::Certificate, K::EngagementReport]))
                        .add(C::LibrarianId.in_subquery(members_of(*association_id))),
                )
                .add(members(
                    Condition::all()
                        .add(cm::Column::Partner.eq(false))
                        .add(cm::Column::LibrarianId.in_subquery(members_of(*association_id))),
                ))
                .add(programme()),
        ),
        Viewer::Librarian { librarian_id, partners, .. } => {
            let partners: Vec<i32> = partners.iter().copied().collect();
            let their_rounds = Query::select()
                .column(application::Column::RoundId)
                .from(application::Entity)
                .and_where(application::Column::LibrarianId.eq(*librarian_id))
                .to_owned();
            let their_topics = Query::select()
                .column(discussion_topic::Column::Id)
                .from(discussion_topic::Entity)
                .and_where(discussion_topic::Column::RoundId.in_subquery(their_rounds))
                .to_owned();
            Some(
                Condition::any()
                    .add(public())
                    .add(C::EntityType.eq(K::Round.name()))
                    .add(published_topics().add(C::EntityKey.in_subquery(their_topics)))
                    .add(C::LibrarianId.eq(*librarian_id))
                    .add(
                        Condition::all()
                            .add(C::EntityType.eq(K::Librarian.name()))
                            .add(Condition::any().add(C::LibrarianId.is_in(partners)).add(C::Listed.eq(true))),
                    )
                    .add(members(Condition::all().add(cm::Column::LibrarianId.eq(*librarian_id)))),
            )
        }
        Viewer::Anonymous => nothing(),
    }
}
