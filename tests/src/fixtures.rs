//! A small, hand-written network whose every row the tests know by name.

use chrono::{DateTime, TimeZone, Utc};
use entities::{
    ambassador, application, association, certificate, discussion_topic, librarian, librarian_interest,
    librarian_language, membership, pairing, pairing_member, round,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::Expr,
};
use serde_json::json;

/// A day in 2026, for fixture timestamps.
pub fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).single().unwrap_or_default()
}

/// The ids of the fixture network.
#[derive(Debug, Clone)]
pub struct Network {
    pub ada: i32,
    pub bongani: i32,
    pub carmen: i32,
    pub emma: i32,
    pub farida: i32,
    pub grace: i32,
    pub lisa: i32,
    pub alia: i32,
    /// Library and Information Association of South Africa: Bongani, Grace (deactivated), Ada.
    pub liasa: i32,
    /// Australian Library and Information Association: Emma.
    pub alia_assoc: i32,
    pub round1: i32,
    pub round2: i32,
    pub pairing_ada_carmen: i32,
    pub pairing_bongani_emma: i32,
    pub pairing_trio: i32,
    pub certificate_ada: i32,
}

struct NewLibrarian<'a> {
    name: &'a str,
    country: &'a str,
    sector: &'a str,
    institution: &'a str,
    languages: &'a [&'a str],
    interests: &'a [&'a str],
    updated: u32,
}

async fn add_librarian(db: &DatabaseConnection, l: NewLibrarian<'_>) -> i32 {
    let email = format!("{}@example.org", l.name.to_lowercase().replace(' ', "."));
    let model = librarian::ActiveModel {
        id: NotSet,
        full_name: Set(l.name.to_owned()),
        email: Set(email),
        country_code: Set(l.country.to_owned()),
        institution: Set(Some(l.institution.to_owned())),
        sector: Set(l.sector.to_owned()),
        job_title: Set(Some("Librarian".to_owned())),
        years_experience: Set(5),
        bio: Set(None),
        listed_in_directory: Set(true),
        erased_at: Set(None),
        version: Set(1),
        created_at: Set(day(1)),
        updated_at: Set(day(l.updated)),
    }
    .insert(db)
    .await
    .expect("librarian");
    for language in l.languages {
        librarian_language::ActiveModel { librarian_id: Set(model.id), language: Set((*language).to_owned()) }
            .insert(db)
            .await
            .expect("language");
    }
    for interest in l.interests {
        librarian_interest::ActiveModel { librarian_id: Set(model.id), interest: Set((*interest).to_owned()) }
            .insert(db)
            .await
            .expect("interest");
    }
    model.id
}

/// One more librarian, listed in the directory: `name` (its email follows from it), in
/// `country`, public sector, speaking `languages`.
pub async fn librarian(db: &DatabaseConnection, name: &str, country: &str, languages: &[&str]) -> i32 {
    add_librarian(
        db,
        NewLibrarian { name, country, sector: "PUBLIC", institution: "Library", languages, interests: &[], updated: 1 },
    )
    .await
}

async fn add_association(db: &DatabaseConnection, name: &str, country: &str) -> i32 {
    association::ActiveModel {
        id: NotSet,
        name: Set(name.to_owned()),
        country_code: Set(country.to_owned()),
        website: Set(None),
        created_at: Set(day(1)),
        updated_at: Set(day(1)),
    }
    .insert(db)
    .await
    .expect("association")
    .id
}

async fn add_membership(
    db: &DatabaseConnection,
    association_id: i32,
    librarian_id: i32,
    external_id: &str,
    active: bool,
) {
    membership::ActiveModel {
        id: NotSet,
        association_id: Set(association_id),
        librarian_id: Set(librarian_id),
        external_id: Set(external_id.to_owned()),
        status: Set(if active { "ACTIVE" } else { "DEACTIVATED" }.to_owned()),
        deactivated_at: Set((!active).then(|| day(5))),
        version: Set(1),
        provisioned: Set(false),
        // The fixture's members agreed to their associations.
        consent: Set("CONFIRMED".to_owned()),
        sent: Set(None),
        directory: Set(None),
        user_name: Set(None),
        removed_at: Set(None),
        created_at: Set(day(2)),
        updated_at: Set(day(2)),
    }
    .insert(db)
    .await
    .expect("membership");
}

