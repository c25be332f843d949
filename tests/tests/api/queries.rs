//! Every root query and nested relation returns the right rows.

use interlib::domain::NodeKind;
use interlib_tests::{TestApp, fixtures};
use serde_json::json;

use crate::{gid, pluck};

#[tokio::test]
async fn countries_are_seeded_from_iso_3166_and_filter_by_region() {
    let app = TestApp::spawn().await;
    let data = app
        .data(
            "{ all: countries(first: 3) { totalCount nodes { code name region } }
               oceania: countries(region: OCEANIA, first: 100) { totalCount nodes { code } }
               za: country(code: \"za\") { code name region subregion } }",
            json!({}),
        )
        .await;
    assert!(data["all"]["totalCount"].as_i64().unwrap_or(0) >= 249, "{data}");
    assert_eq!(pluck(&data["all"], "code"), ["AD", "AE", "AF"]);
    let oceania = pluck(&data["oceania"], "code");
    assert!(oceania.contains(&"AU".to_owned()) && oceania.contains(&"NZ".to_owned()));
    assert!(!oceania.contains(&"ZA".to_owned()));
    assert_eq!(
        data["za"],
        json!({ "code": "ZA", "name": "South Africa", "region": "AFRICA", "subregion": "Southern Africa" })
    );
}

#[tokio::test]
async fn a_country_lists_its_participants_and_ambassadors() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let data = app
        .data(
            "{ country(code: \"ZA\") {
                 participants(orderBy: { field: NAME }) { totalCount nodes { id fullName country { code } } }
                 ambassadors { active librarian { fullName } country { code } }
               } }",
            json!({}),
        )
        .await;
    let country = &data["country"];
    assert_eq!(country["participants"]["totalCount"], 3);
    assert_eq!(pluck(&country["participants"], "fullName"), ["Bongani Ndlovu", "Grace Mensah", "Lisa 100% Pure_Test"]);
    assert_eq!(country["participants"]["nodes"][0]["id"], gid(NodeKind::Librarian, net.bongani));
    assert_eq!(
        country["ambassadors"],
        json!([{ "active": true, "librarian": { "fullName": "Bongani Ndlovu" }, "country": { "code": "ZA" } }])
    );
}

#[tokio::test]
async fn a_librarian_shows_memberships_applications_and_pairings() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let data = app
        .data(
            "query($id: ID!) { librarian(id: $id) {
                 fullName email sector languages interests institution country { code }
                 memberships { externalId status association { name } librarian { fullName } }
                 applications { status matchPreference languages preferredSectors interests round { name } }
                 pairings { status round { name } members { fullName } }
               } }",
            json!({ "id": gid(NodeKind::Librarian, net.ada) }),
        )
        .await;
    let ada = &data["librarian"];
    assert_eq!(ada["fullName"], "Ada Okafor");
    assert_eq!(ada["email"], "ada.okafor@example.org");
    assert_eq!(ada["sector"], "ACADEMIC");
    assert_eq!(ada["languages"], json!(["en", "fr"]));
    assert_eq!(ada["interests"], json!(["open access", "research data"]));
    assert_eq!(ada["country"]["code"], "NG");
    assert_eq!(
        ada["memberships"],
        json!([{ "externalId": "ZA-3", "status": "ACTIVE",
                 "association": { "name": "Library and Information Association of South Africa" },
                 "librarian": { "fullName": "Ada Okafor" } }])
    );
    assert_eq!(pluck(&ada["applications"], "status"), ["MATCHED", "MATCHED"]);
    assert_eq!(ada["applications"][0]["round"]["name"], "2026 Round 1");
    assert_eq!(ada["applications"][0]["preferredSectors"], json!(["PUBLIC"]));
    let pairings = ada["pairings"].as_array().cloned().unwrap_or_default();
    assert_eq!(pairings.len(), 2);
    assert_eq!(pluck(&pairings[0]["members"], "fullName"), ["Ada Okafor", "Carmen García"]);
    assert_eq!(pairings[1]["status"], "ACTIVE");
    assert_eq!(pluck(&pairings[1]["members"], "fullName"), ["Ada Okafor", "Farida Haddad", "Grace Mensah"]);
}

