//! SCIM PATCH operations (RFC 7644 §3.5.2) applied to a user's JSON: `add`, `replace` and
//! `remove` (in any case), with a path (`title`, `name.formatted`,
//! `emails[type eq "work"].value`, an extension's `urn:...:User:sector`) or without one
//! (the value is an object of attributes). The caller turns the result back into a member
//! row, so the sync's rules decide what is valid.

use scim_v2::filter::{AttrPath, Filter, ValFilter};
use serde_json::{Map, Value};

use super::filter::matches;

/// Why an operation cannot apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub scim_type: &'static str,
    pub detail: String,
}

fn refused(scim_type: &'static str, detail: impl Into<String>) -> Refused {
    Refused { scim_type, detail: detail.into() }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// The most values a multi-valued attribute may hold.
pub const MAX_VALUES: usize = 100;

/// The most attributes a user, or one of its complex attributes or extensions, may have:
/// far above what a directory sends, and a bound on the work of each operation (each name
/// is looked up among its neighbours, whatever their case).
pub const MAX_ATTRIBUTES: usize = 200;

/// Checks the sizes a user may have: at most [`MAX_VALUES`] values in a multi-valued
/// attribute and [`MAX_ATTRIBUTES`] attributes in an object, at its top and one level down.
///
/// # Errors
/// `invalidValue` (`tooMany` would be the bulk's).
pub fn check_sizes(user: &Value) -> Result<(), Refused> {
    let Some(top) = user.as_object() else { return Ok(()) };
    let wide = |o: &Map<String, Value>| o.len() > MAX_ATTRIBUTES;
    if wide(top) || top.values().any(|v| v.as_object().is_some_and(wide)) {
        return Err(refused("invalidValue", format!("an object holds at most {MAX_ATTRIBUTES} attributes")));
    }
    if top.values().any(|v| v.as_array().is_some_and(|a| a.len() > MAX_VALUES)) {
        return Err(refused("invalidValue", format!("a multi-valued attribute holds at most {MAX_VALUES} values")));
    }
    Ok(())
}

/// Applies one operation of a PatchOp's `Operations` to `user`.
///
/// # Errors
/// An unknown op (`invalidSyntax`), a path that does not parse (`invalidPath`), `remove`
/// without a path (`noTarget`), a value of the wrong shape (`invalidValue`), or an attempt
/// on a read-only attribute (`mutability`).
pub fn apply(user: &mut Value, operation: &Value) -> Result<(), Refused> {
    let field = |name: &str| {
        operation.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))).map(|(_, v)| v)
    };
    let op = match field("op").and_then(Value::as_str).map(str::to_lowercase).as_deref() {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("remove") => Op::Remove,
        other => return Err(refused("invalidSyntax", format!("unknown op {other:?}: add, replace or remove"))),
    };
    let value = field("value").cloned().unwrap_or(Value::Null);
    let applied = match field("path").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty()) {
        None if op == Op::Remove => Err(refused("noTarget", "`remove` needs a `path`")),
        None => {
            let Value::Object(attributes) = value else {
                return Err(refused("invalidValue", "without a `path`, the `value` is an object of attributes"));
            };
            if attributes.len() > MAX_ATTRIBUTES {
                return Err(refused("invalidValue", format!("an object holds at most {MAX_ATTRIBUTES} attributes")));
            }
            for (name, v) in attributes {
                set_path(user, &name, op, v)?;
            }
            Ok(())
        }
        Some(path) => set_path(user, path, op, value),
    };
    applied?;
    check_sizes(user)
}

/// Attributes every member has (declared required in `/Schemas`): they can be replaced,
/// not removed. The extension's, then the core User's, in lower case.
const ALWAYS_EXTENSION: [&str; 4] = ["", "sector", "yearsexperience", "languages"];
const ALWAYS_CORE: [&str; 6] = ["externalid", "active", "username", "name", "emails", "addresses"];