async fn add_round(db: &DatabaseConnection, name: &str, status: &str) -> i32 {
    round::ActiveModel {
        id: NotSet,
        name: Set(name.to_owned()),
        status: Set(status.to_owned()),
        applications_open_at: Set(day(1)),
        applications_close_at: Set(day(10)),
        starts_at: Set(day(20)),
        ends_at: Set(day(28)),
        country_share: Set(None),
        created_at: Set(day(1)),
        updated_at: Set(day(1)),
    }
    .insert(db)
    .await
    .expect("round")
    .id
}

async fn add_application(db: &DatabaseConnection, round_id: i32, librarian_id: i32) {
    application::ActiveModel {
        id: NotSet,
        round_id: Set(round_id),
        librarian_id: Set(librarian_id),
        status: Set("MATCHED".to_owned()),
        match_preference: Set("INTERESTS".to_owned()),
        preferences: Set(json!({ "languages": ["en"], "preferredSectors": ["PUBLIC"], "interests": ["open access"] })),
        goal: Set(Some("Learn from a peer".to_owned())),
        deferral: Set(None),
        deferral_note: Set(None),
        created_at: Set(day(3)),
        updated_at: Set(day(3)),
    }
    .insert(db)
    .await
    .expect("application");
}

async fn add_pairing(db: &DatabaseConnection, round_id: i32, status: &str, members: &[i32]) -> i32 {
    let id = pairing::ActiveModel {
        id: NotSet,
        round_id: Set(round_id),
        status: Set(status.to_owned()),
        origin: Set("ALGORITHM".to_owned()),
        score: Set(42),
        explanation: Set("Different countries; shared language: en.".to_owned()),
        created_at: Set(day(12)),
        updated_at: Set(day(12)),
    }
    .insert(db)
    .await
    .expect("pairing")
    .id;
    for member in members {
        pairing_member::ActiveModel { pairing_id: Set(id), librarian_id: Set(*member) }
            .insert(db)
            .await
            .expect("pairing member");
    }
    id
}

