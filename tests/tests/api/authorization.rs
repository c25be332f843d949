//! The authorization matrix: for each role, what each query, nested field and count
//! answers, through the real server. Hidden rows are absent (and not counted); denied
//! fields of visible rows are `null` with a `FORBIDDEN` error on that field alone.

use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures, fixtures::Network};
use serde_json::{Value, json};

use crate::{gid, pluck};

const LIST: &str = "{ librarians(orderBy: { field: NAME }, first: 100) { totalCount nodes { fullName } } }";

struct Callers {
    anonymous: Option<String>,
    ada: Option<String>,
    carmen: Option<String>,
    ambassador_za: Option<String>,
    ambassador_au: Option<String>,
    liasa: Option<String>,
    alia: Option<String>,
    admin: Option<String>,
}

fn callers(app: &TestApp, net: &Network) -> Callers {
    Callers {
        anonymous: None,
        ada: Some(app.token(Role::Librarian, &[], None, Some(net.ada))),
        carmen: Some(app.token(Role::Librarian, &[], None, Some(net.carmen))),
        ambassador_za: Some(app.token(Role::Ambassador, &["ZA"], None, None)),
        ambassador_au: Some(app.token(Role::Ambassador, &["AU"], None, None)),
        liasa: Some(app.token(Role::Association, &[], Some(net.liasa), None)),
        alia: Some(app.token(Role::Association, &[], Some(net.alia_assoc), None)),
        admin: Some(app.admin.clone()),
    }
}

