//! The demo network: about 2,000 librarians in 100 countries, 20 associations with their
//! memberships, ambassadors, and four rounds (completed, active, open for applications, draft)
//! with applications, pairings, discussion topics and certificates. Deterministic: the same
//! seed gives the same network on SQLite and PostgreSQL.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Duration, TimeZone, Utc};
use entities::{
    ambassador, application, association, certificate, discussion_topic, librarian, membership, pairing,
    pairing_member, round,
};
use fastrand::Rng;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Statement, TransactionTrait,
};
use serde_json::json;

use super::bulk::{insert_people, places};
use super::generator::{self, Person, Place};
use crate::db::rows_per_insert;
use crate::domain::{
    ApplicationStatus, MatchPreference, MembershipConsent, MembershipStatus, PairingOrigin, PairingStatus, RoundStatus,
    Sector,
};

const SEED: u64 = 2016;
const LIBRARIANS: usize = 2_000;
const COUNTRIES: usize = 100;
const ASSOCIATIONS: usize = 20;
/// Countries with the most participants in the real programme come first.
const BIG_COUNTRIES: &[&str] = &["AU", "US", "GB", "ZA", "IN", "NG", "PH", "NZ", "CA", "KE"];

const TOPICS: &[(&str, &str)] = &[
    ("Getting to know each other", "Introduce yourselves, your libraries and what you hope to learn this round."),
    ("Games and libraries", "How do your libraries use games, play and gamification with their communities?"),
    ("Advocacy", "How does your library make its case to funders, governments and the public?"),
    ("Library spaces", "Share photos of your spaces. What would you change if budget were no object?"),
    ("Information literacy", "How do you teach people to find and judge information?"),
    ("Looking back", "What surprised you in your partner's work? What will you take home?"),
];

const GOALS: &[&str] = &[
    "Learn how libraries elsewhere run community programmes.",
    "Find a partner for a joint research project.",
    "Improve my practice in digital collections.",
    "Understand library advocacy in another country.",
    "Build an international professional network.",
];

/// When the demo network was written, as its rows say: later plans (a round opening next
/// year, applications still to come) were made by then. A row written "in the future"
/// would look changed to every reader comparing timestamps (and to clock-skewed replicas).
fn seeded_at() -> DateTime<Utc> {
    at(2026, 11, 30)
}

/// Dates every write of the seed at the latest [`seeded_at`] (the dates the rows are about,
/// such as a round's opening or a topic's publication, stay as planned).
async fn no_future_writes<C: ConnectionTrait>(db: &C) -> anyhow::Result<()> {
    const WRITES: [(&str, &str); 15] = [
        ("librarians", "created_at"),
        ("librarians", "updated_at"),
        ("associations", "created_at"),
        ("associations", "updated_at"),
        ("memberships", "created_at"),
        ("memberships", "updated_at"),
        ("memberships", "deactivated_at"),
        ("rounds", "created_at"),
        ("rounds", "updated_at"),
        ("applications", "created_at"),
        ("applications", "updated_at"),
        ("pairings", "created_at"),
        ("pairings", "updated_at"),
        ("discussion_topics", "created_at"),
        ("certificates", "issued_at"),
    ];
    let backend = db.get_database_backend();
    for (table, column) in WRITES {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("UPDATE {table} SET {column} = $1 WHERE {column} > $1"),
            [seeded_at().into()],
        ))
        .await?;
    }
    Ok(())
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().unwrap_or_default()
}