#[tokio::test]
async fn associations_list_their_members_by_status() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let data = app
        .data(
            "{ associations { totalCount nodes { id name country { code } } }
               za: associations(countryCode: \"ZA\") { nodes { name
                 all: members { totalCount nodes { externalId status deactivatedAt librarian { fullName } } }
                 active: members(status: ACTIVE) { totalCount nodes { externalId } }
               } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["associations"]["totalCount"], 2);
    let liasa = &data["za"]["nodes"][0];
    assert_eq!(liasa["all"]["totalCount"], 3);
    assert_eq!(pluck(&liasa["all"], "externalId"), ["ZA-1", "ZA-2", "ZA-3"]);
    assert_eq!(liasa["all"]["nodes"][1]["status"], "DEACTIVATED");
    assert!(liasa["all"]["nodes"][1]["deactivatedAt"].is_string());
    assert_eq!(pluck(&liasa["active"], "externalId"), ["ZA-1", "ZA-3"]);

    let id = data["associations"]["nodes"][1]["id"].clone();
    let one = app.data("query($id: ID!) { association(id: $id) { name } }", json!({ "id": id })).await;
    assert_eq!(one["association"]["name"], "Australian Library and Information Association");
}

#[tokio::test]
async fn rounds_show_applications_pairings_and_topics() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let data = app
        .data(
            "{ rounds { totalCount nodes { name status } }
               active: rounds(status: ACTIVE) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(pluck(&data["rounds"], "name"), ["2026 Round 1", "2026 Round 2"]);
    assert_eq!(pluck(&data["rounds"], "status"), ["COMPLETED", "ACTIVE"]);
    assert_eq!(pluck(&data["active"], "name"), ["2026 Round 2"]);

    let data = app
        .data(
            "query($id: ID!) { round(id: $id) {
                 applications { totalCount nodes { librarian { fullName } round { name } } }
                 pairings { totalCount nodes { id status score explanation origin members { fullName } round { name } } }
                 topics { title body publishAt round { name } }
               } }",
            json!({ "id": gid(NodeKind::Round, net.round2) }),
        )
        .await;
    let round = &data["round"];
    assert_eq!(round["applications"]["totalCount"], 3);
    let applicants: Vec<String> = round["applications"]["nodes"]
        .as_array()
        .map(|a| a.iter().map(|n| n["librarian"]["fullName"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default();
    assert_eq!(applicants, ["Ada Okafor", "Farida Haddad", "Grace Mensah"]);
    assert_eq!(round["pairings"]["totalCount"], 1);
    let trio = &round["pairings"]["nodes"][0];
    assert_eq!(trio["id"], gid(NodeKind::Pairing, net.pairing_trio));
    assert_eq!(trio["status"], "ACTIVE");
    assert_eq!(trio["origin"], "ALGORITHM");
    assert_eq!(trio["score"], 42);
    assert_eq!(trio["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(trio["round"]["name"], "2026 Round 2");
    assert_eq!(pluck(&round["topics"], "title"), ["Games and libraries", "Advocacy"]);
}

#[tokio::test]
async fn node_and_nodes_resolve_every_type_and_unknown_ids_to_null() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ids = json!([
        gid(NodeKind::Librarian, net.emma),
        interlib::domain::GlobalId::encode(NodeKind::Country, "ZA"),
        gid(NodeKind::Round, net.round1),
        gid(NodeKind::Pairing, net.pairing_bongani_emma),
        gid(NodeKind::Certificate, net.certificate_ada),
        gid(NodeKind::Librarian, 999_999),
        gid(NodeKind::Association, 1),
        gid(NodeKind::Membership, 1),
        gid(NodeKind::Ambassador, 1),
        gid(NodeKind::Application, 1),
        gid(NodeKind::DiscussionTopic, 1),
    ]);
    let data = app
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
                 ... on Librarian { fullName }
                 ... on Country { code }
                 ... on Round { name }
                 ... on Pairing { members { fullName } }
                 ... on Certificate { code recipientName round { name } }
               } }",
            json!({ "ids": ids }),
        )
        .await;
    let nodes = data["nodes"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = nodes.iter().map(|n| n["__typename"].as_str().unwrap_or("null")).collect();
    assert_eq!(
        types,
        [
            "Librarian",
            "Country",
            "Round",
            "Pairing",
            "Certificate",
            "null",
            "Association",
            "Membership",
            "Ambassador",
            "Application",
            "DiscussionTopic"
        ]
    );
    for (node, id) in nodes.iter().zip(ids.as_array().into_iter().flatten()) {
        if !node.is_null() {
            assert_eq!(&node["id"], id, "a node's id is the id it was fetched by");
        }
    }
    assert_eq!(nodes[0]["fullName"], "Emma Wilson");
    assert_eq!(nodes[1]["code"], "ZA");
    assert_eq!(pluck(&nodes[3]["members"], "fullName"), ["Bongani Ndlovu", "Emma Wilson"]);
    assert_eq!(nodes[4]["recipientName"], "Ada Okafor");

    let single = app
        .data(
            "query($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } c: librarian(id: $b) { id } }",
            json!({ "a": gid(NodeKind::Librarian, net.lisa), "b": gid(NodeKind::Librarian, 424_242) }),
        )
        .await;
    assert_eq!(single["a"]["id"], gid(NodeKind::Librarian, net.lisa));
    assert!(single["b"].is_null() && single["c"].is_null());
}

#[tokio::test]
async fn pairings_root_query_returns_all_pairings_with_members() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let data = app
        .data(
            "query($id: ID!) { pairings { totalCount nodes { id members { id } } } pairing(id: $id) { status } }",
            json!({ "id": gid(NodeKind::Pairing, net.pairing_ada_carmen) }),
        )
        .await;
    assert_eq!(data["pairings"]["totalCount"], 3);
    assert_eq!(
        pluck(&data["pairings"], "id"),
        [net.pairing_ada_carmen, net.pairing_bongani_emma, net.pairing_trio].map(|id| gid(NodeKind::Pairing, id))
    );
    assert_eq!(data["pairing"]["status"], "COMPLETED");
    let alia = app
        .data(
            "query($id: ID!) { librarian(id: $id) { pairings { id } memberships { id } applications { id } } }",
            json!({ "id": gid(NodeKind::Librarian, net.alia) }),
        )
        .await;
    assert_eq!(alia["librarian"], json!({ "pairings": [], "memberships": [], "applications": [] }));
}