async fn names(app: &TestApp, token: &Option<String>) -> (Vec<String>, i64) {
    let body = app.graphql_as(token.as_deref(), LIST, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let list = &body["data"]["librarians"];
    (pluck(list, "fullName"), list["totalCount"].as_i64().unwrap_or(-1))
}

/// `field` of the librarian `id` as `token` sees it: the value, or the error code.
async fn field(app: &TestApp, token: &Option<String>, id: i32, selection: &str) -> Value {
    let query = format!("query($id: ID!) {{ librarian(id: $id) {{ fullName {selection} }} }}");
    let field = selection.split_whitespace().next().unwrap_or_default();
    let body = app.graphql_as(token.as_deref(), &query, json!({ "id": gid(NodeKind::Librarian, id) })).await;
    if body["data"]["librarian"].is_null() {
        return json!("HIDDEN");
    }
    match error_codes(&body).as_slice() {
        [] => body["data"]["librarian"][field].clone(),
        [code] => {
            assert!(body["data"]["librarian"][field].is_null());
            assert_eq!(body["errors"][0]["path"], json!(["librarian", field]), "{body}");
            json!(code)
        }
        more => panic!("{more:?}"),
    }
}

#[tokio::test]
async fn each_role_lists_only_the_librarians_it_may_see_and_counts_only_those() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let c = callers(&app, &net);
    let all = [
        "Ada Okafor",
        "Alia Khan",
        "Bongani Ndlovu",
        "Carmen García",
        "Emma Wilson",
        "Farida Haddad",
        "Grace Mensah",
        "Lisa 100% Pure_Test",
    ];
    assert_eq!(names(&app, &c.admin).await, (all.map(String::from).to_vec(), 8));
    assert_eq!(names(&app, &c.anonymous).await, (vec![], 0));
    // Ada: herself, her partners (Carmen, Farida, Grace), and the directory; not Lisa.
    let ada = names(&app, &c.ada).await;
    assert_eq!(ada.0, all[..7].iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(ada.1, 7);
    assert_eq!(
        names(&app, &c.ambassador_za).await,
        (vec!["Bongani Ndlovu".into(), "Grace Mensah".into(), "Lisa 100% Pure_Test".into()], 3)
    );
    assert_eq!(names(&app, &c.ambassador_au).await, (vec!["Emma Wilson".into()], 1));
    assert_eq!(
        names(&app, &c.liasa).await,
        (vec!["Ada Okafor".into(), "Bongani Ndlovu".into(), "Grace Mensah".into()], 3)
    );
    assert_eq!(names(&app, &c.alia).await, (vec!["Emma Wilson".into()], 1));

    // The same rules hold for a country's participants and their count.
    let query = "{ country(code: \"ZA\") { participants { totalCount nodes { fullName } } } }";
    for (token, expected) in
        [(&c.anonymous, 0), (&c.ambassador_za, 3), (&c.ambassador_au, 0), (&c.alia, 0), (&c.liasa, 2)]
    {
        let body = app.graphql_as(token.as_deref(), query, json!({})).await;
        assert_eq!(body["data"]["country"]["participants"]["totalCount"], expected, "{body}");
        assert_eq!(body["data"]["country"]["participants"]["nodes"].as_array().map(Vec::len), Some(expected));
    }
}

#[tokio::test]
async fn fields_of_visible_librarians_follow_the_policy() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let c = callers(&app, &net);
    let email = |name: &str| json!(format!("{name}@example.org"));
    // email: self, partners, associations (their members), admins, and the country's
    // ambassadors only for those who consented to the directory.
    let cases = [
        (&c.ada, net.ada, "email", email("ada.okafor")),
        (&c.ada, net.carmen, "email", email("carmen.garcía")),
        (&c.ada, net.carmen, "institution", json!("FORBIDDEN")), // unlisted partner
        (&c.ada, net.bongani, "email", json!("FORBIDDEN")),      // directory only
        (&c.ada, net.bongani, "institution", json!("Johannesburg City Library")),
        (&c.ada, net.bongani, "memberships { externalId }", json!("FORBIDDEN")),
        (&c.ada, net.ada, "memberships { externalId }", json!([{ "externalId": "ZA-3" }])),
        (&c.ada, net.lisa, "email", json!("HIDDEN")),
        (&c.carmen, net.ada, "email", email("ada.okafor")),
        (&c.carmen, net.ada, "version", json!("FORBIDDEN")),
        (&c.ambassador_za, net.bongani, "email", email("bongani.ndlovu")),
        (&c.ambassador_za, net.grace, "email", json!("FORBIDDEN")), // did not consent
        (&c.ambassador_za, net.grace, "institution", json!("National Archives of South Africa")),
        (&c.ambassador_za, net.ada, "email", json!("HIDDEN")),
        (&c.ambassador_au, net.bongani, "fullName", json!("HIDDEN")),
        (&c.liasa, net.grace, "email", email("grace.mensah")),
        (&c.liasa, net.emma, "email", json!("HIDDEN")),
        (&c.alia, net.emma, "email", email("emma.wilson")),
        (&c.alia, net.ada, "fullName", json!("HIDDEN")),
        (&c.anonymous, net.ada, "fullName", json!("HIDDEN")),
        (&c.admin, net.lisa, "email", email("lisa.100%.pure_test")),
    ];
    for (token, id, name, expected) in cases {
        let got = field(&app, token, id, name).await;
        assert_eq!(got, expected, "{name} of librarian {id}");
    }
    // A denied field fails alone: the rest of the same answer is there.
    let body = app
        .graphql_as(
            c.ada.as_deref(),
            "query($id: ID!) { librarian(id: $id) { fullName email institution country { code } } rounds { totalCount } }",
            json!({ "id": gid(NodeKind::Librarian, net.bongani) }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    assert_eq!(body["errors"][0]["path"], json!(["librarian", "email"]));
    assert_eq!(body["errors"][0]["message"], "you may not read `email` of this librarian");
    assert_eq!(body["errors"][0]["locations"], json!([{ "line": 1, "column": 49 }]), "{body}");
    // The denied field is there, as null (not left out of the object).
    assert!(body["data"]["librarian"].as_object().is_some_and(|o| o.contains_key("email")), "{body}");
    assert_eq!(body["data"]["librarian"]["email"], Value::Null);
    assert_eq!(body["data"]["librarian"]["fullName"], "Bongani Ndlovu");
    assert_eq!(body["data"]["librarian"]["country"]["code"], "ZA");
    assert_eq!(body["data"]["rounds"]["totalCount"], 2);
}

#[tokio::test]
async fn pairings_memberships_and_applications_are_scoped_everywhere() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let c = callers(&app, &net);
    let query = "{ pairings { totalCount nodes { id members { fullName } } }
                   associations { nodes { name members { totalCount nodes { externalId } } } }
                   rounds { nodes { applications { totalCount } pairings { totalCount } } } }";
    let run = |token: &Option<String>| {
        let token = token.clone();
        let app = &app;
        async move {
            let body = app.graphql_as(token.as_deref(), query, json!({})).await;
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let members = |data: &Value| -> Vec<Vec<String>> {
        data["pairings"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| pluck(&p["members"], "fullName"))
            .collect()
    };
    let external_ids = |data: &Value| -> Vec<Vec<String>> {
        data["associations"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| pluck(&a["members"], "externalId"))
            .collect()
    };
    let round_counts = |data: &Value| -> Vec<(i64, i64)> {
        data["rounds"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r["applications"]["totalCount"].as_i64().unwrap_or(-1),
                    r["pairings"]["totalCount"].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    };

    let admin = run(&c.admin).await;
    assert_eq!(admin["pairings"]["totalCount"], 3);
    assert_eq!(round_counts(&admin), [(4, 2), (3, 1)]);

    let anonymous = run(&c.anonymous).await;
    assert_eq!(anonymous["pairings"]["totalCount"], 0);
    assert_eq!(external_ids(&anonymous), [Vec::<String>::new(), vec![]]);
    assert_eq!(round_counts(&anonymous), [(0, 0), (0, 0)]);

    // Ada sees her two pairings with every partner; nobody's memberships but her own.
    let ada = run(&c.ada).await;
    assert_eq!(
        members(&ada),
        [vec!["Ada Okafor", "Carmen García"], vec!["Ada Okafor", "Farida Haddad", "Grace Mensah"]]
    );
    assert_eq!(external_ids(&ada), [vec!["ZA-3"], vec![]]);
    assert_eq!(round_counts(&ada), [(1, 1), (1, 1)]);

    // The ZA ambassador: pairings with a South African, whose foreign partners stay hidden.
    let za = run(&c.ambassador_za).await;
    assert_eq!(members(&za), [vec!["Bongani Ndlovu"], vec!["Grace Mensah"]]);
    assert_eq!(external_ids(&za), [vec!["ZA-1", "ZA-2"], vec![]]);
    assert_eq!(round_counts(&za), [(1, 1), (1, 1)]);

    // LIASA: its members' pairings (partners from elsewhere hidden), its own memberships only.
    let liasa = run(&c.liasa).await;
    assert_eq!(members(&liasa), [vec!["Ada Okafor"], vec!["Bongani Ndlovu"], vec!["Ada Okafor", "Grace Mensah"]]);
    assert_eq!(external_ids(&liasa), [vec!["ZA-1", "ZA-2", "ZA-3"], vec![]]);
    let alia = run(&c.alia).await;
    assert_eq!(external_ids(&alia), [vec![], vec!["AU-1".to_owned()]]);
    assert_eq!(members(&alia), [vec!["Emma Wilson"]]);

    // node / nodes answer null for what the caller may not see.
    let ids = json!([
        gid(NodeKind::Pairing, net.pairing_bongani_emma),
        gid(NodeKind::Librarian, net.emma),
        gid(NodeKind::Round, net.round1),
        gid(NodeKind::Certificate, net.certificate_ada),
    ]);
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }";
    let body = app.graphql_as(c.ada.as_deref(), query, json!({ "ids": ids })).await;
    let kinds: Vec<Value> =
        body["data"]["nodes"].as_array().cloned().unwrap_or_default().iter().map(|n| n["__typename"].clone()).collect();
    assert_eq!(kinds, [json!(null), json!("Librarian"), json!("Round"), json!("Certificate")]);
    let body = app.graphql_as(None, query, json!({ "ids": ids })).await;
    let kinds: Vec<Value> =
        body["data"]["nodes"].as_array().cloned().unwrap_or_default().iter().map(|n| n["__typename"].clone()).collect();
    // A certificate by id is its recipient's record: anonymous callers verify by code.
    assert_eq!(kinds, [json!(null), json!(null), json!("Round"), json!(null)]);
}

#[tokio::test]
async fn anonymous_callers_see_public_programme_facts_only() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let body = app
        .graphql_as(
            None,
            "query($cert: ID!) {
               countries(first: 1) { totalCount }
               rounds { nodes { name status topics { title } } }
               associations { nodes { name country { code } } }
               country(code: \"ZA\") { ambassadors { active librarian { fullName } } }
               certificate(code: $cert) { recipientName round { name } }
               viewer { role subject }
             }",
            json!({ "cert": "8d0e6f4e-4c1b-4f7e-9d59-1c2b3a4d5e6f" }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let data = &body["data"];
    assert!(data["countries"]["totalCount"].as_i64().unwrap_or(0) >= 249);
    assert_eq!(pluck(&data["rounds"], "name"), ["2026 Round 1", "2026 Round 2"]);
    // Discussion topics are for the round's participants (and those who look after them).
    assert_eq!(data["rounds"]["nodes"][1]["topics"].as_array().map(Vec::len), Some(0));
    assert_eq!(data["associations"]["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(data["country"]["ambassadors"], json!([{ "active": true, "librarian": null }]));
    assert_eq!(data["certificate"]["recipientName"], "Ada Okafor");
    assert_eq!(data["viewer"], json!({ "role": "ANONYMOUS", "subject": null }));
}

#[tokio::test]
async fn aggregate_counts_are_public_and_batched() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let query =
        "{ countries(first: 100, region: AFRICA) { nodes { code participantCount participants { totalCount } } }
                   rounds { nodes { name applicationCount pairingCount applications { totalCount } } } }";
    let before = app.statements.get();
    let body = app.graphql_as(None, query, json!({})).await;
    let statements = app.statements.get() - before;
    assert!(body.get("errors").is_none(), "{body}");
    let countries = body["data"]["countries"]["nodes"].as_array().cloned().unwrap_or_default();
    let count_of = |code: &str| countries.iter().find(|c| c["code"] == code).map(|c| c["participantCount"].clone());
    // Anonymous sees how many, never who: the connection of the same country is empty.
    assert_eq!(count_of("NG"), Some(json!(2)));
    assert_eq!(count_of("ZA"), Some(json!(3)));
    assert_eq!(count_of("KE"), Some(json!(0)));
    assert!(countries.iter().all(|c| c["participants"]["totalCount"] == 0));
    let rounds = &body["data"]["rounds"]["nodes"];
    assert_eq!(rounds[0]["applicationCount"], 4);
    assert_eq!(rounds[0]["pairingCount"], 2);
    assert_eq!(rounds[0]["applications"]["totalCount"], 0);
    assert_eq!(rounds[1]["applicationCount"], 3);
    assert!(countries.len() > 50);
    // One grouped statement per aggregate for the whole list, not one per country.
    assert!(statements <= 10, "{statements} statements for 100 countries and their counts");
}

#[tokio::test]
async fn lists_and_lookups_by_id_agree_on_who_is_visible() {
    // Lists filter in SQL, lookups by id after the fetch (policy::sees_librarian): the
    // two must give the same answer for every caller.
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let c = callers(&app, &net);
    let all = [net.ada, net.bongani, net.carmen, net.emma, net.farida, net.grace, net.lisa, net.alia];
    let ids: Vec<String> = all.iter().map(|id| gid(NodeKind::Librarian, *id)).collect();
    let query = "query($ids: [ID!]!) { librarians(first: 100) { nodes { id } } nodes(ids: $ids) { id }
                   pairings(first: 100) { nodes { members { id } } } }";
    for token in [&c.anonymous, &c.ada, &c.carmen, &c.ambassador_za, &c.ambassador_au, &c.liasa, &c.alia, &c.admin] {
        let body = app.graphql_as(token.as_deref(), query, json!({ "ids": ids })).await;
        assert!(body.get("errors").is_none(), "{body}");
        let mut listed = pluck(&body["data"]["librarians"], "id");
        listed.sort();
        let mut by_id: Vec<String> = body["data"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n["id"].as_str().map(str::to_owned))
            .collect();
        by_id.sort();
        assert_eq!(listed, by_id, "list and nodes disagree");
        for pairing in body["data"]["pairings"]["nodes"].as_array().cloned().unwrap_or_default() {
            for member in pluck(&pairing["members"], "id") {
                assert!(listed.contains(&member), "a pairing shows {member}, whom the list hides");
            }
        }
    }
}

#[tokio::test]
async fn certificates_are_verified_by_their_code_and_sequential_ids_open_nothing() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let by_id = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Certificate { recipientName code } } }";
    // Every sequential id around Ada's certificate, as an enumerating caller would try.
    let ids: Vec<String> = (1..=net.certificate_ada + 3).map(|id| gid(NodeKind::Certificate, id)).collect();
    let found = |body: &Value| -> Vec<String> {
        body["data"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n["recipientName"].as_str().map(str::to_owned))
            .collect()
    };
    let carmen = app.token(Role::Librarian, &[], None, Some(net.carmen));
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    for token in [None, Some(carmen.as_str()), Some(za.as_str()), Some(alia.as_str())] {
        let body = app.graphql_as(token, by_id, json!({ "ids": ids })).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(found(&body), Vec::<String>::new(), "{token:?}: {body}");
    }
    // Those who read Ada's record read her certificate by id.
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let ng = app.token(Role::Ambassador, &["NG"], None, None);
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    for token in [&app.admin, &ada, &ng, &liasa] {
        let body = app.graphql_as(Some(token), by_id, json!({ "ids": ids })).await;
        assert_eq!(found(&body), ["Ada Okafor"], "{body}");
    }
    // Anyone verifies it with the code printed on it; a made-up code finds nothing.
    let verify = "query($code: String!) { certificate(code: $code) { recipientName round { name } } }";
    let body = app.graphql_as(None, verify, json!({ "code": "8D0E6F4E-4C1B-4F7E-9D59-1C2B3A4D5E6F" })).await;
    assert_eq!(
        body["data"]["certificate"],
        json!({ "recipientName": "Ada Okafor", "round": { "name": "2026 Round 1" } })
    );
    let body = app.graphql_as(None, verify, json!({ "code": "8d0e6f4e-4c1b-4f7e-9d59-1c2b3a4d5e60" })).await;
    assert_eq!(body["data"]["certificate"], Value::Null, "{body}");
}

