//! A whole round through the API: open, apply, close, match, adjust, confirm, topics,
//! engagement, complete, certificates; the state machine; rights; the reports; the CLI.

use std::collections::{HashMap, HashSet};

use entities::{certificate, librarian, pairing};
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures, user_errors};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::gid;

fn first_message(body: &Value) -> String {
    body["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

async fn step(app: &TestApp, mutation: &str, round: &str) -> Value {
    app.round_step(mutation, round).await
}

async fn status(app: &TestApp, round: &str) -> String {
    let body = app.data("query($id: ID!) { round(id: $id) { status } }", json!({ "id": round })).await;
    body["round"]["status"].as_str().unwrap_or_default().to_owned()
}

const APPLY: &str = "mutation($input: ApplyToRoundInput!) { applyToRound(input: $input) {
    application { id status languages interests preferredSectors matchPreference goal librarian { id } }
    userErrors { field code message } } }";

const RUN: &str = "mutation($input: RunMatchingInput!) { runMatching(input: $input) {
    dryRun
    proposals { members { id country { code } } score explanation pairing { id status origin } }
    unmatched { librarian { id } reason message }
    summary { applicants kept groups groupsOfThree unmatched matchingWeight candidateEdges pricingRounds provenOptimal }
    userErrors { field code } } }";

struct People {
    by_id: HashMap<String, (String, Vec<String>)>,
}

impl People {
    async fn load(app: &TestApp) -> Self {
        let rows = librarian::Entity::find().all(&app.db).await.expect("librarians");
        let mut by_id = HashMap::new();
        for row in rows {
            let langs: Vec<String> = entities::librarian_language::Entity::find()
                .filter(entities::librarian_language::Column::LibrarianId.eq(row.id))
                .all(&app.db)
                .await
                .expect("languages")
                .into_iter()
                .map(|l| l.language)
                .collect();
            by_id.insert(gid(NodeKind::Librarian, row.id), (row.country_code, langs));
        }
        Self { by_id }
    }

    /// Different countries and a shared language, pairwise.
    fn allowed(&self, group: &[String]) -> bool {
        group.iter().enumerate().all(|(i, a)| {
            group[i + 1..].iter().all(|b| {
                let (ca, la) = &self.by_id[a];
                let (cb, lb) = &self.by_id[b];
                ca != cb && la.iter().any(|l| lb.contains(l))
            })
        })
    }
}