/// Seeds the demo network. Refuses a database that already has librarians.
///
/// # Errors
/// A non-empty database, or a database error (then nothing is written).
pub async fn demo(db: &DatabaseConnection) -> anyhow::Result<()> {
    anyhow::ensure!(
        librarian::Entity::find().count(db).await? == 0,
        "the database already has librarians; seed the demo network into an empty database"
    );
    let mut rng = Rng::with_seed(SEED);
    let mut all = places(db).await?;
    all.sort_by(|a, b| a.code.cmp(&b.code));
    let (mut chosen, mut rest): (Vec<Place>, Vec<Place>) =
        all.into_iter().partition(|p| BIG_COUNTRIES.contains(&p.code.as_str()));
    chosen.sort_by_key(|p| BIG_COUNTRIES.iter().position(|c| *c == p.code));
    rng.shuffle(&mut rest);
    chosen.extend(rest.into_iter().take(COUNTRIES.saturating_sub(chosen.len())));

    // Big countries weigh four times as much as the others.
    let weighted: Vec<&Place> = chosen
        .iter()
        .enumerate()
        .flat_map(|(i, p)| std::iter::repeat_n(p, if i < BIG_COUNTRIES.len() { 4 } else { 1 }))
        .collect();
    let people: Vec<Person> = (0..LIBRARIANS)
        .map(|i| {
            // Every country gets at least a few people; the rest follow the weights.
            let place =
                if i < chosen.len() * 3 { &chosen[i % chosen.len()] } else { weighted[rng.usize(..weighted.len())] };
            generator::person(&mut rng, place, i, "example.org")
        })
        .collect();

    let txn = db.begin().await?;
    let ids = insert_people(&txn, &people).await.context("inserting librarians")?;
    let roster: Vec<(i32, &Person)> = ids.iter().copied().zip(&people).collect();
    seed_associations(&txn, &mut rng, &chosen, &roster).await.context("inserting associations")?;
    seed_ambassadors(&txn, &mut rng, &chosen, &roster).await.context("inserting ambassadors")?;
    seed_rounds(&txn, &mut rng, &roster).await.context("inserting rounds")?;
    no_future_writes(&txn).await.context("dating the writes")?;
    super::log_everything(&txn).await.context("writing the change log")?;
    txn.commit().await?;
    Ok(())
}