#[tokio::test]
async fn topics_follow_one_rule_on_every_path() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let query = "query($round: ID!, $ids: [ID!]!) {
        round(id: $round) { topics { title } }
        nodes(ids: $ids) { ... on DiscussionTopic { title } }
    }";
    let ids: Vec<String> = (1..=4).map(|id| gid(NodeKind::DiscussionTopic, id)).collect();
    let vars = json!({ "round": gid(NodeKind::Round, net.round2), "ids": ids });
    let carmen = app.token(Role::Librarian, &[], None, Some(net.carmen));
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    // Carmen did not apply to round 2: neither its list nor the ids show her its topics.
    for (token, seen) in [(None, 0), (Some(&carmen), 0), (Some(&ada), 2), (Some(&za), 2), (Some(&liasa), 2)] {
        let body = app.graphql_as(token.map(String::as_str), query, vars.clone()).await;
        assert!(body.get("errors").is_none(), "{body}");
        let listed = pluck(&body["data"]["round"]["topics"], "title");
        let by_id: Vec<&Value> = body["data"]["nodes"]
            .as_array()
            .map(|n| n.iter().filter(|t| !t["title"].is_null()).collect())
            .unwrap_or_default();
        assert_eq!((listed.len(), by_id.len()), (seen, seen), "{token:?}: {body}");
    }
}