/// Builds the fixture network:
///
/// | librarian | country | sector | languages | interests | updated |
/// |---|---|---|---|---|---|
/// | Ada Okafor | NG | ACADEMIC | en, fr | open access, research data | day 2 |
/// | Bongani Ndlovu | ZA | PUBLIC | en, zu | children's services, open access | day 3 |
/// | Carmen García | ES | NATIONAL | es, en | digital preservation | day 4 |
/// | Emma Wilson | AU | SCHOOL | en | information literacy, open access | day 5 |
/// | Farida Haddad | LB | SPECIAL | ar, fr | health information | day 6 |
/// | Grace Mensah | ZA | ARCHIVE | en | oral history | day 7 |
/// | Lisa 100% Pure_Test | ZA | OTHER | en | - | day 8 |
/// | Alia Khan | NG | PUBLIC | en | - | day 9 |
///
/// LIASA (ZA): Bongani `ZA-1` active, Grace `ZA-2` deactivated, Ada `ZA-3` active.
/// ALIA (AU): Emma `AU-1` active. Ambassadors: Bongani (ZA), Emma (AU).
/// Round 1 (COMPLETED): Ada, Bongani, Carmen, Emma; pairings Ada+Carmen and Bongani+Emma
/// (COMPLETED); a certificate for Ada. Round 2 (ACTIVE): Ada, Farida, Grace as a group of
/// three (ACTIVE), two topics.
pub async fn network(db: &DatabaseConnection) -> Network {
    let l = |name, country, sector, institution, languages, interests, updated| NewLibrarian {
        name,
        country,
        sector,
        institution,
        languages,
        interests,
        updated,
    };
    let ada = add_librarian(
        db,
        l(
            "Ada Okafor",
            "NG",
            "ACADEMIC",
            "University of Lagos Library",
            &["en", "fr"],
            &["open access", "research data"],
            2,
        ),
    )
    .await;
    let bongani = add_librarian(
        db,
        l(
            "Bongani Ndlovu",
            "ZA",
            "PUBLIC",
            "Johannesburg City Library",
            &["en", "zu"],
            &["children's services", "open access"],
            3,
        ),
    )
    .await;
    let carmen = add_librarian(
        db,
        l(
            "Carmen García",
            "ES",
            "NATIONAL",
            "Biblioteca Nacional de España",
            &["en", "es"],
            &["digital preservation"],
            4,
        ),
    )
    .await;
    let emma = add_librarian(
        db,
        l(
            "Emma Wilson",
            "AU",
            "SCHOOL",
            "Sydney Grammar School Library",
            &["en"],
            &["information literacy", "open access"],
            5,
        ),
    )
    .await;
    let farida = add_librarian(
        db,
        l("Farida Haddad", "LB", "SPECIAL", "Saab Medical Library", &["ar", "fr"], &["health information"], 6),
    )
    .await;
    let grace = add_librarian(
        db,
        l("Grace Mensah", "ZA", "ARCHIVE", "National Archives of South Africa", &["en"], &["oral history"], 7),
    )
    .await;
    let lisa =
        add_librarian(db, l("Lisa 100% Pure_Test", "ZA", "OTHER", "Cape Town Makerspace", &["en"], &[], 8)).await;
    let alia = add_librarian(db, l("Alia Khan", "NG", "PUBLIC", "Abuja Public Library", &["en"], &[], 9)).await;

    // Carmen, Grace and Lisa did not consent to the directory; everyone else did.
    librarian::Entity::update_many()
        .col_expr(librarian::Column::ListedInDirectory, Expr::value(false))
        .filter(librarian::Column::Id.is_in([carmen, grace, lisa]))
        .exec(db)
        .await
        .expect("directory consent");

    let liasa = add_association(db, "Library and Information Association of South Africa", "ZA").await;
    let alia_assoc = add_association(db, "Australian Library and Information Association", "AU").await;
    add_membership(db, liasa, bongani, "ZA-1", true).await;
    add_membership(db, liasa, grace, "ZA-2", false).await;
    add_membership(db, liasa, ada, "ZA-3", true).await;
    add_membership(db, alia_assoc, emma, "AU-1", true).await;

    for (librarian_id, country) in [(bongani, "ZA"), (emma, "AU")] {
        ambassador::ActiveModel {
            id: NotSet,
            librarian_id: Set(librarian_id),
            country_code: Set(country.to_owned()),
            term_from: Set(day(1)),
            term_until: Set(None),
            created_at: Set(day(1)),
        }
        .insert(db)
        .await
        .expect("ambassador");
    }

    let round1 = add_round(db, "2026 Round 1", "COMPLETED").await;
    let round2 = add_round(db, "2026 Round 2", "ACTIVE").await;
    for id in [ada, bongani, carmen, emma] {
        add_application(db, round1, id).await;
    }
    for id in [ada, farida, grace] {
        add_application(db, round2, id).await;
    }
    let pairing_ada_carmen = add_pairing(db, round1, "COMPLETED", &[ada, carmen]).await;
    let pairing_bongani_emma = add_pairing(db, round1, "COMPLETED", &[bongani, emma]).await;
    let pairing_trio = add_pairing(db, round2, "ACTIVE", &[ada, farida, grace]).await;
    for (i, title) in ["Games and libraries", "Advocacy"].into_iter().enumerate() {
        discussion_topic::ActiveModel {
            id: NotSet,
            round_id: Set(round2),
            title: Set(title.to_owned()),
            body: Set(format!("Talk about {title}.")),
            publish_at: Set(day(20 + u32::try_from(i).unwrap_or(0))),
            created_at: Set(day(15)),
            // Fixtures are written directly, without change-log entries to announce.
            announced_at: Set(Some(day(20 + u32::try_from(i).unwrap_or(0)))),
        }
        .insert(db)
        .await
        .expect("topic");
    }
    let certificate_ada = certificate::ActiveModel {
        id: NotSet,
        code: Set("8d0e6f4e-4c1b-4f7e-9d59-1c2b3a4d5e6f".to_owned()),
        librarian_id: Set(ada),
        round_id: Set(round1),
        pairing_id: Set(pairing_ada_carmen),
        recipient_name: Set("Ada Okafor".to_owned()),
        issued_at: Set(day(28)),
    }
    .insert(db)
    .await
    .expect("certificate")
    .id;

    Network {
        ada,
        bongani,
        carmen,
        emma,
        farida,
        grace,
        lisa,
        alia,
        liasa,
        alia_assoc,
        round1,
        round2,
        pairing_ada_carmen,
        pairing_bongani_emma,
        pairing_trio,
        certificate_ada,
    }
}

/// A member row as an association syncs it: the fields a new member needs, and English.
/// Tests add what they need (`sector`, `interests`...).
pub fn member_row(external_id: &str, email: &str, name: &str, country: &str) -> serde_json::Value {
    serde_json::json!({ "externalId": external_id, "email": email, "fullName": name, "countryCode": country,
                        "languages": ["en"] })
}
