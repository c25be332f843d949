//! Introspection as the ecosystem sends it: the real documents of graphql-js (the
//! standard `getIntrospectionQuery()`, with every option) and graphql-core (which gql's
//! `fetch_schema_from_transport` sends), kept as fixtures, answer in full under the default
//! limits. Introspection has its own rule (the nesting of type lists), so the data depth
//! limit stays at 12 and an introspection query that multiplies its answer is refused.

use chrono::{Months, NaiveDate};
use interlib_tests::{TestApp, error_codes};
use serde_json::{Value, json};

const FIXTURES: [(&str, &str); 3] = [
    (
        "graphql-js 16.15 getIntrospectionQuery()",
        include_str!("../../fixtures/introspection/graphql-js-16.15-default.graphql"),
    ),
    (
        "graphql-js 16.15 getIntrospectionQuery({ descriptions, specifiedByUrl, directiveIsRepeatable, schemaDescription, inputValueDeprecation })",
        include_str!("../../fixtures/introspection/graphql-js-16.15-every-option.graphql"),
    ),
    (
        "graphql-core 3.2.8 get_introspection_query(every option), as gql sends it",
        include_str!("../../fixtures/introspection/graphql-core-3.2.8-every-option.graphql"),
    ),
];

#[tokio::test]
async fn the_standard_introspection_queries_answer_in_full() {
    let app = TestApp::spawn().await;
    for (client, document) in FIXTURES {
        for token in [None, Some(app.admin.as_str())] {
            let body = app.graphql_as(token, document, json!({})).await;
            assert!(body.get("errors").is_none(), "{client}: {body:#}");
            let schema = &body["data"]["__schema"];
            assert_eq!(schema["queryType"]["name"], "Query", "{client}");
            assert!(schema["mutationType"]["name"].is_string() && schema["subscriptionType"]["name"].is_string());
            let types = schema["types"].as_array().expect("types");
            assert!(types.len() > 100, "{client}: {} types", types.len());
            // The deepest type reference of the schema comes back whole (`[ID!]!` is 3 levels).
            let nodes = types.iter().find(|t| t["name"] == "Query").expect("Query")["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .find(|f| f["name"] == "nodes")
                .cloned()
                .unwrap_or(Value::Null);
            assert_eq!(nodes["args"][0]["type"]["ofType"]["ofType"]["ofType"]["name"], "ID", "{client}: {nodes}");
        }
    }
}

#[tokio::test]
async fn introspection_that_multiplies_its_answer_is_refused_and_data_depth_is_unchanged() {
    let app = TestApp::spawn().await;
    // types > fields > type > fields > type > fields: every field of every type of every
    // field's type — the answer grows with the schema's size at each level.
    let fan = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let body = app.graphql(fan, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    let ext = &body["errors"][0]["extensions"];
    assert_eq!((ext["limit"].as_str(), &ext["max"], &ext["actual"]), (Some("introspection"), &json!(3), &json!(4)));
    // Through fragments too.
    let spread = "{ __type(name: \"Query\") { ...A } } fragment A on __Type { fields { type { ...B } } } \
                  fragment B on __Type { fields { type { fields { args { name } } } } }";
    let body = app.graphql(spread, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "introspection", "{body}");
    // A deep `ofType` chain is a chain of single objects: answered.
    let chain = format!("{{ __type(name: \"Query\") {{ name {}kind{} }} }}", "ofType { ".repeat(12), " }".repeat(12));
    let body = app.graphql(&chain, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    // The data keeps its depth limit of 12, introspection or not beside it.
    // (13 levels: refused by the measure before validation even looks at the fields.)
    let mut deep = String::from("name");
    for _ in 0..6 {
        deep = format!("associations {{ nodes {{ {deep} }} }}");
    }
    let deep = format!("viewer {{ {deep} }}");
    let body = app.graphql(&format!("{{ __schema {{ queryType {{ name }} }} {deep} }}"), json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "depth", "{body}");
}

/// Every element of the schema as introspection shows it, deprecated ones included:
/// (schema coordinate, description, deprecation reason).
async fn elements(app: &TestApp) -> Vec<(String, Option<String>, Option<String>)> {
    let q = "{ __schema { description types { name description
        enumValues(includeDeprecated: true) { name description deprecationReason }
        inputFields(includeDeprecated: true) { name description deprecationReason }
        fields(includeDeprecated: true) { name description deprecationReason
            args(includeDeprecated: true) { name description deprecationReason } } }
        directives { name description args(includeDeprecated: true) { name description deprecationReason } } } }";
    let body = app.graphql(q, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let text = |v: &Value| v.as_str().filter(|s| !s.trim().is_empty()).map(str::to_owned);
    let mut all = Vec::new();
    for ty in body["data"]["__schema"]["types"].as_array().expect("types") {
        let name = ty["name"].as_str().unwrap_or_default();
        if name.starts_with("__") {
            continue;
        }
        all.push((name.to_owned(), text(&ty["description"]), None));
        for key in ["enumValues", "inputFields", "fields"] {
            for item in ty[key].as_array().into_iter().flatten() {
                let coordinate = format!("{name}.{}", item["name"].as_str().unwrap_or_default());
                for arg in item["args"].as_array().into_iter().flatten() {
                    let arg_name = arg["name"].as_str().unwrap_or_default();
                    all.push((
                        format!("{coordinate}({arg_name}:)"),
                        text(&arg["description"]),
                        text(&arg["deprecationReason"]),
                    ));
                }
                all.push((coordinate, text(&item["description"]), text(&item["deprecationReason"])));
            }
        }
    }
    for directive in body["data"]["__schema"]["directives"].as_array().expect("directives") {
        let name = format!("@{}", directive["name"].as_str().unwrap_or_default());
        for arg in directive["args"].as_array().into_iter().flatten() {
            let arg_name = arg["name"].as_str().unwrap_or_default();
            all.push((format!("{name}({arg_name}:)"), text(&arg["description"]), text(&arg["deprecationReason"])));
        }
        all.push((name, text(&directive["description"]), None));
    }
    all
}

#[tokio::test]
async fn every_element_of_the_schema_has_a_description() {
    let app = TestApp::spawn().await;
    let all = elements(&app).await;
    // Types, fields, arguments, input fields, enum values and directives.
    assert!(all.len() > 800, "{}", all.len());
    let missing: Vec<&str> = all.iter().filter(|(_, d, _)| d.is_none()).map(|(c, _, _)| c.as_str()).collect();
    assert!(missing.is_empty(), "without a description: {missing:?}");
}

/// Where a deprecated element breaks the deprecation policy of `CHANGELOG.md`: its reason
/// names the removal date ("Removed no earlier than YYYY-MM-DD"), a changelog entry names
/// the element (in backticks), and the date is at least six months after that entry's.
fn deprecation_violations(deprecated: &[(String, String)], changelog: &str) -> Vec<String> {
    let entries: Vec<(NaiveDate, &str)> = changelog
        .split("\n## ")
        .skip(1)
        .filter_map(|entry| Some((NaiveDate::parse_from_str(entry.get(..10)?, "%Y-%m-%d").ok()?, entry)))
        .collect();
    let mut violations = Vec::new();
    for (coordinate, reason) in deprecated {
        let removal = reason
            .split("Removed no earlier than ")
            .nth(1)
            .and_then(|rest| NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok());
        let Some(removal) = removal else {
            violations.push(format!("{coordinate}: the reason names no removal date"));
            continue;
        };
        let announced =
            entries.iter().filter(|(_, text)| text.contains(&format!("`{coordinate}`"))).map(|(d, _)| *d).min();
        let Some(announced) = announced else {
            violations.push(format!("{coordinate}: no CHANGELOG.md entry names it"));
            continue;
        };
        if announced.checked_add_months(Months::new(6)).is_none_or(|earliest| removal < earliest) {
            violations.push(format!("{coordinate}: removal on {removal} is less than six months after {announced}"));
        }
    }
    violations
}

#[test]
fn the_deprecation_check_catches_each_broken_rule() {
    let changelog = "# Changelog\n\n## 2027-01-10\n\n- `Round.title` is deprecated: use `Round.name`.\n";
    let case =
        |coordinate: &str, reason: &str| deprecation_violations(&[(coordinate.into(), reason.into())], changelog);
    assert!(case("Round.title", "Use `name`. Removed no earlier than 2027-07-10.").is_empty());
    assert_eq!(case("Round.title", "Use `name`.").len(), 1);
    assert_eq!(case("Round.title", "Use `name`. Removed no earlier than 2027-05-01.").len(), 1);
    assert_eq!(case("Round.label", "Use `name`. Removed no earlier than 2028-01-01.").len(), 1);
}

#[tokio::test]
async fn every_deprecation_follows_the_policy() {
    let app = TestApp::spawn().await;
    let deprecated: Vec<(String, String)> =
        elements(&app).await.into_iter().filter_map(|(c, _, reason)| Some((c, reason?))).collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../CHANGELOG.md");
    let changelog = std::fs::read_to_string(path).expect("CHANGELOG.md");
    let violations = deprecation_violations(&deprecated, &changelog);
    assert!(violations.is_empty(), "{violations:?}");
}
