//! The country share of a round: when applications close, a country's applications beyond
//! its share of the places are deferred, the earliest kept; the deferred are left out of
//! matching, told why, shown to their ambassador and association and counted in
//! `roundStats`; an admin can take one back in or defer one by hand before matching.

use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use serde_json::{Value, json};

use crate::gid;

const CREATE: &str = "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id countryShare } userErrors { field code } } }";
const APPLY: &str =
    "mutation($input: ApplyToRoundInput!) { applyToRound(input: $input) { application { id } userErrors { code } } }";
const APPLICATIONS: &str = "query($id: ID!) { round(id: $id) { applications(first: 100) { nodes {
    id status librarian { id country { code } } deferral { reason note } } } } }";
const STATS: &str = "query($id: ID!) { roundStats(roundId: $id) { applicants deferred } }";

fn dates(name: &str) -> Value {
    json!({ "name": name, "applicationsOpenAt": "2027-01-04T00:00:00Z", "applicationsCloseAt": "2027-02-01T00:00:00Z",
        "startsAt": "2027-02-15T00:00:00Z", "endsAt": "2027-06-15T00:00:00Z" })
}

async fn step(app: &TestApp, mutation: &str, round: &str) -> Value {
    app.round_step(mutation, round).await
}

fn nodes(body: &Value) -> Vec<Value> {
    body["data"]["round"]["applications"]["nodes"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn a_country_over_its_share_keeps_its_earliest_applicants() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let body = app.graphql(CREATE, json!({ "input": dates("Capped round") })).await;
    let created = &body["data"]["createRound"]["round"];
    assert_eq!(created["countryShare"], 20, "the programme's share by default: {body}");
    let round = created["id"].as_str().unwrap_or_default().to_owned();
    step(&app, "openApplications", &round).await;

    // 20 applications, 8 from Nigeria (40%): Alia first, six more, Ada (an LIASA member) last
    // of them; 12 from twelve other countries, interleaved.
    let mut nigeria = vec![net.alia];
    for i in 0..6 {
        nigeria.push(fixtures::librarian(&app.db, &format!("Naija Librarian {i}"), "NG", &["en"]).await);
    }
    nigeria.push(net.ada);
    let mut others = Vec::new();
    for (i, country) in ["KE", "BR", "DE", "IN", "US", "FR", "JP", "MX", "EG", "CA", "AR", "PE"].iter().enumerate() {
        others.push(fixtures::librarian(&app.db, &format!("Other Librarian {i}"), country, &["en"]).await);
    }
    let mut order = Vec::new();
    let (mut n, mut o) = (nigeria.iter(), others.iter());
    loop {
        let next: Vec<i32> = [n.next(), o.next(), o.next()].into_iter().flatten().copied().collect();
        if next.is_empty() {
            break;
        }
        order.extend(next);
    }
    for who in &order {
        let body = app
            .graphql(APPLY, json!({ "input": { "roundId": round, "librarianId": gid(NodeKind::Librarian, *who) } }))
            .await;
        assert_eq!(body["data"]["applyToRound"]["userErrors"], json!([]), "{body}");
    }
    let close = step(&app, "closeApplications", &round).await;
    assert_eq!(close["data"]["closeApplications"]["round"]["status"], "MATCHING", "{close}");

    // 20 places at 20%: Nigeria keeps 4, its earliest.
    let apps = nodes(&app.graphql(APPLICATIONS, json!({ "id": round })).await);
    assert_eq!(apps.len(), 20);
    let status_of = |who: i32| {
        let id = gid(NodeKind::Librarian, who);
        apps.iter().find(|a| a["librarian"]["id"] == id.as_str()).cloned().unwrap_or_default()
    };
    for (i, who) in nigeria.iter().enumerate() {
        let a = status_of(*who);
        if i < 4 {
            assert_eq!(a["status"], "SUBMITTED", "Nigerian applicant {i} is among the earliest: {a}");
            assert_eq!(a["deferral"], Value::Null);
        } else {
            assert_eq!(a["status"], "DEFERRED", "Nigerian applicant {i}: {a}");
            assert_eq!(a["deferral"]["reason"], "COUNTRY_SHARE");
            let note = a["deferral"]["note"].as_str().unwrap_or_default();
            assert!(note.contains("20%") && note.contains("NG had 8 of the 20") && note.contains("keeps 4"), "{note}");
        }
    }
    assert!(others.iter().all(|who| status_of(*who)["status"] == "SUBMITTED"));
    let kept = apps.iter().filter(|a| a["status"] == "SUBMITTED").count();
    assert_eq!(kept, 16);

    // roundStats agrees, for the network and for Nigeria's ambassador.
    let stats = app.data(STATS, json!({ "id": round })).await;
    assert_eq!(stats["roundStats"], json!({ "applicants": 20, "deferred": 4 }));
    let ambassador = app.token(Role::Ambassador, &["NG"], None, None);
    let country = "query($id: ID!) { country(code: \"NG\") { roundStats(roundId: $id) { applicants deferred } } }";
    let body = app.graphql_as(Some(&ambassador), country, json!({ "id": round })).await;
    assert_eq!(body["data"]["country"]["roundStats"], json!({ "applicants": 8, "deferred": 4 }), "{body}");
    // The ambassador and Ada's association see why Ada was deferred.
    let ada =
        "query($id: ID!) { node(id: $id) { ... on Librarian { applications { status deferral { reason note } } } } }";
    let ada_id = gid(NodeKind::Librarian, net.ada);
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    for token in [&ambassador, &liasa] {
        let body = app.graphql_as(Some(token), ada, json!({ "id": ada_id })).await;
        let mine: Vec<Value> = body["data"]["node"]["applications"].as_array().cloned().unwrap_or_default();
        assert!(mine.iter().any(|a| a["status"] == "DEFERRED" && a["deferral"]["reason"] == "COUNTRY_SHARE"), "{body}");
    }

    // The matching leaves the deferred out.
    let run = "mutation($input: RunMatchingInput!) { runMatching(input: $input) {
        proposals { members { id } } unmatched { librarian { id } } summary { applicants } } }";
    let body = app.graphql(run, json!({ "input": { "roundId": round, "dryRun": true } })).await;
    assert_eq!(body["data"]["runMatching"]["summary"]["applicants"], 16, "{body}");
    let run = &body["data"]["runMatching"];
    let mut placed: Vec<Value> = run["unmatched"].as_array().cloned().unwrap_or_default();
    placed.extend(run["proposals"].as_array().cloned().unwrap_or_default().iter().flat_map(|p| {
        p["members"].as_array().cloned().unwrap_or_default().into_iter().map(|m| json!({ "librarian": m }))
    }));
    assert_eq!(placed.len(), 16);
    assert!(
        placed.iter().all(|p| p["librarian"]["id"] != ada_id.as_str()),
        "a deferred applicant is neither proposed nor unmatched: {body}"
    );

    // An admin takes Ada back in and defers another applicant by hand.
    let ada_application = status_of(net.ada)["id"].as_str().unwrap_or_default().to_owned();
    let readmit = "mutation($input: ReadmitApplicationInput!) { readmitApplication(input: $input) { application { status deferral { reason } } userErrors { code } } }";
    let body = app.graphql(readmit, json!({ "input": { "applicationId": ada_application } })).await;
    assert_eq!(
        body["data"]["readmitApplication"]["application"],
        json!({ "status": "SUBMITTED", "deferral": null }),
        "{body}"
    );
    let again = app.graphql(readmit, json!({ "input": { "applicationId": ada_application } })).await;
    assert_eq!(again["data"]["readmitApplication"]["userErrors"], json!([{ "code": "NOT_ALLOWED" }]));
    let kenyan = status_of(others[0])["id"].as_str().unwrap_or_default().to_owned();
    let defer = "mutation($input: DeferApplicationInput!) { deferApplication(input: $input) { application { status deferral { reason note } } userErrors { code } } }";
    // A note is text like any other: too long, a user error; with a NUL byte, refused as
    // bad input; nothing deferred either way.
    let long = app.graphql(defer, json!({ "input": { "applicationId": kenyan, "note": "x".repeat(2_001) } })).await;
    assert_eq!(long["data"]["deferApplication"]["userErrors"], json!([{ "code": "TOO_LONG" }]), "{long}");
    let nul = app.graphql(defer, json!({ "input": { "applicationId": kenyan, "note": "half\u{0}note" } })).await;
    assert_eq!(error_codes(&nul), ["BAD_USER_INPUT"], "{nul}");
    let fresh = nodes(&app.graphql(APPLICATIONS, json!({ "id": round })).await);
    assert!(fresh.iter().any(|a| a["id"] == kenyan.as_str() && a["status"] == "SUBMITTED"), "nothing deferred");
    let body = app
        .graphql(defer, json!({ "input": { "applicationId": kenyan, "note": "Starting a new job; next round." } }))
        .await;
    assert_eq!(
        body["data"]["deferApplication"]["application"],
        json!({ "status": "DEFERRED", "deferral": { "reason": "BY_ADMIN", "note": "Starting a new job; next round." } }),
        "{body}"
    );
    let stats = app.data(STATS, json!({ "id": round })).await;
    assert_eq!(stats["roundStats"], json!({ "applicants": 20, "deferred": 4 }));

    // Only admins; the share is fixed once applications have closed.
    let librarian = app.token(Role::Librarian, &[], None, Some(net.alia));
    for token in [&librarian, &ambassador, &liasa] {
        let body = app.graphql_as(Some(token), readmit, json!({ "input": { "applicationId": kenyan } })).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
        let body = app.graphql_as(Some(token), defer, json!({ "input": { "applicationId": ada_application } })).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    }
    let body = app.graphql_as(None, defer, json!({ "input": { "applicationId": ada_application } })).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
    let stats = app.data(STATS, json!({ "id": round })).await;
    assert_eq!(stats["roundStats"], json!({ "applicants": 20, "deferred": 4 }), "nothing changed");
    let set = "mutation($input: SetCountryShareInput!) { setCountryShare(input: $input) { round { countryShare } userErrors { field code } } }";
    let body = app.graphql(set, json!({ "input": { "roundId": round, "countryShare": 30 } })).await;
    assert_eq!(error_codes(&body), ["CONFLICT"], "{body}");
}