#[tokio::test]
async fn a_pairings_explanation_needs_every_members_profile() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Pairing { explanation } } }";
    let ids =
        json!({ "ids": [gid(NodeKind::Pairing, net.pairing_bongani_emma), gid(NodeKind::Pairing, net.pairing_trio)] });
    let explained = |body: &Value| -> Vec<bool> {
        body["data"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|n| n["explanation"].is_string())
            .collect()
    };
    // The ZA ambassador sees Bongani (ZA) and Grace (ZA), not Emma (AU) nor Farida (LB):
    // the explanation would tell their countries and interests.
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let body = app.graphql_as(Some(&za), query, ids.clone()).await;
    assert_eq!(explained(&body), [false, false], "{body}");
    assert_eq!(error_codes(&body), ["FORBIDDEN", "FORBIDDEN"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["nodes", 0, "explanation"]), "{body}");
    // An ambassador of both countries reads the first; the admin reads both.
    let za_au = app.token(Role::Ambassador, &["ZA", "AU"], None, None);
    let body = app.graphql_as(Some(&za_au), query, ids.clone()).await;
    assert_eq!(explained(&body), [true, false], "{body}");
    let body = app.graphql_as(Some(&app.admin), query, ids.clone()).await;
    assert_eq!(explained(&body), [true, true], "{body}");
    // Bongani reads his own (Emma is listed); Ada does not read the trio's, whose Grace is
    // not listed in the directory.
    let bongani = app.token(Role::Librarian, &[], None, Some(net.bongani));
    let body = app.graphql_as(Some(&bongani), query, ids.clone()).await;
    assert!(explained(&body)[0], "{body}");
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let body = app.graphql_as(Some(&ada), query, ids).await;
    assert!(!explained(&body)[1], "{body}");
}

