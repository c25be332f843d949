//! Round reports for ambassadors (a country), associations (their members) and admins (the
//! network): aggregates computed in SQL, a handful of statements whatever the round's size.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};

use crate::error::ApiResult;

/// Whose participants a report counts.
#[derive(Debug, Clone)]
pub enum Scope {
    Network,
    Country(String),
    /// The association's active members.
    Association(i32),
}

impl Scope {
    /// The SQL condition on the librarian `l`, and its parameter (`$2`).
    fn condition(&self) -> (&'static str, Option<Value>) {
        match self {
            Self::Network => ("1 = 1", None),
            Self::Country(code) => ("l.country_code = $2", Some(code.clone().into())),
            Self::Association(id) => (
                "l.id IN (SELECT librarian_id FROM memberships \
                 WHERE association_id = $2 AND status = 'ACTIVE' AND consent = 'CONFIRMED')",
                Some((*id).into()),
            ),
        }
    }
}

/// Engagement reported by the scope's participants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Engagement {
    pub reports: i64,
    pub met: i64,
    pub average_rating: Option<f64>,
    /// Pairings where someone of the scope reported a meeting.
    pub engaged_pairings: i64,
    /// Pairings where the scope's reports all say they did not meet.
    pub disengaged_pairings: i64,
}

/// A round's report for a scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundStats {
    /// Applications not withdrawn.
    pub applicants: i64,
    /// Applications deferred to a later round.
    pub deferred: i64,
    /// Participants in a pairing that was not dissolved.
    pub matched: i64,
    /// Participants of completed pairings.
    pub completed: i64,
    pub engagement: Engagement,
    /// The countries of the participants' partners, with how many partners came from each.
    pub partner_countries: Vec<(String, i64)>,
}

async fn rows(
    db: &DatabaseConnection,
    sql: &str,
    round_id: i32,
    scope: &Scope,
) -> ApiResult<Vec<sea_orm::QueryResult>> {
    let (condition, param) = scope.condition();
    let sql = sql.replace("{scope}", condition);
    let mut values: Vec<Value> = vec![round_id.into()];
    values.extend(param);
    let backend = db.get_database_backend();
    Ok(db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?)
}

async fn one_number(db: &DatabaseConnection, sql: &str, round_id: i32, scope: &Scope) -> ApiResult<i64> {
    let found = rows(db, sql, round_id, scope).await?;
    Ok(match found.first() {
        Some(row) => row.try_get::<Option<i64>>("", "n")?.unwrap_or(0),
        None => 0,
    })
}

/// The report of `round_id` for `scope`.
///
/// # Errors
/// Database errors.
pub async fn round_stats(db: &DatabaseConnection, round_id: i32, scope: &Scope) -> ApiResult<RoundStats> {
    let applicants = one_number(
        db,
        "SELECT COUNT(*) AS n FROM applications x JOIN librarians l ON l.id = x.librarian_id \
         WHERE x.round_id = $1 AND x.status <> 'WITHDRAWN' AND {scope}",
        round_id,
        scope,
    )
    .await?;
    let deferred = one_number(
        db,
        "SELECT COUNT(*) AS n FROM applications x JOIN librarians l ON l.id = x.librarian_id \
         WHERE x.round_id = $1 AND x.status = 'DEFERRED' AND {scope}",
        round_id,
        scope,
    )
    .await?;
    let members = "SELECT COUNT(DISTINCT m.librarian_id) AS n FROM pairing_members m \
         JOIN pairings p ON p.id = m.pairing_id JOIN librarians l ON l.id = m.librarian_id \
         WHERE p.round_id = $1 AND p.status IN (STATUSES) AND {scope}";
    let matched =
        one_number(db, &members.replace("STATUSES", "'PROPOSED', 'ACTIVE', 'COMPLETED'"), round_id, scope).await?;
    let completed = one_number(db, &members.replace("STATUSES", "'COMPLETED'"), round_id, scope).await?;
    let reports = rows(
        db,
        "SELECT COUNT(*) AS reports, SUM(CASE WHEN r.met THEN 1 ELSE 0 END) AS met, \
           CAST(AVG(r.rating) AS DOUBLE PRECISION) AS rating \
         FROM engagement_reports r JOIN pairings p ON p.id = r.pairing_id JOIN librarians l ON l.id = r.librarian_id \
         WHERE p.round_id = $1 AND {scope}",
        round_id,
        scope,
    )
    .await?;
    let pairings = rows(
        db,
        "SELECT SUM(CASE WHEN e.met > 0 THEN 1 ELSE 0 END) AS engaged, SUM(CASE WHEN e.met = 0 THEN 1 ELSE 0 END) AS disengaged \
         FROM (SELECT r.pairing_id, SUM(CASE WHEN r.met THEN 1 ELSE 0 END) AS met \
               FROM engagement_reports r JOIN pairings p ON p.id = r.pairing_id JOIN librarians l ON l.id = r.librarian_id \
               WHERE p.round_id = $1 AND {scope} GROUP BY r.pairing_id) e",
        round_id,
        scope,
    )
    .await?;
    let mut engagement = Engagement::default();
    if let Some(row) = reports.first() {
        engagement.reports = row.try_get::<Option<i64>>("", "reports")?.unwrap_or(0);
        engagement.met = row.try_get::<Option<i64>>("", "met")?.unwrap_or(0);
        engagement.average_rating = row.try_get::<Option<f64>>("", "rating")?;
    }
    if let Some(row) = pairings.first() {
        engagement.engaged_pairings = row.try_get::<Option<i64>>("", "engaged")?.unwrap_or(0);
        engagement.disengaged_pairings = row.try_get::<Option<i64>>("", "disengaged")?.unwrap_or(0);
    }
    let countries = rows(
        db,
        "SELECT o.country_code AS country, COUNT(DISTINCT om.librarian_id) AS n \
         FROM pairing_members m JOIN pairings p ON p.id = m.pairing_id JOIN librarians l ON l.id = m.librarian_id \
         JOIN pairing_members om ON om.pairing_id = m.pairing_id AND om.librarian_id <> m.librarian_id \
         JOIN librarians o ON o.id = om.librarian_id \
         WHERE p.round_id = $1 AND p.status <> 'DISSOLVED' AND {scope} \
         GROUP BY o.country_code ORDER BY n DESC, country",
        round_id,
        scope,
    )
    .await?;
    let mut partner_countries = Vec::with_capacity(countries.len());
    for row in countries {
        partner_countries.push((row.try_get::<String>("", "country")?, row.try_get::<i64>("", "n")?));
    }
    Ok(RoundStats { applicants, deferred, matched, completed, engagement, partner_countries })
}