/// Applies `op` at a path given as text.
fn set_path(user: &mut Value, path: &str, op: Op, value: Value) -> Result<(), Refused> {
    let readonly = ["id", "meta", "schemas"];
    let lower = strip_core(path).to_lowercase();
    if readonly.iter().any(|r| lower == *r || lower.starts_with(&format!("{r}."))) {
        return Err(refused("mutability", format!("`{path}` is read-only")));
    }
    let always = match strip_extension(path) {
        Some(rest) => ALWAYS_EXTENSION.contains(&rest.to_lowercase().as_str()),
        None => ALWAYS_CORE.contains(&lower.as_str()),
    };
    if always && (op == Op::Remove || value.is_null()) {
        return Err(refused("mutability", format!("every member has `{path}`: it can be replaced, not removed")));
    }
    if value.as_object().is_some_and(|o| o.len() > MAX_ATTRIBUTES) {
        return Err(refused("invalidValue", format!("an object holds at most {MAX_ATTRIBUTES} attributes")));
    }
    // Another extension's attribute (`urn:...:enterprise:2.0:User:employeeNumber`), or the
    // whole extension object.
    if let Some((schema, attribute)) = other_extension(user, path) {
        let ext = object_at(user, &schema);
        return match attribute {
            None => merge(ext, op, value),
            Some(name) => set(ext, &name, op, value),
        };
    }
    // An extension's attribute: `urn:...:User:sector`, or the whole extension object.
    if let Some(rest) = strip_extension(path) {
        let ext = object_at(user, super::EXTENSION);
        if rest.eq_ignore_ascii_case("consent") {
            return Err(refused("mutability", "`consent` is the member's to give"));
        }
        return match rest {
            "" => merge(ext, op, value),
            name => set(ext, name, op, value),
        };
    }
    if let Some((attr, filter, sub)) = value_path(path)? {
        return set_filtered(user, &attr, &filter, sub.as_deref(), op, value);
    }
    let path: AttrPath =
        parse_attr_path(path).ok_or_else(|| refused("invalidPath", format!("`{path}` is not an attribute path")))?;
    let root = user.as_object_mut().ok_or_else(|| refused("invalidValue", "not an object"))?;
    match &path.sub_attr {
        None => set(root, &path.name, op, value),
        Some(sub) => {
            let parent = object_at(user, &path.name);
            set(parent, sub, op, value)
        }
    }
}

/// A path into an extension other than Interlib's: its schema URN (as the user spells it
/// when it has the extension already) and the attribute, `None` for the whole extension.
/// An extension's URN ends with its resource type (`...:User`), which tells it from an
/// attribute after it when the user does not have it yet.
fn other_extension(user: &Value, path: &str) -> Option<(String, Option<String>)> {
    let lower = path.to_lowercase();
    if !lower.starts_with("urn:")
        || strip_extension(path).is_some()
        || lower.starts_with(&scim_v2::schema_urns::USER.to_lowercase())
    {
        return None;
    }
    let held = user.as_object().and_then(|o| {
        o.keys()
            .filter(|k| k.starts_with("urn:") && lower.starts_with(&k.to_lowercase()))
            .max_by_key(|k| k.len())
            .cloned()
    });
    let (schema, rest) = match held {
        Some(schema) => {
            let rest = path[schema.len()..].trim_start_matches(':').to_owned();
            (schema, rest)
        }
        None if lower.ends_with(":user") => (path.to_owned(), String::new()),
        None => {
            let (schema, attribute) = path.rsplit_once(':')?;
            (schema.to_owned(), attribute.to_owned())
        }
    };
    Some((schema, (!rest.is_empty()).then_some(rest)))
}

fn strip_extension(path: &str) -> Option<&str> {
    super::after_prefix(path, super::EXTENSION).map(|rest| rest.trim_start_matches(':'))
}

/// A path without the core User schema's URN before it.
fn strip_core(path: &str) -> &str {
    super::after_prefix(path, scim_v2::schema_urns::USER).map_or(path, |rest| rest.trim_start_matches(':'))
}

/// `name` or `name.sub`, optionally after the core User schema's URN.
fn parse_attr_path(path: &str) -> Option<AttrPath> {
    let path = strip_core(path);
    let mut parts = path.splitn(2, '.');
    let name = parts.next()?.trim();
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid(name) {
        return None;
    }
    match parts.next() {
        None => Some(AttrPath::with_name(name)),
        Some(sub) if valid(sub) => Some(AttrPath::with_sub_attr(name, sub)),
        Some(_) => None,
    }
}