/// The names a caller's librarian list answers for `filter` in `order` (and checks that
/// `totalCount` agrees and that no field the filter read is denied on the rows found).
async fn found_by(app: &TestApp, token: &str, filter: Value, order: &str, field: &str) -> Vec<String> {
    let query = format!(
        "query($f: LibrarianFilter) {{ librarians(filter: $f, orderBy: {{ field: {order} }}, first: 100) {{
            totalCount nodes {{ fullName {field} }} }} }}"
    );
    let body = app.graphql_as(Some(token), &query, json!({ "f": filter })).await;
    assert!(body.get("errors").is_none(), "{filter} by {order}: a matched row denies `{field}`: {body}");
    let names = pluck(&body["data"]["librarians"], "fullName");
    assert_eq!(body["data"]["librarians"]["totalCount"], names.len(), "{filter}: {body}");
    names
}

#[tokio::test]
async fn filters_and_orderings_match_only_fields_the_caller_may_read() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    // Ada sees her partners Carmen and Grace (not in the directory: name and country only),
    // Farida, and the directory; her own record is the only one she reads in full.
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let since = fixtures::day(1).to_rfc3339();
    let cases: [(Value, &str, &str, &[&str]); 12] = [
        (json!({ "sector": "NATIONAL" }), "NAME", "sector", &[]),
        (json!({ "search": "Biblioteca" }), "NAME", "institution", &[]),
        (json!({ "search": "Carmen" }), "NAME", "id", &["Carmen García"]),
        (json!({ "language": "es" }), "NAME", "languages", &[]),
        (json!({ "interest": "oral history" }), "NAME", "interests", &[]),
        (json!({ "interest": "health information" }), "NAME", "interests", &["Farida Haddad"]),
        (json!({ "roundId": gid(NodeKind::Round, net.round2) }), "NAME", "applications { id }", &["Ada Okafor"]),
        (
            json!({ "associationId": gid(NodeKind::Association, net.liasa) }),
            "NAME",
            "memberships { id }",
            &["Ada Okafor"],
        ),
        (json!({ "updatedSince": since }), "NAME", "updatedAt", &["Ada Okafor"]),
        (json!({}), "UPDATED_AT", "updatedAt", &["Ada Okafor"]),
        (json!({}), "CREATED_AT", "createdAt", &["Ada Okafor"]),
        (json!({ "countryCode": "ES" }), "NAME", "country { code }", &["Carmen García"]),
    ];
    for (filter, order, field, expected) in cases {
        assert_eq!(found_by(&app, &ada, filter.clone(), order, field).await, expected, "Ada, {filter} by {order}");
    }
    // Admins, ambassadors (in their countries) and associations (their members) read
    // these fields on every row they see: their answers are the unrestricted ones.
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    assert_eq!(found_by(&app, &za, json!({ "sector": "ARCHIVE" }), "NAME", "sector").await, ["Grace Mensah"]);
    assert_eq!(found_by(&app, &za, json!({}), "UPDATED_AT", "updatedAt").await.len(), 3);
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let members = found_by(&app, &liasa, json!({ "updatedSince": since }), "UPDATED_AT", "updatedAt").await;
    assert_eq!(members, ["Ada Okafor", "Bongani Ndlovu", "Grace Mensah"]);
    // An association filtering by another association learns nothing of its members.
    let by_alia = json!({ "associationId": gid(NodeKind::Association, net.alia_assoc) });
    assert!(found_by(&app, &liasa, by_alia, "NAME", "id").await.is_empty());

    // Pairings match a country or a librarian only through members the caller sees: the
    // ZA ambassador cannot find the trio by Farida's country, nor Bongani's pairing by Emma.
    let pairings = "query($f: PairingFilter) { pairings(filter: $f) { totalCount } }";
    for (filter, count) in [
        (json!({ "countryCode": "LB" }), 0),
        (json!({ "librarianId": gid(NodeKind::Librarian, net.emma) }), 0),
        (json!({ "countryCode": "ZA" }), 2),
        (json!({ "librarianId": gid(NodeKind::Librarian, net.grace) }), 1),
    ] {
        let body = app.graphql_as(Some(&za), pairings, json!({ "f": filter })).await;
        assert_eq!(body["data"]["pairings"]["totalCount"], count, "{filter}: {body}");
    }
}

