//! Introspection as the ecosystem sends it: the real documents of graphql-js (the
//! standard `getIntrospectionQuery()`, with every option) and graphql-core (which gql's
//! `fetch_schema_from_transport` sends), kept as fixtures, answer in full under the default
//! limits. Introspection has its own rule (the nesting of type lists), so the data depth
//! limit stays at 12 and an introspection query that multiplies its answer is refused.

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

#[tokio::test]
async fn every_argument_and_enum_value_has_a_description() {
    let app = TestApp::spawn().await;
    let q = "{ __schema { types { name
        enumValues(includeDeprecated: true) { name description }
        fields(includeDeprecated: true) { name args { name description } } } } }";
    let body = app.graphql(q, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut missing = Vec::new();
    for ty in body["data"]["__schema"]["types"].as_array().expect("types") {
        let name = ty["name"].as_str().unwrap_or_default();
        if name.starts_with("__") {
            continue;
        }
        for value in ty["enumValues"].as_array().into_iter().flatten() {
            if value["description"].as_str().is_none_or(str::is_empty) {
                missing.push(format!("{name}.{}", value["name"]));
            }
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            for arg in field["args"].as_array().into_iter().flatten() {
                if arg["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(format!("{name}.{}({})", field["name"], arg["name"]));
                }
            }
        }
    }
    assert!(missing.is_empty(), "without a description: {missing:?}");
}