/// `attr[filter]` or `attr[filter].sub`.
fn value_path(path: &str) -> Result<Option<(String, ValFilter, Option<String>)>, Refused> {
    let Some(open) = path.find('[') else { return Ok(None) };
    let close = path
        .rfind(']')
        .filter(|close| *close > open)
        .ok_or_else(|| refused("invalidPath", format!("`{path}` has no closing `]` after its `[`")))?;
    let attr = path[..open].trim().to_owned();
    let sub = path[close + 1..].trim().strip_prefix('.').map(str::to_owned);
    let text = format!("{attr}[{}]", &path[open + 1..close]);
    match text.parse::<Filter>() {
        Ok(Filter::ValuePath(vp)) => Ok(Some((attr, *vp.filter, sub))),
        _ => Err(refused("invalidPath", format!("`{path}` is not a valid value path"))),
    }
}

/// The object at `name` under `user` (created when missing or not an object).
fn object_at<'a>(user: &'a mut Value, name: &str) -> &'a mut Map<String, Value> {
    let root = user.as_object_mut().expect("a user is an object");
    let key = root.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned());
    let slot = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("an object")
}

fn set(object: &mut Map<String, Value>, name: &str, op: Op, value: Value) -> Result<(), Refused> {
    let key = object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned());
    match op {
        Op::Remove => {
            object.remove(&key);
        }
        Op::Add => match (object.get_mut(&key), value) {
            // Adding to a multi-valued attribute appends.
            (Some(Value::Array(items)), Value::Array(more)) => items.extend(more),
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, value) => {
                object.insert(key, value);
            }
        },
        Op::Replace => {
            object.insert(key, value);
        }
    }
    Ok(())
}

fn merge(object: &mut Map<String, Value>, op: Op, value: Value) -> Result<(), Refused> {
    match (op, value) {
        (Op::Remove, _) => {
            object.clear();
            Ok(())
        }
        (_, Value::Object(attributes)) => {
            for (name, v) in attributes {
                set(object, &name, op, v)?;
            }
            Ok(())
        }
        _ => Err(refused("invalidValue", "an extension's value is an object of attributes")),
    }
}

