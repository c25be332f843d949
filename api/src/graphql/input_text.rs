//! The one rule for text in GraphQL input: no NUL character (U+0000), on either database.
//!
//! PostgreSQL cannot store NUL in `text` (the statement fails), SQLite stores it and every
//! later comparison, export and log line carries it. So NUL is refused at the boundary,
//! before anything runs: every string a request passes to a field or directive, written in
//! the document or sent as a variable, at any depth of lists and input objects. The error
//! is `BAD_USER_INPUT` naming the argument path (`input.fullName`) and the variable.
//!
//! The members of a sync are the exception: a sync reports bad rows one by one and applies
//! the rest, so their text is left to the sync's own row checks (`domain::input::Checks`),
//! which refuse NUL as a row error on every path (GraphQL, bulk files, SCIM).

use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{Name, Pos, Positioned, ServerError, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::ErrorCode;
use crate::error::coded_error;

/// Arguments whose key at the top level is validated row by row by the service:
/// (field, argument, key).
const ROW_CHECKED: &[(&str, &str, &str)] = &[("syncMembers", "input", "members")];

/// Where a NUL was found.
struct Found {
    path: String,
    variable: Option<String>,
    pos: Pos,
}

/// The first string with NUL among the arguments of `document` (with `variables` where
/// they are used), as a `BAD_USER_INPUT` error.
pub fn refuse_nul(document: &ExecutableDocument, variables: &Variables) -> Option<ServerError> {
    let found = find(document, variables)?;
    let mut error = coded_error(
        format!("`{}` contains a NUL character (U+0000), which no text field accepts", found.path),
        ErrorCode::BadUserInput,
        |ext| {
            ext.set("field", found.path.as_str());
            if let Some(variable) = &found.variable {
                ext.set("variable", variable.as_str());
            }
        },
    );
    error.locations = vec![found.pos];
    Some(error)
}

fn find(document: &ExecutableDocument, variables: &Variables) -> Option<Found> {
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    for op in operations {
        if let Some(found) = op.node.variable_definitions.iter().find_map(in_default) {
            return Some(found);
        }
        if let Some(found) = in_directives(&op.node.directives, variables) {
            return Some(found);
        }
        if let Some(found) = in_set(&op.node.selection_set.node, variables) {
            return Some(found);
        }
    }
    document.fragments.values().find_map(|fragment| {
        in_directives(&fragment.node.directives, variables)
            .or_else(|| in_set(&fragment.node.selection_set.node, variables))
    })
}

fn in_default(definition: &Positioned<VariableDefinition>) -> Option<Found> {
    let default = definition.node.default_value.as_ref()?;
    let name = format!("${}", definition.node.name.node);
    in_const(&default.node, &mut name.clone(), &[]).map(|path| Found {
        path,
        variable: Some(definition.node.name.node.to_string()),
        pos: default.pos,
    })
}

fn in_set(set: &SelectionSet, variables: &Variables) -> Option<Found> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => {
            let name = field.node.name.node.as_str();
            field
                .node
                .arguments
                .iter()
                .find_map(|(arg, value)| in_argument(name, arg, value, variables))
                .or_else(|| in_directives(&field.node.directives, variables))
                .or_else(|| in_set(&field.node.selection_set.node, variables))
        }
        Selection::InlineFragment(fragment) => in_directives(&fragment.node.directives, variables)
            .or_else(|| in_set(&fragment.node.selection_set.node, variables)),
        Selection::FragmentSpread(spread) => in_directives(&spread.node.directives, variables),
    })
}

fn in_directives(directives: &[Positioned<Directive>], variables: &Variables) -> Option<Found> {
    directives.iter().find_map(|directive| {
        let name = directive.node.name.node.as_str();
        directive.node.arguments.iter().find_map(|(arg, value)| in_argument(name, arg, value, variables))
    })
}