async fn seed_associations<C: ConnectionTrait>(
    db: &C,
    rng: &mut Rng,
    chosen: &[Place],
    roster: &[(i32, &Person)],
) -> anyhow::Result<()> {
    let created = at(2024, 1, 1);
    let mut memberships = Vec::new();
    for place in chosen.iter().take(ASSOCIATIONS) {
        let assoc = association::ActiveModel {
            id: NotSet,
            name: Set(format!("{} Library and Information Association", place.name)),
            country_code: Set(place.code.clone()),
            website: Set(Some(format!("https://lia-{}.example.org", place.code.to_lowercase()))),
            created_at: Set(created),
            updated_at: Set(created),
        }
        .insert(db)
        .await?;
        let mut serial = 0;
        for (id, person) in roster {
            let local = person.country_code == place.code && rng.u8(..100) < 60;
            let foreign = person.country_code != place.code && rng.u16(..1000) < 3;
            if !(local || foreign) {
                continue;
            }
            serial += 1;
            let deactivated = rng.u8(..100) < 5;
            let joined = person.created_at + Duration::days(i64::from(rng.u16(..300)));
            memberships.push(membership::ActiveModel {
                id: NotSet,
                association_id: Set(assoc.id),
                librarian_id: Set(*id),
                external_id: Set(format!("{}-{serial:05}", place.code)),
                status: Set(if deactivated { MembershipStatus::Deactivated } else { MembershipStatus::Active }
                    .as_str()
                    .to_owned()),
                deactivated_at: Set(deactivated.then(|| joined + Duration::days(200))),
                version: Set(1),
                provisioned: Set(false),
                // The demo's members agreed to their associations.
                consent: Set(MembershipConsent::Confirmed.as_str().to_owned()),
                sent: Set(None),
                directory: Set(None),
                user_name: Set(None),
                removed_at: Set(None),
                created_at: Set(joined),
                updated_at: Set(if deactivated { joined + Duration::days(200) } else { joined }),
            });
        }
    }
    for chunk in memberships.chunks(rows_per_insert::<membership::Entity>()) {
        membership::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

async fn seed_ambassadors<C: ConnectionTrait>(
    db: &C,
    rng: &mut Rng,
    chosen: &[Place],
    roster: &[(i32, &Person)],
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for (i, place) in chosen.iter().take(60).enumerate() {
        let locals: Vec<i32> = roster.iter().filter(|(_, p)| p.country_code == place.code).map(|(id, _)| *id).collect();
        if locals.is_empty() {
            continue;
        }
        let current = locals[rng.usize(..locals.len())];
        if i % 6 == 0 && locals.len() > 1 {
            let past = locals.iter().copied().find(|id| *id != current).unwrap_or(current);
            rows.push((past, place.code.clone(), at(2024, 1, 1), Some(at(2025, 12, 31))));
        }
        rows.push((current, place.code.clone(), at(2026, 1, 1), None));
    }
    let models = rows.into_iter().map(|(librarian_id, code, from, until)| ambassador::ActiveModel {
        id: NotSet,
        librarian_id: Set(librarian_id),
        country_code: Set(code),
        term_from: Set(from),
        term_until: Set(until),
        created_at: Set(from),
    });
    ambassador::Entity::insert_many(models).exec_without_returning(db).await?;
    Ok(())
}

struct RoundPlan {
    name: &'static str,
    status: RoundStatus,
    opens: DateTime<Utc>,
    applicants: usize,
}

async fn seed_rounds<C: ConnectionTrait>(db: &C, rng: &mut Rng, roster: &[(i32, &Person)]) -> anyhow::Result<()> {
    let plans = [
        RoundPlan { name: "2026 Round 1", status: RoundStatus::Completed, opens: at(2026, 1, 12), applicants: 720 },
        RoundPlan { name: "2026 Round 2", status: RoundStatus::Active, opens: at(2026, 7, 13), applicants: 810 },
        RoundPlan { name: "2027 Round 1", status: RoundStatus::Open, opens: at(2026, 11, 16), applicants: 240 },
        RoundPlan { name: "2027 Round 2", status: RoundStatus::Draft, opens: at(2027, 6, 14), applicants: 0 },
    ];
    for plan in plans {
        let closes = plan.opens + Duration::weeks(5);
        let starts = closes + Duration::weeks(2);
        let round = round::ActiveModel {
            id: NotSet,
            name: Set(plan.name.to_owned()),
            status: Set(plan.status.as_str().to_owned()),
            applications_open_at: Set(plan.opens),
            applications_close_at: Set(closes),
            starts_at: Set(starts),
            ends_at: Set(starts + Duration::weeks(17)),
            // Rounds still taking applications have the programme's cap; earlier rounds
            // were filled as their applications came.
            country_share: Set(matches!(plan.status, RoundStatus::Open | RoundStatus::Draft)
                .then_some(crate::service::country_share::DEFAULT_COUNTRY_SHARE)),
            created_at: Set(plan.opens - Duration::weeks(4)),
            updated_at: Set(plan.opens),
        }
        .insert(db)
        .await?;

        let mut pool: Vec<(i32, &Person)> = roster.to_vec();
        rng.shuffle(&mut pool);
        pool.truncate(plan.applicants);
        let paired = matches!(plan.status, RoundStatus::Active | RoundStatus::Completed);
        let apps = pool.iter().enumerate().map(|(i, (id, person))| {
            let sectors: Vec<&str> =
                (0..rng.usize(..3)).map(|_| Sector::ALL[rng.usize(..Sector::ALL.len())].as_str()).collect();
            let applied = plan.opens + Duration::minutes(crate::domain::counts::to_i64(i) * 60);
            application::ActiveModel {
                id: NotSet,
                round_id: Set(round.id),
                librarian_id: Set(*id),
                status: Set(if paired { ApplicationStatus::Matched } else { ApplicationStatus::Submitted }
                    .as_str()
                    .to_owned()),
                match_preference: Set(MatchPreference::ALL[rng.usize(..MatchPreference::ALL.len())]
                    .as_str()
                    .to_owned()),
                preferences: Set(json!({
                    "languages": person.languages,
                    "preferredSectors": sectors,
                    "interests": person.interests,
                })),
                goal: Set(Some(GOALS[rng.usize(..GOALS.len())].to_owned())),
                deferral: Set(None),
                deferral_note: Set(None),
                created_at: Set(applied),
                updated_at: Set(applied),
            }
        });
        let apps: Vec<_> = apps.collect();
        for chunk in apps.chunks(rows_per_insert::<application::Entity>()) {
            application::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
        }
        if paired {
            seed_pairings(db, rng, &round, &pool).await?;
            let topics = TOPICS.iter().enumerate().map(|(i, (title, body))| discussion_topic::ActiveModel {
                id: NotSet,
                round_id: Set(round.id),
                title: Set((*title).to_owned()),
                body: Set((*body).to_owned()),
                publish_at: Set(starts + Duration::weeks(2 * crate::domain::counts::to_i64(i))),
                created_at: Set(closes),
                // The seed's change-log pass announces the topics already published.
                announced_at: Set(None),
            });
            discussion_topic::Entity::insert_many(topics).exec_without_returning(db).await?;
        }
    }
    Ok(())
}

fn shared<'a>(a: &'a [String], b: &[String]) -> Vec<&'a str> {
    a.iter().filter(|x| b.contains(x)).map(String::as_str).collect()
}

