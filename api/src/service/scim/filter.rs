//! SCIM filters (RFC 7644 §3.4.2.2) evaluated on a resource's JSON. The grammar is parsed
//! by the `scim_v2` crate (with its depth and term limits); this decides which resources
//! match. Attribute names are case-insensitive; string comparisons are too, except for
//! `id`, `externalId` and `meta.version` (case-exact in RFC 7643); timestamps compare as
//! instants.

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use serde_json::Value;

/// The attributes whose strings compare case-exactly.
const CASE_EXACT: &[&str] = &["id", "externalid", "version"];

/// Whether `resource` matches `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::Attr(exp) => attr(exp, resource),
        Filter::ValuePath(path) => values(resource, &path.attr).iter().any(|element| {
            let elements: Vec<&Value> = match element {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            elements.into_iter().any(|e| val_filter(&path.filter, e))
        }),
        Filter::Not(inner) => !matches(inner, resource),
        Filter::And(items) => items.as_slice().iter().all(|f| matches(f, resource)),
        Filter::Or(items) => items.as_slice().iter().any(|f| matches(f, resource)),
    }
}

fn val_filter(filter: &ValFilter, element: &Value) -> bool {
    match filter {
        ValFilter::Attr(exp) => attr(exp, element),
        ValFilter::Not(inner) => !val_filter(inner, element),
        ValFilter::And(items) => items.as_slice().iter().all(|f| val_filter(f, element)),
        ValFilter::Or(items) => items.as_slice().iter().any(|f| val_filter(f, element)),
    }
}

fn attr(exp: &AttrExp, resource: &Value) -> bool {
    match exp {
        AttrExp::Present(path) => values(resource, path).iter().any(|v| present(v)),
        AttrExp::Comparison(path, op, expected) => {
            let exact = CASE_EXACT.contains(&path.sub_attr.as_deref().unwrap_or(&path.name).to_lowercase().as_str());
            values(resource, path).iter().any(|v| match v {
                Value::Array(items) => items.iter().any(|item| compare(item, op, expected, exact)),
                other => compare(other, op, expected, exact),
            })
        }
    }
}

/// What a resource sorts by for `sortBy` (RFC 7644 §3.4.2.3): the attribute's first
/// value, case-insensitively; resources without it sort last.
pub fn sort_key(resource: &Value, path: &AttrPath) -> (bool, String) {
    let path = match path.name.split_once('.') {
        Some((name, sub)) if path.sub_attr.is_none() => AttrPath::with_sub_attr(name, sub),
        _ => path.clone(),
    };
    let first = values(resource, &path).into_iter().find_map(|v| match v {
        Value::Array(items) => items.first().cloned(),
        other => Some(other.clone()),
    });
    match first {
        None | Some(Value::Null) => (true, String::new()),
        Some(Value::String(s)) => (false, s.to_lowercase()),
        Some(other) => (false, other.to_string()),
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(present),
        Value::Object(fields) => !fields.is_empty(),
        _ => true,
    }
}

/// The values at `path` (an attribute, maybe with a schema URI and a sub-attribute); a
/// sub-attribute of a multi-valued attribute gives one value per element.
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let mut base = resource;
    if let Some(uri) = &path.uri
        && !uri.eq_ignore_ascii_case(scim_v2::schema_urns::USER)
    {
        match field(resource, uri) {
            Some(extension) => base = extension,
            None => return Vec::new(),
        }
    }
    let Some(top) = field(base, &path.name) else { return Vec::new() };
    match &path.sub_attr {
        None => vec![top],
        Some(sub) => match top {
            Value::Array(items) => items.iter().filter_map(|item| field(item, sub)).collect(),
            other => field(other, sub).into_iter().collect(),
        },
    }
}

