//! A SCIM user as the member row the sync takes, and the rest of it as the directory's
//! own record of the member.

use serde_json::{Value, json};

use super::EXTENSION;
use crate::service::sync::{self, MemberRecord};

/// A refusal of a SCIM user's content: which attribute, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub attribute: String,
    pub detail: String,
}

/// The member row a SCIM user asks for. `externalId` defaults to `userName`; the email is
/// the primary (or first) of `emails`, else `userName`; the name `name.formatted`, else
/// `givenName familyName`, else `displayName`; the country that of the primary (or first)
/// address. The rest of the user is the directory's record of them, kept as sent.
///
/// # Errors
/// An attribute of the wrong type.
pub fn record(user: &Value) -> Result<MemberRecord, Invalid> {
    let user = &unqualified(user);
    super::patch::check_sizes(user)
        .map_err(|refused| Invalid { attribute: "attributes".into(), detail: refused.detail })?;
    let get = |name: &str| {
        user.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))).map(|(_, v)| v)
    };
    let text = |name: &str, value: Option<&Value>| -> Result<Option<String>, Invalid> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Invalid { attribute: name.to_owned(), detail: format!("`{name}` must be a string") }),
        }
    };
    let user_name = text("userName", get("userName"))?;
    // The sync keys members by the trimmed id: so does every lookup after it.
    let external_id =
        text("externalId", get("externalId"))?.or_else(|| user_name.clone()).map(|id| id.trim().to_owned());
    let primary = |list: Option<&Value>| -> Option<Value> {
        let items = list?.as_array()?;
        items.iter().find(|i| i.get("primary").and_then(Value::as_bool) == Some(true)).or(items.first()).cloned()
    };
    let email = match primary(get("emails")) {
        Some(e) => text("emails.value", e.get("value"))?,
        None => user_name.clone().filter(|u| u.contains('@')),
    };
    let name = get("name");
    let full_name = match text("name.formatted", name.and_then(|n| n.get("formatted")))? {
        Some(formatted) => Some(formatted),
        None => {
            let given = text("name.givenName", name.and_then(|n| n.get("givenName")))?;
            let family = text("name.familyName", name.and_then(|n| n.get("familyName")))?;
            let joined = [given, family].into_iter().flatten().collect::<Vec<_>>().join(" ");
            if joined.is_empty() { text("displayName", get("displayName"))? } else { Some(joined) }
        }
    };
    let country_code = match primary(get("addresses")) {
        Some(a) => text("addresses.country", a.get("country"))?,
        None => None,
    };
    let active = match get("active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        // Some identity providers send booleans as strings.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err(Invalid { attribute: "active".into(), detail: "`active` must be a boolean".into() }),
    };
    let extension = Extension::read(get(EXTENSION))?;
    let directory = sync::Directory { user_name: user_name.clone(), attributes: kept(user).to_string() };
    Ok(MemberRecord {
        external_id,
        email,
        full_name,
        country_code,
        institution: extension.institution,
        sector: extension.sector,
        job_title: text("title", get("title"))?,
        years_experience: extension.years_experience,
        languages: extension.languages,
        interests: extension.interests,
        active,
        directory: Some(directory),
        ..MemberRecord::default()
    })
}

/// The user with its core attributes by their plain names: `urn:...:core:2.0:User:userName`
/// is `userName` (RFC 7644 §3.10), so that every rule (such as never keeping a password)
/// applies to both spellings. A value under the core schema's URN itself is dropped.
fn unqualified(user: &Value) -> Value {
    let Value::Object(fields) = user else { return user.clone() };
    let core = scim_v2::schema_urns::USER;
    let plain = fields.iter().filter_map(|(k, v)| match super::after_prefix(k, core) {
        Some(rest) => {
            let name = rest.trim_start_matches(':');
            (!name.is_empty()).then(|| (name.to_owned(), v.clone()))
        }
        None => Some((k.clone(), v.clone())),
    });
    Value::Object(plain.collect())
}

/// Core attribute names (RFC 7643 §4.1), and those of their parts: a directory record
/// keeps them in this case, whatever case they were sent in, so that what Interlib keeps
/// itself is set over them without a second spelling.
const CANONICAL: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509Certificates",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "value",
    "display",
    "type",
    "primary",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
];

/// What a directory record never keeps: what SCIM computes, what Interlib keeps in its
/// own columns, what the server assigns (`groups`) and secrets (`password`).
const NOT_KEPT: &[&str] = &["schemas", "id", "meta", "externalId", "active", "title", "groups", "password", EXTENSION];

/// The part of a SCIM user that is the directory's own record, names in canonical case.
fn kept(user: &Value) -> Value {
    fn canonical(value: &Value) -> Value {
        match value {
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let name = CANONICAL.iter().find(|c| c.eq_ignore_ascii_case(k)).map_or(k.as_str(), |c| c);
                        (name.to_owned(), canonical(v))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let Value::Object(fields) = user else { return json!({}) };
    let rest: serde_json::Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| !NOT_KEPT.iter().any(|n| n.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    canonical(&Value::Object(rest))
}

/// The Interlib extension's attributes of a SCIM user.
struct Extension {
    institution: Option<String>,
    sector: Option<String>,
    years_experience: Option<i32>,
    languages: Option<Vec<String>>,
    interests: Option<Vec<String>>,
}

impl Extension {
    fn read(ext: Option<&Value>) -> Result<Self, Invalid> {
        let ext_field = |name: &str| ext.and_then(|e| e.get(name));
        let text = |name: &str| -> Result<Option<String>, Invalid> {
            match ext_field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Invalid { attribute: name.to_owned(), detail: format!("`{name}` must be a string") }),
            }
        };
        let list = |name: &str| -> Result<Option<Vec<String>>, Invalid> {
            match ext_field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| Invalid {
                            attribute: name.to_owned(),
                            detail: format!("`{name}` must be a list of strings"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => {
                    Err(Invalid { attribute: name.to_owned(), detail: format!("`{name}` must be a list of strings") })
                }
            }
        };
        let years_experience = match ext_field("yearsExperience") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| Invalid {
                attribute: "yearsExperience".into(),
                detail: "`yearsExperience` must be a whole number".into(),
            })?),
        };
        Ok(Self {
            institution: text("institution")?,
            sector: text("sector")?,
            years_experience,
            // A librarian always has a working language: an empty list leaves theirs as it is.
            languages: list("languages")?.filter(|l| !l.is_empty()),
            interests: list("interests")?,
        })
    }
}