/// Greedy demo pairing (the real engine is the matching module): partners from different
/// countries with a shared language, preferring shared interests.
async fn seed_pairings<C: ConnectionTrait>(
    db: &C,
    rng: &mut Rng,
    round: &round::Model,
    applicants: &[(i32, &Person)],
) -> anyhow::Result<()> {
    let completed = round.status == RoundStatus::Completed.as_str();
    for (n, group) in demo_groups(applicants).iter().enumerate() {
        let dissolved = n % 25 == 7;
        let status = match (dissolved, completed) {
            (true, _) => PairingStatus::Dissolved,
            (false, true) => PairingStatus::Completed,
            (false, false) => PairingStatus::Active,
        };
        let (score, explanation) = explain(group);
        let created = round.applications_close_at + Duration::days(3);
        let saved = pairing::ActiveModel {
            id: NotSet,
            round_id: Set(round.id),
            status: Set(status.as_str().to_owned()),
            origin: Set(if n % 40 == 3 { PairingOrigin::Manual } else { PairingOrigin::Algorithm }.as_str().to_owned()),
            score: Set(score),
            explanation: Set(explanation),
            created_at: Set(created),
            updated_at: Set(created),
        }
        .insert(db)
        .await?;
        let members = group
            .iter()
            .map(|(id, _)| pairing_member::ActiveModel { pairing_id: Set(saved.id), librarian_id: Set(*id) });
        pairing_member::Entity::insert_many(members).exec_without_returning(db).await?;
        if status == PairingStatus::Completed {
            seed_certificates(db, rng, round, saved.id, group).await?;
        }
    }
    Ok(())
}

/// Greedy demo groups: each applicant with a later one from another country who shares a
/// language (the most shared interests among the next 40); the odd one out joins the last
/// pair as a group of three.
fn demo_groups<'a>(applicants: &[(i32, &'a Person)]) -> Vec<Vec<(i32, &'a Person)>> {
    let mut taken: HashSet<i32> = HashSet::new();
    let mut groups: Vec<Vec<(i32, &Person)>> = Vec::new();
    for (i, (a, pa)) in applicants.iter().enumerate() {
        if taken.contains(a) {
            continue;
        }
        let candidate = applicants[i + 1..]
            .iter()
            .filter(|(b, pb)| {
                !taken.contains(b)
                    && pb.country_code != pa.country_code
                    && !shared(&pa.languages, &pb.languages).is_empty()
            })
            .take(40)
            .max_by_key(|(_, pb)| shared(&pa.interests, &pb.interests).len());
        if let Some((b, pb)) = candidate {
            taken.insert(*a);
            taken.insert(*b);
            groups.push(vec![(*a, *pa), (*b, *pb)]);
        }
    }
    let left = applicants.iter().find(|(id, _)| !taken.contains(id));
    if let (Some(left), Some(last)) = (left, groups.last_mut())
        && last.iter().all(|(_, p)| p.country_code != left.1.country_code)
    {
        last.push(*left);
    }
    groups
}

/// A demo group's score and explanation, in the engine's words.
fn explain(group: &[(i32, &Person)]) -> (i32, String) {
    let first = group[0].1;
    let interests: Vec<&str> = group[1..].iter().flat_map(|(_, p)| shared(&first.interests, &p.interests)).collect();
    let languages: Vec<&str> = group[1..].iter().flat_map(|(_, p)| shared(&first.languages, &p.languages)).collect();
    let countries: Vec<&str> = group.iter().map(|(_, p)| p.country_code.as_str()).collect();
    let score = 10 * crate::domain::counts::to_i32(interests.len()) + 5;
    let explanation = format!(
        "Different countries ({}); shared language: {}; shared interests: {}.",
        countries.join(", "),
        languages.first().copied().unwrap_or("en"),
        if interests.is_empty() { "none".to_owned() } else { interests.join(", ") }
    );
    (score, explanation)
}

/// The certificates of a completed demo pairing, one per member.
async fn seed_certificates<C: ConnectionTrait>(
    db: &C,
    rng: &mut Rng,
    round: &round::Model,
    pairing_id: i32,
    group: &[(i32, &Person)],
) -> anyhow::Result<()> {
    let certs = group.iter().map(|(id, p)| {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        certificate::ActiveModel {
            id: NotSet,
            code: Set(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()),
            librarian_id: Set(*id),
            round_id: Set(round.id),
            pairing_id: Set(pairing_id),
            recipient_name: Set(p.full_name.clone()),
            issued_at: Set(round.ends_at),
        }
    });
    certificate::Entity::insert_many(certs).exec_without_returning(db).await?;
    Ok(())
}