fn in_argument(field: &str, arg: &Positioned<Name>, value: &Positioned<Value>, variables: &Variables) -> Option<Found> {
    let skip: Vec<&str> =
        ROW_CHECKED.iter().filter(|(f, a, _)| *f == field && *a == arg.node.as_str()).map(|(_, _, key)| *key).collect();
    let mut path = arg.node.to_string();
    in_value(&value.node, &mut path, &skip, variables).map(|(path, variable)| Found { path, variable, pos: value.pos })
}

/// Walks a value of the document; variables are looked up in the request.
fn in_value(
    value: &Value,
    path: &mut String,
    skip: &[&str],
    variables: &Variables,
) -> Option<(String, Option<String>)> {
    match value {
        Value::String(text) if text.contains('\0') => Some((path.clone(), None)),
        Value::Variable(name) => {
            let value = variables.get(name)?;
            in_const(value, path, skip).map(|path| (path, Some(name.to_string())))
        }
        Value::List(items) => items.iter().enumerate().find_map(|(i, item)| {
            let mut inner = format!("{path}[{i}]");
            in_value(item, &mut inner, &[], variables)
        }),
        Value::Object(fields) => {
            fields.iter().filter(|(key, _)| !skip.contains(&key.as_str())).find_map(|(key, item)| {
                let mut inner = format!("{path}.{key}");
                in_value(item, &mut inner, &[], variables)
            })
        }
        _ => None,
    }
}

/// Walks a value sent as a variable (or a variable's default).
fn in_const(value: &ConstValue, path: &mut String, skip: &[&str]) -> Option<String> {
    match value {
        ConstValue::String(text) if text.contains('\0') => Some(path.clone()),
        ConstValue::List(items) => items.iter().enumerate().find_map(|(i, item)| {
            let mut inner = format!("{path}[{i}]");
            in_const(item, &mut inner, &[])
        }),
        ConstValue::Object(fields) => {
            fields.iter().filter(|(key, _)| !skip.contains(&key.as_str())).find_map(|(key, item)| {
                let mut inner = format!("{path}.{key}");
                in_const(item, &mut inner, &[])
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str, variables: serde_json::Value) -> Option<(String, Option<String>)> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let found = find(&document, &Variables::from_json(variables))?;
        Some((found.path, found.variable))
    }

    #[test]
    fn nul_is_found_in_literals_variables_lists_objects_and_defaults() {
        let none = serde_json::json!({});
        assert_eq!(refused(r#"{ a(x: "fine") }"#, none.clone()), None);
        assert_eq!(refused(r#"{ a(x: "bad\u0000") }"#, none.clone()), Some(("x".into(), None)));
        assert_eq!(
            refused(r#"{ a { b(input: { tags: ["ok", "n\u0000"] }) } }"#, none.clone()),
            Some(("input.tags[1]".into(), None))
        );
        assert_eq!(
            refused("query($i: In) { a(input: $i) }", serde_json::json!({ "i": { "bio": "x\u{0}y" } })),
            Some(("input.bio".into(), Some("i".into())))
        );
        assert_eq!(
            refused(r#"query($s: String = "\u0000") { a(x: $s) }"#, none.clone()),
            Some(("$s".into(), Some("s".into())))
        );
        assert_eq!(
            refused(r#"{ ...F } fragment F on Q { a @include(if: true) { b(x: "\u0000") } }"#, none),
            Some(("x".into(), None))
        );
        // A variable nobody uses reaches no resolver.
        assert_eq!(refused("{ a }", serde_json::json!({ "unused": "\u{0}" })), None);
    }

    #[test]
    fn sync_members_are_left_to_the_row_checks_but_the_rest_of_the_input_is_not() {
        let members = serde_json::json!({ "input": { "members": [{ "fullName": "\u{0}" }], "associationId": "A" } });
        assert_eq!(refused("mutation($input: SyncInput!) { syncMembers(input: $input) { ok } }", members), None);
        let key = serde_json::json!({ "input": { "members": [], "associationId": "A\u{0}" } });
        assert_eq!(
            refused("mutation($input: SyncInput!) { syncMembers(input: $input) { ok } }", key),
            Some(("input.associationId".into(), Some("input".into())))
        );
    }
}