/// A field by name, case-insensitively.
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object()?.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn compare(actual: &Value, op: &CompareOp, expected: &CompValue, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), CompValue::Str(b)) => {
            if let (Ok(a), Ok(b)) = (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b)) {
                Some(a.cmp(&b))
            } else if exact {
                return string_op(a, b, op);
            } else {
                return string_op(&a.to_lowercase(), &b.to_lowercase(), op);
            }
        }
        (Value::Bool(a), CompValue::True) => Some(a.cmp(&true)),
        (Value::Bool(a), CompValue::False) => Some(a.cmp(&false)),
        (Value::Number(a), CompValue::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Null, CompValue::Null) => Some(Ordering::Equal),
        (_, CompValue::Null) => return *op == CompareOp::Ne,
        _ => None,
    };
    match (ordering, op) {
        (Some(o), CompareOp::Eq) => o == Ordering::Equal,
        (Some(o), CompareOp::Ne) => o != Ordering::Equal,
        (Some(o), CompareOp::Gt) => o == Ordering::Greater,
        (Some(o), CompareOp::Ge) => o != Ordering::Less,
        (Some(o), CompareOp::Lt) => o == Ordering::Less,
        (Some(o), CompareOp::Le) => o != Ordering::Greater,
        (None, CompareOp::Ne) => true,
        _ => false,
    }
}

fn string_op(a: &str, b: &str, op: &CompareOp) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "TWVtYmVyc2hpcDox",
            "externalId": "ZA-1",
            "userName": "Thandi@Example.org",
            "name": { "formatted": "Thandi Nkosi" },
            "active": true,
            "emails": [
                { "value": "thandi@example.org", "type": "work", "primary": true },
                { "value": "t@home.example", "type": "home" }
            ],
            "addresses": [{ "country": "ZA", "type": "work" }],
            "urn:interlib:params:scim:schemas:extension:2.0:User": { "yearsExperience": 7, "languages": ["en", "zu"] },
            "meta": { "lastModified": "2026-11-30T10:00:00Z", "version": "W/\"3\"" }
        })
    }

    fn check(text: &str) -> bool {
        let filter: Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        matches(&filter, &user())
    }

    #[test]
    fn the_operators_of_the_grammar_match_as_the_rfc_says() {
        for (filter, expected) in [
            (r#"userName eq "thandi@example.org""#, true),
            (r#"USERNAME Eq "THANDI@EXAMPLE.ORG""#, true),
            (r#"externalId eq "za-1""#, false),
            (r#"externalId eq "ZA-1""#, true),
            (r#"userName ne "someone""#, true),
            (r#"name.formatted co "nkos""#, true),
            (r#"userName sw "thandi""#, true),
            (r#"userName ew ".org""#, true),
            ("title pr", false),
            ("emails pr", true),
            ("active eq true", true),
            ("active eq false", false),
            (r#"meta.lastModified gt "2026-11-30T09:00:00Z""#, true),
            (r#"meta.lastModified ge "2026-11-30T12:00:00+02:00""#, true),
            (r#"meta.lastModified lt "2026-11-30T09:59:59Z""#, false),
            (r#"meta.lastModified le "2026-11-30T10:00:00Z""#, true),
            (r#"emails[type eq "work" and value co "example.org"]"#, true),
            (r#"emails[type eq "other"]"#, false),
            (r#"emails.value eq "t@home.example""#, true),
            (r#"addresses[country eq "ZA"]"#, true),
            (r#"urn:interlib:params:scim:schemas:extension:2.0:User:yearsExperience ge 5"#, true),
            (r#"urn:interlib:params:scim:schemas:extension:2.0:User:languages eq "zu""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "t""#, true),
            (r#"not (active eq true)"#, false),
            (r#"(userName eq "x" or externalId eq "ZA-1") and active eq true"#, true),
            (r#"userName eq "x" or not (emails pr)"#, false),
        ] {
            assert_eq!(check(filter), expected, "{filter}");
        }
    }

    #[test]
    fn a_malformed_or_hostile_filter_does_not_parse() {
        for text in ["userName eq", "userName zz \"x\"", "(userName eq \"x\"", "emails[type eq \"work\""] {
            assert!(text.parse::<Filter>().is_err(), "{text}");
        }
        let deep = format!("{}userName eq \"x\"{}", "not (".repeat(200), ")".repeat(200));
        assert!(deep.parse::<Filter>().is_err(), "nesting past the crate's limit is refused");
    }
}