/// An operation on the elements of a multi-valued attribute that match `filter`: on the
/// elements (`emails[type eq "work"]`) or on their `sub`-attribute
/// (`emails[type eq "work"].value`). An `add` or `replace` that matches nothing adds an
/// element built from the filter's equalities, as Entra ID expects.
fn set_filtered(
    user: &mut Value,
    attr: &str,
    filter: &ValFilter,
    sub: Option<&str>,
    op: Op,
    value: Value,
) -> Result<(), Refused> {
    let root = user.as_object_mut().ok_or_else(|| refused("invalidValue", "not an object"))?;
    let key = root.keys().find(|k| k.eq_ignore_ascii_case(attr)).cloned().unwrap_or_else(|| attr.to_owned());
    let items = root.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !items.is_array() {
        *items = Value::Array(Vec::new());
    }
    let list = items.as_array_mut().expect("an array");
    let whole = Filter::ValuePath(scim_v2::filter::ValuePath {
        attr: AttrPath::with_name("x"),
        filter: Box::new(filter.clone()),
    });
    let hit = |item: &Value| matches(&whole, &serde_json::json!({ "x": [item] }));
    let found = list.iter().any(hit);
    match (op, sub) {
        (Op::Remove, None) => list.retain(|item| !hit(item)),
        (Op::Remove, Some(sub)) => {
            for item in list.iter_mut().filter(|i| hit(i)) {
                if let Some(object) = item.as_object_mut() {
                    object.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            }
        }
        (_, Some(sub)) if found => {
            for item in list.iter_mut().filter(|i| hit(i)) {
                if let Some(object) = item.as_object_mut() {
                    set(object, sub, Op::Replace, value.clone())?;
                }
            }
        }
        (_, Some(sub)) => {
            let mut element = equalities(filter);
            element.insert(sub.to_owned(), value);
            list.push(Value::Object(element));
        }
        (_, None) => {
            let Value::Object(attributes) = value else {
                return Err(refused("invalidValue", "the value of a filtered element is an object"));
            };
            if found {
                for item in list.iter_mut().filter(|i| hit(i)) {
                    if let Some(object) = item.as_object_mut() {
                        object.extend(attributes.clone());
                    }
                }
            } else {
                let mut element = equalities(filter);
                element.extend(attributes);
                list.push(Value::Object(element));
            }
        }
    }
    Ok(())
}

/// The `attr eq value` terms of a filter (joined by `and`), as an element's fields.
fn equalities(filter: &ValFilter) -> Map<String, Value> {
    use scim_v2::filter::{AttrExp, CompValue, CompareOp};
    let mut out = Map::new();
    let mut add = |f: &ValFilter| {
        if let ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, value)) = f {
            let value = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::True => Value::Bool(true),
                CompValue::False => Value::Bool(false),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => Value::Null,
            };
            out.insert(path.name.clone(), value);
        }
    };
    match filter {
        ValFilter::And(items) => items.as_slice().iter().for_each(&mut add),
        other => add(other),
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "x", "externalId": "ZA-1", "userName": "a@example.org", "active": true,
            "emails": [{ "value": "a@example.org", "type": "work", "primary": true }],
            "name": { "formatted": "A B" },
        })
    }

    fn run(operations: Value) -> Result<Value, Refused> {
        let mut u = user();
        for op in operations.as_array().expect("ops") {
            apply(&mut u, op)?;
        }
        Ok(u)
    }

    #[test]
    fn the_provisioning_patches_of_okta_and_entra_id_apply() {
        // Okta: deactivate.
        let u = run(json!([{ "op": "replace", "value": { "active": false } }])).expect("applies");
        assert_eq!(u["active"], false);
        // Entra ID: capitalised ops, a filtered path, a string boolean.
        let u = run(json!([
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.org" },
            { "op": "Add", "path": "title", "value": "Archivist" },
            { "op": "Replace", "path": "name.formatted", "value": "B C" },
            { "op": "Replace", "path": "active", "value": "False" },
        ]))
        .expect("applies");
        assert_eq!(u["emails"][0]["value"], "b@example.org");
        assert_eq!((u["title"].as_str(), u["name"]["formatted"].as_str()), (Some("Archivist"), Some("B C")));
        assert_eq!(u["active"], "False");
        // An extension attribute, and a filtered add that matches nothing.
        let u = run(json!([
            { "op": "add", "path": "urn:interlib:params:scim:schemas:extension:2.0:User:sector", "value": "ACADEMIC" },
            { "op": "add", "path": "addresses[type eq \"work\"].country", "value": "KE" },
            { "op": "remove", "path": "title" },
        ]))
        .expect("applies");
        assert_eq!(u[super::super::EXTENSION]["sector"], "ACADEMIC");
        assert_eq!(u["addresses"], json!([{ "type": "work", "country": "KE" }]));
    }

    #[test]
    fn what_cannot_apply_is_refused_with_its_scim_type() {
        let code = |ops: Value| run(ops).expect_err("refused").scim_type;
        assert_eq!(code(json!([{ "op": "move", "path": "title", "value": "x" }])), "invalidSyntax");
        assert_eq!(code(json!([{ "op": "remove" }])), "noTarget");
        assert_eq!(code(json!([{ "op": "replace", "path": "id", "value": "y" }])), "mutability");
        assert_eq!(code(json!([{ "op": "replace", "path": "emails[type eq ].value", "value": "y" }])), "invalidPath");
        assert_eq!(code(json!([{ "op": "replace", "path": "a b", "value": "y" }])), "invalidPath");
        assert_eq!(code(json!([{ "op": "add", "value": "not an object" }])), "invalidValue");
        let ext = super::super::EXTENSION;
        for always in ["active", "externalId", "userName", "emails", ext, &format!("{ext}:sector")] {
            assert_eq!(code(json!([{ "op": "remove", "path": always }])), "mutability", "{always}");
        }
        run(json!([{ "op": "remove", "path": format!("{ext}:interests") }])).expect("optional");
    }
}
