//! Deterministic generators of realistic-looking people and places.

use chrono::{DateTime, Duration, TimeZone, Utc};
use fastrand::Rng;

use crate::domain::{Region, Sector};

const FIRST_NAMES: &[&str] = &[
    "Amara",
    "Kwame",
    "Thandiwe",
    "Chinedu",
    "Fatima",
    "Omar",
    "Layla",
    "Youssef",
    "Aiko",
    "Hiroshi",
    "Mei",
    "Wei",
    "Priya",
    "Arjun",
    "Ananya",
    "Rahul",
    "Siti",
    "Budi",
    "Maria",
    "José",
    "Lucía",
    "Mateo",
    "Camila",
    "Diego",
    "Ana",
    "João",
    "Beatriz",
    "Sofia",
    "Lars",
    "Ingrid",
    "Freya",
    "Mikael",
    "Anna",
    "Jan",
    "Katarzyna",
    "Tomasz",
    "Olga",
    "Ivan",
    "Elena",
    "Giulia",
    "Marco",
    "Chloé",
    "Louis",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Grace",
    "Tane",
    "Aroha",
    "Mele",
    "Sione",
    "Nomvula",
    "Sipho",
    "Zanele",
    "Kofi",
    "Abena",
    "Tariq",
    "Noor",
    "Dinh",
    "Linh",
    "Somchai",
    "Nurlan",
    "Aigerim",
    "Jamal",
    "Hana",
    "Sun-woo",
    "Ji-yeon",
    "Rustam",
    "Leila",
    "Nadia",
    "Pedro",
    "Rosa",
    "Carlos",
];

const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Mensah",
    "Ndlovu",
    "Dlamini",
    "Haddad",
    "Mansour",
    "El-Amin",
    "Tanaka",
    "Sato",
    "Chen",
    "Wang",
    "Li",
    "Sharma",
    "Patel",
    "Iyer",
    "Santoso",
    "Rahman",
    "García",
    "Fernández",
    "López",
    "Silva",
    "Santos",
    "Oliveira",
    "Andersson",
    "Johansson",
    "Nielsen",
    "Kowalski",
    "Nowak",
    "Ivanova",
    "Petrov",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Martin",
    "Smith",
    "Brown",
    "Wilson",
    "Taylor",
    "Ngata",
    "Walker",
    "Fifita",
    "Tui",
    "Mokoena",
    "Boateng",
    "Asante",
    "Aziz",
    "Nguyen",
    "Tran",
    "Srisai",
    "Bekov",
    "Kim",
    "Park",
    "Karimov",
    "Hosseini",
    "Novak",
    "Horvat",
    "Costa",
    "Reyes",
    "Cruz",
    "Müller",
    "Schmidt",
    "O'Brien",
    "Murphy",
    "Kaya",
    "Yılmaz",
];

/// Interest tags (lower case), the vocabulary the matching engine scores on.
pub const INTERESTS: &[&str] = &[
    "digital preservation",
    "information literacy",
    "open access",
    "research data",
    "children's services",
    "youth services",
    "community engagement",
    "library advocacy",
    "cataloguing",
    "metadata",
    "archives",
    "rare books",
    "games and libraries",
    "makerspaces",
    "copyright",
    "library leadership",
    "reference services",
    "outreach",
    "indigenous knowledge",
    "oral history",
    "health information",
    "scholarly communication",
    "digital humanities",
    "collection development",
    "library design",
    "reading promotion",
    "school libraries",
    "professional development",
    "multilingual collections",
    "accessibility",
];

const JOB_TITLES: &[&str] = &[
    "Librarian",
    "Senior Librarian",
    "Reference Librarian",
    "Archivist",
    "Records Manager",
    "Cataloguer",
    "Library Manager",
    "Research Librarian",
    "Teacher Librarian",
    "Digital Services Librarian",
    "Curator",
    "Information Officer",
    "Library Assistant",
    "Head of Collections",
    "Outreach Coordinator",
];

/// A second working language typical of a region, besides English.
fn regional_languages(region: Option<Region>) -> &'static [&'static str] {
    match region {
        Some(Region::Africa) => &["fr", "sw", "ar", "pt", "zu", "am"],
        Some(Region::Americas) => &["es", "pt", "fr"],
        Some(Region::Asia) => &["zh", "hi", "ja", "ar", "ms", "ko", "id", "ru"],
        Some(Region::Europe) => &["fr", "de", "es", "it", "pl", "nl", "sv", "ru"],
        Some(Region::Oceania) => &["mi", "fr", "sm", "to"],
        Some(Region::Antarctica) | None => &["fr"],
    }
}