fn member_ids(proposal: &Value) -> Vec<String> {
    let mut ids: Vec<String> = proposal["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn a_whole_round_runs_end_to_end() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let people = People::load(&app).await;
    let lib = |id: i32| gid(NodeKind::Librarian, id);
    let token_of = |id: i32| app.token(Role::Librarian, &[], None, Some(id));

    // Create: DRAFT.
    let create = "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id status } userErrors { field code } } }";
    // A small round without the country share (it would defer Alia, Ada's compatriot; the
    // share has its own tests in country_share.rs).
    let dates = json!({ "name": "2027 Round 1", "countryShare": null, "applicationsOpenAt": "2027-01-04T00:00:00Z",
        "applicationsCloseAt": "2027-02-01T00:00:00Z", "startsAt": "2027-02-15T00:00:00Z", "endsAt": "2027-06-15T00:00:00Z" });
    let body = app.graphql(create, json!({ "input": dates })).await;
    assert_eq!(body["data"]["createRound"]["round"]["status"], "DRAFT", "{body}");
    let round = body["data"]["createRound"]["round"]["id"].as_str().unwrap_or_default().to_owned();
    let again = app.graphql(create, json!({ "input": dates })).await;
    assert_eq!(user_errors(&again["data"]["createRound"]), [("name".to_owned(), "TAKEN".to_owned())]);
    let mut backwards = dates.clone();
    backwards["name"] = json!("Backwards");
    backwards["endsAt"] = json!("2027-01-01T00:00:00Z");
    let body = app.graphql(create, json!({ "input": backwards })).await;
    assert_eq!(user_errors(&body["data"]["createRound"])[0].1, "INVALID");

    // Out of order: CONFLICT naming the state; nothing changes.
    for (mutation, refused) in [
        ("closeApplications", "the round is DRAFT; closing applications needs a round that is OPEN"),
        ("confirmPairings", "the round is DRAFT; confirming pairings needs a round that is MATCHING"),
        ("completeRound", "the round is DRAFT; completing a round needs a round that is ACTIVE"),
    ] {
        let body = step(&app, mutation, &round).await;
        assert_eq!(error_codes(&body), ["CONFLICT"], "{mutation}: {body}");
        assert_eq!(first_message(&body), refused, "{body}");
    }
    assert_eq!(status(&app, &round).await, "DRAFT");
    let early = app.graphql_as(Some(&token_of(net.ada)), APPLY, json!({ "input": { "roundId": round } })).await;
    assert_eq!(error_codes(&early), ["CONFLICT"]);
    assert_eq!(first_message(&early), "the round is DRAFT; applying needs a round that is OPEN");

    // Open; apply.
    assert_eq!(step(&app, "openApplications", &round).await["data"]["openApplications"]["round"]["status"], "OPEN");
    let apply_as = |token: Option<String>, input: Value| {
        let app = &app;
        async move { app.graphql_as(token.as_deref(), APPLY, json!({ "input": input })).await }
    };
    let ada = apply_as(
        Some(token_of(net.ada)),
        json!({ "roundId": round, "preferredSectors": ["PUBLIC"], "interests": ["Open access"], "goal": "Learn", "matchPreference": "INTERESTS" }),
    )
    .await;
    let ada_app = &ada["data"]["applyToRound"]["application"];
    assert_eq!(ada_app["status"], "SUBMITTED", "{ada}");
    assert_eq!(ada_app["languages"], json!(["en", "fr"]), "languages default to the profile's");
    assert_eq!(ada_app["interests"], json!(["open access"]));
    assert_eq!(ada_app["matchPreference"], "INTERESTS");
    let twice = apply_as(Some(token_of(net.ada)), json!({ "roundId": round })).await;
    assert_eq!(user_errors(&twice["data"]["applyToRound"]), [("roundId".to_owned(), "DUPLICATE".to_owned())]);
    let bad = apply_as(Some(token_of(net.emma)), json!({ "roundId": round, "languages": ["xx"] })).await;
    assert_eq!(user_errors(&bad["data"]["applyToRound"])[0].1, "INVALID");
    // An association applies for its active members only.
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let body = apply_as(Some(liasa.clone()), json!({ "roundId": round, "librarianId": lib(net.bongani) })).await;
    assert_eq!(body["data"]["applyToRound"]["application"]["librarian"]["id"], lib(net.bongani), "{body}");
    let body = apply_as(Some(liasa.clone()), json!({ "roundId": round, "librarianId": lib(net.grace) })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "Grace's LIASA membership is deactivated");
    let body = apply_as(Some(alia.clone()), json!({ "roundId": round, "librarianId": lib(net.carmen) })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, Some(net.bongani));
    let body = apply_as(Some(ambassador.clone()), json!({ "roundId": round, "librarianId": lib(net.lisa) })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let body = apply_as(Some(token_of(net.emma)), json!({ "roundId": round, "librarianId": lib(net.farida) })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "a librarian applies only for themself");
    let body = apply_as(Some(app.admin.clone()), json!({ "roundId": round, "librarianId": lib(net.carmen) })).await;
    assert_eq!(user_errors(&body["data"]["applyToRound"]), []);
    for who in [net.emma, net.farida, net.alia, net.lisa] {
        let body = apply_as(Some(token_of(who)), json!({ "roundId": round })).await;
        assert_eq!(user_errors(&body["data"]["applyToRound"]), [], "{body}");
    }
    // Lisa withdraws.
    let lisa_app = app
        .graphql_as(
            Some(&token_of(net.lisa)),
            "{ viewer { librarian { applications { id round { id } } } } }",
            json!({}),
        )
        .await;
    let lisa_app = lisa_app["data"]["viewer"]["librarian"]["applications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|a| a["round"]["id"] == round)
        .map(|a| a["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let withdraw = "mutation($input: WithdrawApplicationInput!) { withdrawApplication(input: $input) { application { status } userErrors { code } } }";
    let body =
        app.graphql_as(Some(&token_of(net.emma)), withdraw, json!({ "input": { "applicationId": lisa_app } })).await;
    // Someone else's application is answered as one that does not exist.
    assert_eq!(body["data"]["withdrawApplication"]["userErrors"][0]["code"], "NOT_FOUND", "{body}");
    let body =
        app.graphql_as(Some(&token_of(net.lisa)), withdraw, json!({ "input": { "applicationId": lisa_app } })).await;
    assert_eq!(body["data"]["withdrawApplication"]["application"]["status"], "WITHDRAWN", "{body}");

    // Close: MATCHING; no more applications or withdrawals.
    assert_eq!(
        step(&app, "closeApplications", &round).await["data"]["closeApplications"]["round"]["status"],
        "MATCHING"
    );
    let late = apply_as(Some(token_of(net.grace)), json!({ "roundId": round })).await;
    assert_eq!(error_codes(&late), ["CONFLICT"]);
    assert!(first_message(&late).contains("MATCHING"));

    // Only admins match.
    let body = app.graphql_as(Some(&token_of(net.ada)), RUN, json!({ "input": { "roundId": round } })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);

    // A dry run stores nothing.
    let dry = app.graphql(RUN, json!({ "input": { "roundId": round, "dryRun": true } })).await;
    let dry = &dry["data"]["runMatching"];
    assert_eq!(dry["dryRun"], true, "{dry}");
    let pairings_of_round = "query($id: ID!, $status: PairingStatus) { round(id: $id) { pairings(status: $status) { totalCount nodes { id origin status members { id } } } } }";
    let stored = app.data(pairings_of_round, json!({ "id": round, "status": "PROPOSED" })).await;
    assert_eq!(stored["round"]["pairings"]["totalCount"], 0);

    // Applicants: Ada NG, Bongani ZA, Carmen ES, Emma AU, Farida LB, Alia NG. Farida shares
    // French only with Ada, her partner in round 2: she cannot be placed. The other five
    // make two groups, one of three.
    assert_eq!(dry["summary"]["applicants"], 6);
    assert_eq!(dry["summary"]["provenOptimal"], true);
    assert_eq!(dry["unmatched"][0]["librarian"]["id"], lib(net.farida));
    assert_eq!(dry["unmatched"][0]["reason"], "ONLY_PAST_OR_FORBIDDEN_PARTNERS");
    assert_eq!(dry["summary"]["groups"], 2);
    assert_eq!(dry["summary"]["groupsOfThree"], 1);
    let past: HashSet<Vec<String>> = [
        vec![lib(net.ada), lib(net.carmen)],
        vec![lib(net.bongani), lib(net.emma)],
        vec![lib(net.ada), lib(net.farida)],
    ]
    .into_iter()
    .map(|mut p| {
        p.sort();
        p
    })
    .collect();
    for proposal in dry["proposals"].as_array().cloned().unwrap_or_default() {
        let ids = member_ids(&proposal);
        assert!(people.allowed(&ids), "hard rules: {proposal}");
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert!(!past.contains(&vec![a.clone(), b.clone()]), "never partners twice: {proposal}");
            }
        }
        assert!(proposal["pairing"].is_null());
        assert!(proposal["explanation"].as_str().unwrap_or_default().contains("shared language: en"), "{proposal}");
        assert!(proposal["score"].as_i64().unwrap_or(0) > 0);
    }

    // A real run stores the proposals; running again gives the same groups, replacing them.
    let run = app.graphql(RUN, json!({ "input": { "roundId": round } })).await;
    let run = run["data"]["runMatching"].clone();
    let groups = |run: &Value| -> Vec<Vec<String>> {
        run["proposals"].as_array().cloned().unwrap_or_default().iter().map(member_ids).collect()
    };
    assert_eq!(groups(&run), groups(dry), "deterministic");
    assert!(
        run["proposals"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .all(|p| p["pairing"]["status"] == "PROPOSED" && p["pairing"]["origin"] == "ALGORITHM")
    );
    let rerun = app.graphql(RUN, json!({ "input": { "roundId": round } })).await;
    assert_eq!(groups(&rerun["data"]["runMatching"]), groups(&run));
    let stored = app.data(pairings_of_round, json!({ "id": round, "status": "PROPOSED" })).await;
    assert_eq!(stored["round"]["pairings"]["totalCount"], 2, "the second run replaced the first");

    // Adjust: dissolve Carmen's group, pair Farida with Carmen (no shared language: only by force).
    let carmen_group = stored["round"]["pairings"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|p| member_ids(p).contains(&lib(net.carmen)))
        .expect("Carmen is in a group");
    let dissolve = "mutation($input: DissolvePairingInput!) { dissolvePairing(input: $input) { pairing { status } userErrors { field code } } }";
    let body = app.graphql(dissolve, json!({ "input": { "pairingId": carmen_group["id"] } })).await;
    assert_eq!(body["data"]["dissolvePairing"]["pairing"]["status"], "DISSOLVED", "{body}");
    let again = app.graphql(dissolve, json!({ "input": { "pairingId": carmen_group["id"] } })).await;
    assert_eq!(user_errors(&again["data"]["dissolvePairing"])[0].1, "NOT_ALLOWED");
    let pair = "mutation($input: PairManuallyInput!) { pairManually(input: $input) { pairing { id status origin explanation members { id } } userErrors { field code message } } }";
    let farida_carmen = json!([lib(net.farida), lib(net.carmen)]);
    let body = app.graphql(pair, json!({ "input": { "roundId": round, "librarianIds": farida_carmen } })).await;
    let errors = user_errors(&body["data"]["pairManually"]);
    assert_eq!(errors, [("librarianIds".to_owned(), "NOT_ALLOWED".to_owned())], "{body}");
    let body = app
        .graphql(pair, json!({ "input": { "roundId": round, "librarianIds": [lib(net.grace), lib(net.carmen)] } }))
        .await;
    assert_eq!(user_errors(&body["data"]["pairManually"])[0].1, "NOT_ALLOWED", "Grace did not apply");
    let body =
        app.graphql(pair, json!({ "input": { "roundId": round, "librarianIds": farida_carmen, "force": true } })).await;
    let manual = &body["data"]["pairManually"]["pairing"];
    assert_eq!((manual["origin"].as_str(), manual["status"].as_str()), (Some("MANUAL"), Some("PROPOSED")), "{body}");
    assert!(manual["explanation"].as_str().unwrap_or_default().contains("Forced despite"), "{manual}");
    let manual_id = manual["id"].as_str().unwrap_or_default().to_owned();

    // A re-run keeps the pairing made by hand and never re-proposes the dissolved group.
    let rerun = app.graphql(RUN, json!({ "input": { "roundId": round } })).await;
    let rerun = &rerun["data"]["runMatching"];
    assert_eq!(rerun["summary"]["kept"], 2, "{rerun}");
    let dissolved_members = member_ids(&carmen_group);
    for group in groups(rerun) {
        assert!(!group.contains(&lib(net.farida)) && !group.contains(&lib(net.carmen)));
        let together = dissolved_members.iter().filter(|m| group.contains(m)).count();
        assert!(together < 2, "a dissolved pair is never proposed again: {group:?}");
    }

    // Swap: two members of two pairings change places, by force when the rules object.
    let stored = app.data(pairings_of_round, json!({ "id": round, "status": "PROPOSED" })).await;
    let nodes = stored["round"]["pairings"]["nodes"].as_array().cloned().unwrap_or_default();
    let algorithm: Vec<&Value> = nodes.iter().filter(|p| p["origin"] == "ALGORITHM").collect();
    let manual_node = nodes.iter().find(|p| p["id"] == manual_id.as_str()).expect("manual pairing");
    let other = algorithm.first().copied().expect("an algorithm pairing");
    let swap = "mutation($input: SwapPartnersInput!) { swapPartners(input: $input) { pairings { id origin status members { id } } userErrors { field code } } }";
    let input = json!({ "firstPairingId": manual_node["id"], "firstLibrarianId": lib(net.farida),
        "secondPairingId": other["id"], "secondLibrarianId": member_ids(other)[0], "force": true });
    let body = app.graphql(swap, json!({ "input": input })).await;
    let swapped = body["data"]["swapPartners"]["pairings"].as_array().cloned().unwrap_or_default();
    assert_eq!(swapped.len(), 2, "{body}");
    assert!(swapped.iter().all(|p| p["origin"] == "MANUAL" && p["status"] == "PROPOSED"));
    assert!(member_ids(&swapped[1]).contains(&lib(net.farida)), "{body}");
    let old =
        app.data("query($id: ID!) { node(id: $id) { ... on Pairing { status } } }", json!({ "id": other["id"] })).await;
    assert_eq!(old["node"]["status"], "DISSOLVED");
    let bad_swap = json!({ "firstPairingId": swapped[0]["id"], "firstLibrarianId": lib(net.grace),
        "secondPairingId": swapped[1]["id"], "secondLibrarianId": lib(net.farida) });
    let body = app.graphql(swap, json!({ "input": bad_swap })).await;
    assert_eq!(user_errors(&body["data"]["swapPartners"]), [("firstLibrarianId".to_owned(), "INVALID".to_owned())]);

    // Confirm: ACTIVE, proposals become active pairings and applications MATCHED.
    assert_eq!(step(&app, "confirmPairings", &round).await["data"]["confirmPairings"]["round"]["status"], "ACTIVE");
    let active = app.data(pairings_of_round, json!({ "id": round, "status": "ACTIVE" })).await;
    let active_nodes = active["round"]["pairings"]["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        app.data(pairings_of_round, json!({ "id": round, "status": "PROPOSED" })).await["round"]["pairings"]["totalCount"],
        0
    );
    let participants: usize = active_nodes.iter().map(|p| member_ids(p).len()).sum();
    let matched = app
        .data(
            "query($id: ID!) { round(id: $id) { applications(status: MATCHED) { totalCount } } }",
            json!({ "id": round }),
        )
        .await;
    assert_eq!(matched["round"]["applications"]["totalCount"], participants);

    // Rights: ambassadors see their country's pairings, associations their members', librarians their own.
    let za_pairings =
        app.graphql_as(Some(&ambassador), pairings_of_round, json!({ "id": round, "status": "ACTIVE" })).await;
    let za_nodes = za_pairings["data"]["round"]["pairings"]["nodes"].as_array().cloned().unwrap_or_default();
    let za_people: HashSet<String> = [lib(net.bongani), lib(net.grace), lib(net.lisa)].into();
    assert!(!za_nodes.is_empty());
    for p in &za_nodes {
        let ids = member_ids(p);
        assert!(ids.iter().any(|m| za_people.contains(m)), "an ambassador sees pairings with their participants: {p}");
    }
    assert!(za_nodes.len() < active_nodes.len());
    let apps_query = "query($id: ID!) { round(id: $id) { applications { totalCount nodes { librarian { id } } } } }";
    let own = app.graphql_as(Some(&alia), apps_query, json!({ "id": round })).await;
    assert_eq!(own["data"]["round"]["applications"]["totalCount"], 1, "ALIA sees Emma's application only: {own}");
    let own = app.graphql_as(Some(&token_of(net.ada)), apps_query, json!({ "id": round })).await;
    assert_eq!(own["data"]["round"]["applications"]["nodes"][0]["librarian"]["id"], lib(net.ada));
    assert_eq!(own["data"]["round"]["applications"]["totalCount"], 1);
    let none = app.graphql_as(None, apps_query, json!({ "id": round })).await;
    assert_eq!(none["data"]["round"]["applications"]["totalCount"], 0);

    // Topics: participants see them once published; admins see all.
    let add =
        "mutation($input: AddTopicInput!) { addTopic(input: $input) { topic { id title } userErrors { field code } } }";
    for (title, at) in [("Games and libraries", "2026-01-01T00:00:00Z"), ("Later", "2099-01-01T00:00:00Z")] {
        let body = app
            .graphql(add, json!({ "input": { "roundId": round, "title": title, "body": "Discuss.", "publishAt": at } }))
            .await;
        assert_eq!(user_errors(&body["data"]["addTopic"]), [], "{body}");
    }
    let body = app
        .graphql(
            add,
            json!({ "input": { "roundId": round, "title": " ", "body": "x", "publishAt": "2026-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(user_errors(&body["data"]["addTopic"])[0].1, "BLANK");
    let topics = "query($id: ID!) { round(id: $id) { topics { title } } }";
    let titles = |body: &Value| crate::pluck(&body["data"]["round"]["topics"], "title");
    assert_eq!(titles(&app.graphql(topics, json!({ "id": round })).await), ["Games and libraries", "Later"]);
    assert_eq!(
        titles(&app.graphql_as(Some(&token_of(net.ada)), topics, json!({ "id": round })).await),
        ["Games and libraries"]
    );
    assert!(titles(&app.graphql_as(Some(&token_of(net.grace)), topics, json!({ "id": round })).await).is_empty());
    assert!(titles(&app.graphql_as(None, topics, json!({ "id": round })).await).is_empty());

    // Engagement: members of a pairing report on it.
    let ada_pairing = active_nodes
        .iter()
        .find(|p| member_ids(p).contains(&lib(net.ada)))
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .expect("Ada is paired");
    let outsider = active_nodes
        .iter()
        .flat_map(member_ids)
        .find(|m| !active_nodes.iter().any(|p| p["id"] == ada_pairing.as_str() && member_ids(p).contains(m)))
        .expect("someone else");
    let report = "mutation($input: ReportEngagementInput!) { reportEngagement(input: $input) { report { met rating comment } userErrors { field code } } }";
    let body = app
        .graphql_as(
            Some(&token_of(net.ada)),
            report,
            json!({ "input": { "pairingId": ada_pairing, "met": true, "rating": 5, "comment": "Great call" } }),
        )
        .await;
    assert_eq!(
        body["data"]["reportEngagement"]["report"],
        json!({ "met": true, "rating": 5, "comment": "Great call" })
    );
    let body = app
        .graphql_as(
            Some(&token_of(net.ada)),
            report,
            json!({ "input": { "pairingId": ada_pairing, "met": false, "rating": 9 } }),
        )
        .await;
    assert_eq!(user_errors(&body["data"]["reportEngagement"]), [("rating".to_owned(), "INVALID".to_owned())]);
    let outsider_id: i32 = interlib::domain::GlobalId::decode_int("id", &outsider, NodeKind::Librarian).unwrap_or(0);
    let body = app
        .graphql_as(
            Some(&token_of(outsider_id)),
            report,
            json!({ "input": { "pairingId": ada_pairing, "met": false } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let body = app.graphql(report, json!({ "input": { "pairingId": ada_pairing, "met": false } })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "admins do not report engagement");

    // Reports: the network (admins), a country (its ambassadors), an association (itself).
    let stats = "{ engagement { reports met averageRating engagedPairings disengagedPairings } applicants matched completed partnerCountries { country { code } count } }";
    let network =
        app.data(&format!("query($r: ID!) {{ roundStats(roundId: $r) {stats} }}"), json!({ "r": round })).await;
    let network = &network["roundStats"];
    assert_eq!(network["applicants"], 6, "{network}");
    assert_eq!(network["matched"], participants);
    assert_eq!(network["completed"], 0);
    assert_eq!(
        network["engagement"],
        json!({ "reports": 1, "met": 1, "averageRating": 5.0, "engagedPairings": 1, "disengagedPairings": 0 })
    );
    let partner_total: i64 = network["partnerCountries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| c["count"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(partner_total, i64::try_from(participants).unwrap_or(0));
    let country_stats =
        format!("query($r: ID!, $c: CountryCode!) {{ country(code: $c) {{ roundStats(roundId: $r) {stats} }} }}");
    let za = app.graphql_as(Some(&ambassador), &country_stats, json!({ "r": round, "c": "ZA" })).await;
    assert_eq!(za["data"]["country"]["roundStats"]["applicants"], 1, "Bongani (Lisa withdrew): {za}");
    assert_eq!(za["data"]["country"]["roundStats"]["matched"], 1);
    let ng = app.graphql_as(Some(&ambassador), &country_stats, json!({ "r": round, "c": "NG" })).await;
    assert_eq!(error_codes(&ng), ["FORBIDDEN"]);
    let assoc_stats =
        format!("query($r: ID!, $a: ID!) {{ association(id: $a) {{ roundStats(roundId: $r) {stats} }} }}");
    let liasa_id = gid(NodeKind::Association, net.liasa);
    let own = app.graphql_as(Some(&liasa), &assoc_stats, json!({ "r": round, "a": liasa_id })).await;
    assert_eq!(own["data"]["association"]["roundStats"]["applicants"], 2, "Ada and Bongani: {own}");
    let other = app.graphql_as(Some(&alia), &assoc_stats, json!({ "r": round, "a": liasa_id })).await;
    assert!(!error_codes(&other).is_empty(), "{other}");
    let network_by_ambassador = app
        .graphql_as(
            Some(&ambassador),
            &format!("query($r: ID!) {{ roundStats(roundId: $r) {stats} }}"),
            json!({ "r": round }),
        )
        .await;
    assert_eq!(error_codes(&network_by_ambassador), ["FORBIDDEN"]);

    // Complete: certificates for every member of an active pairing.
    let complete = "mutation($input: RoundStepInput!) { completeRound(input: $input) { round { status } certificatesIssued userErrors { code } } }";
    let body = app.graphql(complete, json!({ "input": { "roundId": round } })).await;
    assert_eq!(body["data"]["completeRound"]["round"]["status"], "COMPLETED", "{body}");
    assert_eq!(body["data"]["completeRound"]["certificatesIssued"], participants);
    let round_key = interlib::domain::GlobalId::decode_int("id", &round, NodeKind::Round).unwrap_or(0);
    let certificates = certificate::Entity::find()
        .filter(certificate::Column::RoundId.eq(round_key))
        .all(&app.db)
        .await
        .expect("certificates");
    assert_eq!(certificates.len(), participants);
    let ada_certificate = certificates.iter().find(|c| c.librarian_id == net.ada).expect("Ada's certificate");
    let verify =
        "query($id: String!) { certificate(code: $id) { recipientName issuedAt round { name startsAt endsAt } } }";
    let body = app.graphql_as(None, verify, json!({ "id": ada_certificate.code })).await;
    assert_eq!(body["data"]["certificate"]["recipientName"], "Ada Okafor", "public: {body}");
    assert_eq!(body["data"]["certificate"]["round"]["name"], "2027 Round 1");
    let body = app
        .graphql_as(
            None,
            "query($id: String!) { certificate(code: $id) { email } }",
            json!({ "id": ada_certificate.code }),
        )
        .await;
    assert!(!error_codes(&body).is_empty(), "no contact data on a certificate");
    let body = app.graphql_as(None, verify, json!({ "id": "not-a-certificate" })).await;
    assert!(body["data"]["certificate"].is_null());
    let completed =
        app.data(&format!("query($r: ID!) {{ roundStats(roundId: $r) {stats} }}"), json!({ "r": round })).await;
    assert_eq!(completed["roundStats"]["completed"], participants);
    let dissolved = pairing::Entity::find()
        .filter(pairing::Column::RoundId.eq(round_key))
        .filter(pairing::Column::Status.eq("DISSOLVED"))
        .all(&app.db)
        .await
        .expect("pairings");
    assert!(
        certificates.iter().all(|c| !dissolved.iter().any(|d| d.id == c.pairing_id)),
        "no certificate for a dissolved pairing"
    );

    // Over: every step is out of order now.
    for mutation in ["openApplications", "closeApplications", "confirmPairings", "completeRound", "cancelRound"] {
        let body = step(&app, mutation, &round).await;
        assert_eq!(error_codes(&body), ["CONFLICT"], "{mutation}");
        assert!(first_message(&body).contains("COMPLETED"));
    }
    let body = app.graphql(RUN, json!({ "input": { "roundId": round } })).await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);
    assert_eq!(status(&app, &round).await, "COMPLETED");
}

#[tokio::test]
async fn cancelling_a_round_dissolves_its_pairings_and_unknown_rounds_are_user_errors() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let round2 = gid(NodeKind::Round, net.round2);
    let body = step(&app, "cancelRound", &round2).await;
    assert_eq!(body["data"]["cancelRound"]["round"]["status"], "CANCELLED", "{body}");
    let trio = pairing::Entity::find_by_id(net.pairing_trio).one(&app.db).await.expect("q").expect("trio");
    assert_eq!(trio.status, "DISSOLVED");
    let missing = gid(NodeKind::Round, 9999);
    let body = step(&app, "openApplications", &missing).await;
    assert_eq!(user_errors(&body["data"]["openApplications"]), [("roundId".to_owned(), "NOT_FOUND".to_owned())]);
    let body = step(&app, "openApplications", &gid(NodeKind::Librarian, 1)).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let librarian = app.token(Role::Librarian, &[], None, Some(net.ada));
    let body = app
        .graphql_as(
            Some(&librarian),
            "mutation($i: RoundStepInput!) { cancelRound(input: $i) { round { id } } }",
            json!({ "i": { "roundId": round2 } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
}

#[tokio::test]
async fn the_cli_matches_a_round_in_the_database() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let create = "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id } } }";
    let body = app
        .graphql(create, json!({ "input": { "name": "CLI round", "countryShare": null, "applicationsOpenAt": "2027-01-04T00:00:00Z",
            "applicationsCloseAt": "2027-02-01T00:00:00Z", "startsAt": "2027-02-15T00:00:00Z", "endsAt": "2027-06-15T00:00:00Z" } }))
        .await;
    let round = body["data"]["createRound"]["round"]["id"].as_str().unwrap_or_default().to_owned();
    step(&app, "openApplications", &round).await;
    for who in [net.ada, net.bongani, net.emma, net.alia] {
        let body = app
            .graphql(APPLY, json!({ "input": { "roundId": round, "librarianId": gid(NodeKind::Librarian, who) } }))
            .await;
        assert_eq!(user_errors(&body["data"]["applyToRound"]), []);
    }
    step(&app, "closeApplications", &round).await;
    let dir = std::env::temp_dir().join(format!("interlib-match-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("interlib.toml");
    std::fs::write(&config, format!("database_url = {:?}\nlog_level = \"error\"\n", app.database.url)).expect("config");
    let run = |extra: &[&str]| {
        let mut args = vec!["interlib", "--config", config.to_str().unwrap_or_default(), "match", "--round", &round];
        args.extend_from_slice(extra);
        <interlib::cli::Cli as clap::Parser>::try_parse_from(args).expect("arguments parse")
    };
    let round_key = interlib::domain::GlobalId::decode_int("id", &round, NodeKind::Round).unwrap_or(0);
    let proposed = || async {
        pairing::Entity::find().filter(pairing::Column::RoundId.eq(round_key)).all(&app.db).await.expect("q").len()
    };
    interlib::cli::run(run(&["--dry-run"])).await.expect("a dry run");
    assert_eq!(proposed().await, 0, "a dry run stores nothing");
    interlib::cli::run(run(&[])).await.expect("a run");
    assert_eq!(proposed().await, 2, "Ada, Bongani, Emma, Alia: two pairs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(<interlib::cli::Cli as clap::Parser>::try_parse_from(["interlib", "match", "--dry-run"]).is_err());
}

/// Four applicants whose only allowed pairs are a-b, b-c and c-d (their languages chain: fr
/// / fr+de / de+es / es; four countries) and b-c scores more than a-b and c-d together:
/// `runMatching` pairs all four, a-b and c-d, instead of b-c alone.
#[tokio::test]
async fn nobody_is_left_out_who_could_have_been_paired() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let create = "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id } } }";
    let body = app
        .graphql(create, json!({ "input": { "name": "Chain round", "applicationsOpenAt": "2027-01-04T00:00:00Z",
            "applicationsCloseAt": "2027-02-01T00:00:00Z", "startsAt": "2027-02-15T00:00:00Z", "endsAt": "2027-06-15T00:00:00Z" } }))
        .await;
    let round = body["data"]["createRound"]["round"]["id"].as_str().unwrap_or_default().to_owned();
    step(&app, "openApplications", &round).await;
    let shared = ["metadata", "games", "archives"];
    // a: Farida (LB), b: Carmen (ES), c: Alia (NG), d: Emma (AU); b and c share three
    // interests, asked for shared interests and prefer each other's sector.
    let chain = [
        (net.farida, json!({ "languages": ["fr"] })),
        (
            net.carmen,
            json!({ "languages": ["fr", "de"], "interests": shared, "matchPreference": "INTERESTS", "preferredSectors": ["PUBLIC"] }),
        ),
        (
            net.alia,
            json!({ "languages": ["de", "es"], "interests": shared, "matchPreference": "INTERESTS", "preferredSectors": ["NATIONAL"] }),
        ),
        (net.emma, json!({ "languages": ["es"] })),
    ];
    for (who, mut input) in chain {
        input["roundId"] = json!(round);
        input["librarianId"] = json!(gid(NodeKind::Librarian, who));
        let body = app.graphql(APPLY, json!({ "input": input })).await;
        assert_eq!(user_errors(&body["data"]["applyToRound"]), [], "{body}");
    }
    step(&app, "closeApplications", &round).await;
    let body = app.graphql(RUN, json!({ "input": { "roundId": round, "dryRun": true } })).await;
    let run = &body["data"]["runMatching"];
    let mut groups: Vec<Vec<String>> =
        run["proposals"].as_array().cloned().unwrap_or_default().iter().map(member_ids).collect();
    groups.sort();
    let mut expected: Vec<Vec<String>> = [[net.farida, net.carmen], [net.alia, net.emma]]
        .iter()
        .map(|g| {
            let mut ids: Vec<String> = g.iter().map(|&id| gid(NodeKind::Librarian, id)).collect();
            ids.sort();
            ids
        })
        .collect();
    expected.sort();
    assert_eq!(groups, expected, "{body}");
    assert_eq!(run["unmatched"], json!([]), "{body}");
    assert_eq!(run["summary"]["provenOptimal"], true);
    // b-c (a pair, three shared interests, both sector preferences, the same career stage,
    // two regions, both preferences met) outscores a-b plus c-d: the most people paired
    // came first.
    assert_eq!(run["summary"]["matchingWeight"], 250, "{body}");
}