#[tokio::test]
async fn the_share_is_set_per_round_or_switched_off() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let mut input = dates("Uncapped round");
    input["countryShare"] = Value::Null;
    let body = app.graphql(CREATE, json!({ "input": input })).await;
    assert_eq!(body["data"]["createRound"]["round"]["countryShare"], Value::Null, "{body}");
    let round = body["data"]["createRound"]["round"]["id"].as_str().unwrap_or_default().to_owned();
    let mut bad = dates("Bad share");
    bad["countryShare"] = json!(0);
    let body = app.graphql(CREATE, json!({ "input": bad })).await;
    assert_eq!(body["data"]["createRound"]["userErrors"], json!([{ "field": "countryShare", "code": "INVALID" }]));

    let set = "mutation($input: SetCountryShareInput!) { setCountryShare(input: $input) { round { countryShare } userErrors { field code } } }";
    for bad in [0, 101, -5] {
        let body = app.graphql(set, json!({ "input": { "roundId": round, "countryShare": bad } })).await;
        assert_eq!(
            body["data"]["setCountryShare"]["userErrors"],
            json!([{ "field": "countryShare", "code": "INVALID" }])
        );
    }
    let body = app.graphql(set, json!({ "input": { "roundId": round, "countryShare": 50 } })).await;
    assert_eq!(body["data"]["setCountryShare"]["round"]["countryShare"], 50, "{body}");
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    let body =
        app.graphql_as(Some(&ambassador), set, json!({ "input": { "roundId": round, "countryShare": 10 } })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);

    // Switched off: four applicants, two from Nigeria, nobody deferred.
    app.graphql(set, json!({ "input": { "roundId": round, "countryShare": null } })).await;
    step(&app, "openApplications", &round).await;
    for who in [net.ada, net.bongani, net.alia, net.emma] {
        app.graphql(APPLY, json!({ "input": { "roundId": round, "librarianId": gid(NodeKind::Librarian, who) } }))
            .await;
    }
    step(&app, "closeApplications", &round).await;
    let apps = nodes(&app.graphql(APPLICATIONS, json!({ "id": round })).await);
    assert_eq!(apps.len(), 4);
    assert!(apps.iter().all(|a| a["status"] == "SUBMITTED"), "{apps:?}");
}