#[tokio::test]
async fn nested_connections_page_each_parent_separately() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let data = app
        .data(
            "{ rounds { nodes { name
                 first: applications(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { librarian { fullName } } }
                 last: applications(last: 1) { pageInfo { hasPreviousPage } nodes { librarian { fullName } } }
                 pairings(status: COMPLETED) { totalCount }
               } }
               associations { nodes { active: members(status: ACTIVE) { totalCount nodes { externalId } } } } }",
            json!({}),
        )
        .await;
    let rounds = data["rounds"]["nodes"].as_array().cloned().unwrap_or_default();
    let names = |conn: &serde_json::Value| -> Vec<String> {
        conn["nodes"]
            .as_array()
            .map(|n| n.iter().map(|a| a["librarian"]["fullName"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    };
    assert_eq!(rounds[0]["first"]["totalCount"], 4);
    assert_eq!(names(&rounds[0]["first"]), ["Ada Okafor", "Bongani Ndlovu"]);
    assert_eq!(rounds[0]["first"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(names(&rounds[0]["last"]), ["Emma Wilson"]);
    assert_eq!(rounds[0]["last"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(rounds[0]["pairings"]["totalCount"], 2);
    assert_eq!(rounds[1]["first"]["totalCount"], 3);
    assert_eq!(names(&rounds[1]["first"]), ["Ada Okafor", "Farida Haddad"]);
    assert_eq!(names(&rounds[1]["last"]), ["Grace Mensah"]);
    assert_eq!(rounds[1]["pairings"]["totalCount"], 0);

    // The next page of one parent, by its cursor, through the same nested field.
    let after = rounds[0]["first"]["pageInfo"]["endCursor"].clone();
    let next = app
        .data(
            "query($after: String) { rounds { nodes { applications(first: 2, after: $after) { nodes { librarian { fullName } } } } } }",
            json!({ "after": after }),
        )
        .await;
    assert_eq!(names(&next["rounds"]["nodes"][0]["applications"]), ["Carmen García", "Emma Wilson"]);

    let members: Vec<Vec<String>> = data["associations"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| pluck(&a["active"], "externalId"))
        .collect();
    assert_eq!(members, [vec!["ZA-1".to_owned(), "ZA-3".to_owned()], vec!["AU-1".to_owned()]]);
}