/// One generated librarian (without an id).
#[derive(Debug, Clone)]
pub struct Person {
    pub full_name: String,
    pub email: String,
    pub country_code: String,
    pub institution: String,
    pub sector: Sector,
    pub job_title: String,
    pub years_experience: i32,
    pub bio: String,
    pub listed_in_directory: bool,
    pub languages: Vec<String>,
    pub interests: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A country as the generator needs it.
#[derive(Debug, Clone)]
pub struct Place {
    pub code: String,
    pub name: String,
    pub region: Option<Region>,
}

fn pick<'a>(rng: &mut Rng, items: &'a [&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// Picks `n` distinct items.
pub fn sample<'a>(rng: &mut Rng, items: &'a [&'a str], n: usize) -> Vec<&'a str> {
    let mut pool: Vec<&str> = items.to_vec();
    rng.shuffle(&mut pool);
    pool.truncate(n);
    pool.sort_unstable();
    pool
}

/// Generates a person in `place`; `serial` makes the email unique within `domain`.
pub fn person(rng: &mut Rng, place: &Place, serial: usize, domain: &str) -> Person {
    let first = pick(rng, FIRST_NAMES);
    let last = pick(rng, LAST_NAMES);
    let sector = Sector::ALL[rng.usize(..Sector::ALL.len())];
    let institution = match sector {
        Sector::Academic => format!("University of {} Library", place.name),
        Sector::Public => format!("{} City Public Library", place.name),
        Sector::School => format!("{} International School", place.name),
        Sector::Special => format!("{} Medical Research Institute", place.name),
        Sector::National => format!("National Library of {}", place.name),
        Sector::Archive => format!("National Archives of {}", place.name),
        Sector::Museum => format!("{} Museum of History", place.name),
        Sector::Other => format!("{} Information Services", place.name),
    };
    let mut languages = vec!["en".to_owned()];
    if rng.u8(..100) < 55 {
        let second = pick(rng, regional_languages(place.region));
        languages.push(second.to_owned());
    }
    languages.sort();
    let count = 2 + rng.usize(..3);
    let interests: Vec<String> = sample(rng, INTERESTS, count).into_iter().map(str::to_owned).collect();
    let years_experience = i32::from(rng.u8(..36));
    let ascii: String =
        format!("{first}.{last}").to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap_or_default();
    let created_at = base + Duration::minutes(crate::domain::counts::to_i64(serial) * 7 + i64::from(rng.u16(..600)));
    Person {
        full_name: format!("{first} {last}"),
        email: format!("{ascii}.{serial}@{domain}"),
        country_code: place.code.clone(),
        bio: format!(
            "{} at {} with {} years in the profession; keen on {}.",
            pick(rng, JOB_TITLES),
            institution,
            years_experience,
            interests.join(" and ")
        ),
        institution,
        sector,
        job_title: pick(rng, JOB_TITLES).to_owned(),
        years_experience,
        listed_in_directory: rng.u8(..100) < 70,
        languages,
        interests,
        created_at,
    }
}

/// Every inhabited country with its region, from the same ISO 3166 data the countries
/// table is seeded from (no database needed).
pub fn places() -> Vec<Place> {
    let mut places: Vec<Place> = keshvar::CountryIterator::new()
        .filter_map(|country| {
            let region = country.maybe_region().and_then(|r| Region::parse(&r.to_string().to_uppercase()));
            (region.is_some() && region != Some(Region::Antarctica)).then(|| Place {
                code: country.alpha2().to_string().to_uppercase(),
                name: country.iso_short_name().to_owned(),
                region,
            })
        })
        .collect();
    places.sort_by(|a, b| a.code.cmp(&b.code));
    places
}

/// A round of `applicants` for the matching engine, drawn as the demo network draws its
/// people: 100 countries, ten big ones four times as likely; everyone speaks English and
/// about half a regional language; two to four interests from the demo's list; up to two
/// preferred sectors and a random match preference, as in the demo's applications; and one
/// past partnership per ten applicants. Deterministic for a `seed`.
pub fn matching_problem(applicants: usize, seed: u64) -> crate::matching::engine::Problem {
    use crate::matching::engine::{Applicant, Preference, Problem};
    const BIG: &[&str] = &["AU", "US", "GB", "ZA", "IN", "NG", "PH", "NZ", "CA", "KE"];
    const PREFERENCES: &[Preference] =
        &[Preference::Any, Preference::Interests, Preference::Sector, Preference::CareerStage];
    let mut rng = Rng::with_seed(seed);
    let (mut chosen, mut rest): (Vec<Place>, Vec<Place>) =
        places().into_iter().partition(|p| BIG.contains(&p.code.as_str()));
    rng.shuffle(&mut rest);
    chosen.extend(rest.into_iter().take(100 - chosen.len()));
    let weighted: Vec<&Place> = chosen
        .iter()
        .flat_map(|p| std::iter::repeat_n(p, if BIG.contains(&p.code.as_str()) { 4 } else { 1 }))
        .collect();
    let people: Vec<Applicant> = (0..applicants)
        .map(|i| {
            let place = weighted[rng.usize(..weighted.len())];
            let p = person(&mut rng, place, i, "example.org");
            let preferred_sectors =
                (0..rng.usize(..3)).map(|_| Sector::ALL[rng.usize(..Sector::ALL.len())].as_str().to_owned()).collect();
            Applicant {
                id: crate::domain::counts::to_i64(i) + 1,
                country: p.country_code,
                region: place.region.map(|r| r.as_str().to_owned()),
                languages: p.languages,
                interests: p.interests,
                sector: Some(p.sector.as_str().to_owned()),
                preferred_sectors,
                years_experience: Some(p.years_experience),
                preference: PREFERENCES[rng.usize(..PREFERENCES.len())],
            }
        })
        .collect();
    let n = people.len().max(1);
    let past_partners = (0..applicants / 10)
        .map(|_| (people[rng.usize(..n)].id, people[rng.usize(..n)].id))
        .filter(|(a, b)| a != b)
        .collect();
    Problem { applicants: people, past_partners, forbidden: Vec::new() }
}
