//! The export of everything stored about a person (GDPR access), as one JSON document.

use std::collections::HashMap;

use entities::{
    ambassador, application, association, certificate, librarian, librarian_interest, librarian_language, membership,
    pairing, pairing_member, round,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::domain::NodeKind;
use crate::error::ApiResult;
use crate::service::now;

/// Everything stored about the librarian `id`, as one JSON document (GDPR access).
///
/// # Errors
/// Database errors; `None` if there is no such librarian.
pub async fn export(db: &DatabaseConnection, id: i32) -> ApiResult<Option<Value>> {
    let Some(me) = librarian::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let (languages, interests) = tags(db, id).await?;
    let associations: HashMap<i32, String> =
        association::Entity::find().all(db).await?.into_iter().map(|a| (a.id, a.name)).collect();
    let rounds: HashMap<i32, String> =
        round::Entity::find().all(db).await?.into_iter().map(|r| (r.id, r.name)).collect();
    let memberships = membership::Entity::find()
        .filter(membership::Column::LibrarianId.eq(id))
        .order_by_asc(membership::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            json!({ "association": associations.get(&m.association_id), "externalId": m.external_id,
                    "status": m.status, "consent": m.consent,
                    "sent": m.sent.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()),
                    "deactivatedAt": m.deactivated_at, "createdAt": m.created_at })
        })
        .collect::<Vec<_>>();
    let applications = application::Entity::find()
        .filter(application::Column::LibrarianId.eq(id))
        .order_by_asc(application::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|a| {
            json!({ "round": rounds.get(&a.round_id), "status": a.status, "matchPreference": a.match_preference,
                    "preferences": a.preferences, "goal": a.goal, "createdAt": a.created_at })
        })
        .collect::<Vec<_>>();
    let pairings = pairings(db, id, &rounds).await?;
    let certificates = certificate::Entity::find()
        .filter(certificate::Column::LibrarianId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| json!({ "code": c.code, "recipientName": c.recipient_name, "issuedAt": c.issued_at }))
        .collect::<Vec<_>>();
    let ambassador_terms = ambassador::Entity::find()
        .filter(ambassador::Column::LibrarianId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| json!({ "countryCode": a.country_code, "termFrom": a.term_from, "termUntil": a.term_until }))
        .collect::<Vec<_>>();
    Ok(Some(json!({
        "exportedAt": now(),
        "librarian": {
            "id": crate::domain::GlobalId::encode(NodeKind::Librarian, me.id),
            "fullName": me.full_name, "email": me.email, "countryCode": me.country_code,
            "institution": me.institution, "sector": me.sector, "jobTitle": me.job_title,
            "yearsExperience": me.years_experience, "bio": me.bio, "listedInDirectory": me.listed_in_directory,
            "erasedAt": me.erased_at, "version": me.version, "createdAt": me.created_at, "updatedAt": me.updated_at,
            "languages": languages, "interests": interests,
        },
        "memberships": memberships,
        "applications": applications,
        "pairings": pairings,
        "certificates": certificates,
        "ambassadorTerms": ambassador_terms,
    })))
}

/// A librarian's languages and interests, sorted.
async fn tags(db: &DatabaseConnection, id: i32) -> ApiResult<(Vec<String>, Vec<String>)> {
    let languages: Vec<String> = librarian_language::Entity::find()
        .filter(librarian_language::Column::LibrarianId.eq(id))
        .order_by_asc(librarian_language::Column::Language)
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.language)
        .collect();
    let interests: Vec<String> = librarian_interest::Entity::find()
        .filter(librarian_interest::Column::LibrarianId.eq(id))
        .order_by_asc(librarian_interest::Column::Interest)
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.interest)
        .collect();
    Ok((languages, interests))
}

/// A librarian's pairings, with their partners' names and countries (what the librarian
/// saw of them).
async fn pairings(db: &DatabaseConnection, id: i32, rounds: &HashMap<i32, String>) -> ApiResult<Vec<Value>> {
    let mut pairings = Vec::new();
    let mine = pairing_member::Entity::find()
        .filter(pairing_member::Column::LibrarianId.eq(id))
        .find_also_related(pairing::Entity)
        .order_by_asc(pairing_member::Column::PairingId)
        .all(db)
        .await?;
    for (_, p) in mine {
        let Some(p) = p else { continue };
        let partners = pairing_member::Entity::find()
            .filter(pairing_member::Column::PairingId.eq(p.id))
            .filter(pairing_member::Column::LibrarianId.ne(id))
            .find_also_related(librarian::Entity)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(_, l)| l.map(|l| json!({ "fullName": l.full_name, "countryCode": l.country_code })))
            .collect::<Vec<_>>();
        let round = rounds.get(&p.round_id);
        pairings.push(json!({ "round": round, "status": p.status, "partners": partners, "createdAt": p.created_at }));
    }
    Ok(pairings)
}