#[tokio::test]
async fn cursors_are_sealed_reveal_no_sort_key_and_cannot_be_forged() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let query = "query($after: String) { librarians(first: 2, after: $after, orderBy: { field: UPDATED_AT }) {
        nodes { fullName updatedAt } pageInfo { endCursor } } }";
    let body = app.graphql(query, json!({})).await;
    let cursor = body["data"]["librarians"]["pageInfo"]["endCursor"].as_str().expect("a cursor").to_owned();
    let updated = body["data"]["librarians"]["nodes"][1]["updatedAt"].as_str().unwrap_or_default().to_owned();
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64url");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(&updated[..10]) && !text.contains("UPDATED"), "sealed: {text:?}");
    // It pages on.
    let next = app.graphql(query, json!({ "after": cursor })).await;
    assert!(next.get("errors").is_none(), "{next}");
    assert_eq!(next["data"]["librarians"]["nodes"].as_array().map(Vec::len), Some(2));
    // A bit flipped, or a cursor written by hand as the old format was, is refused.
    let mut flipped = bytes.clone();
    flipped[20] ^= 1;
    let forged = URL_SAFE_NO_PAD.encode(r#"{"o":"UPDATED_AT_ASC","k":["2000-01-01T00:00:00Z",1]}"#);
    for bad in [URL_SAFE_NO_PAD.encode(&flipped), forged] {
        let body = app.graphql(query, json!({ "after": bad })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    }
}
