//! Partners follow the whole programme in the change feed: rounds, applications, pairings,
//! topics, engagement reports and certificates, each filtered by the policy of the objects
//! themselves. The oracle is the API itself: a follower's copy must equal what `nodes(ids:)`
//! shows the same caller of every object in the database, at every checkpoint and while
//! writes go on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use entities::{
    ambassador, application, association, certificate, discussion_topic, engagement_report, librarian, membership,
    pairing, round,
};
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::TestApp;
use interlib_tests::feed::{Follower, Reading};
use interlib_tests::fixtures;
use sea_orm::{EntityTrait, QuerySelect};
use serde_json::{Value, json};

use crate::gid;
use crate::sync::synced;

/// What a follower keeps of each object (no field a caller may be refused).
const NODE: &str = "__typename id
  ... on Librarian { fullName country { code } }
  ... on Membership { externalId status consent version }
  ... on Association { name }
  ... on Ambassador { country { code } }
  ... on Round { name status countryShare }
  ... on Application { status deferral { reason } }
  ... on Pairing { status origin members { id } }
  ... on DiscussionTopic { title }
  ... on EngagementReport { met rating }
  ... on Certificate { recipientName }";

/// How the programme's followers read: forty events a page, no field denied.
const READING: Reading<'static> = Reading { node: NODE, first: 40, denied_fields: false };

/// What a follower holds after reading the whole feed as `token`.
async fn follow(app: &TestApp, token: &str) -> BTreeMap<String, Value> {
    interlib_tests::feed::follow(app, token, READING).await
}

macro_rules! ids {
    ($app:expr, $entity:ident, $kind:ident) => {{
        let keys: Vec<i32> = $entity::Entity::find()
            .select_only()
            .column($entity::Column::Id)
            .into_tuple()
            .all(&$app.db)
            .await
            .expect("ids");
        keys.into_iter().map(|k| gid(NodeKind::$kind, k)).collect::<Vec<String>>()
    }};
}

/// Every object of the database the caller may see now, as `nodes(ids:)` shows it.
async fn visible(app: &TestApp, token: &str) -> BTreeMap<String, Value> {
    let mut all = Vec::new();
    all.extend(ids!(app, librarian, Librarian));
    all.extend(ids!(app, membership, Membership));
    all.extend(ids!(app, association, Association));
    all.extend(ids!(app, ambassador, Ambassador));
    all.extend(ids!(app, round, Round));
    all.extend(ids!(app, application, Application));
    all.extend(ids!(app, pairing, Pairing));
    all.extend(ids!(app, discussion_topic, DiscussionTopic));
    all.extend(ids!(app, engagement_report, EngagementReport));
    all.extend(ids!(app, certificate, Certificate));
    let q = format!("query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {NODE} }} }}");
    let mut out = BTreeMap::new();
    for chunk in all.chunks(100) {
        let body = app.graphql_as(Some(token), &q, json!({ "ids": chunk })).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        for node in body["data"]["nodes"].as_array().expect("nodes").iter().filter(|n| !n.is_null()) {
            out.insert(node["id"].as_str().expect("id").to_owned(), node.clone());
        }
    }
    out
}

/// Each follower reads on, then it and a follower reading from the start must both hold
/// exactly what the caller may see now.
async fn check(app: &TestApp, followers: &mut [(String, Follower)], stage: &str) {
    for (token, follower) in followers.iter_mut() {
        follower.catch_up(app, token, READING).await;
        let now = visible(app, token).await;
        assert_eq!(follower.state, now, "{stage}: reading along");
        assert_eq!(follow(app, token).await, now, "{stage}: from the start");
    }
}

fn kinds(state: &BTreeMap<String, Value>, typename: &str) -> Vec<String> {
    state
        .values()
        .filter(|n| n["__typename"] == typename)
        .map(|n| n["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The people and tokens of a programme run through the API only (so that every object
/// has the entries its writers leave).
struct Programme {
    association: i32,
    token_a: String,
    thandi: i32,
    kenji: i32,
    round: String,
}

fn member(external_id: &str, email: &str, name: &str, country: &str) -> Value {
    fixtures::member_row(external_id, email, name, country)
}

async fn setup(app: &TestApp) -> Programme {
    let q = "mutation($input: CreateAssociationInput!) { createAssociation(input: $input) { association { id } } }";
    let data = app.data(q, json!({ "input": { "name": "Library Association A", "countryCode": "ZA" } })).await;
    let id = data["createAssociation"]["association"]["id"].as_str().unwrap_or_default().to_owned();
    let association = interlib::domain::GlobalId::decode_int("id", &id, NodeKind::Association).expect("id");
    let token_a = app.token(Role::Association, &[], Some(association), None);
    synced(
        app,
        &token_a,
        association,
        "UPSERT",
        json!([
            member("A1", "thandi@example.net", "Thandi Zulu", "ZA"),
            member("A2", "sipho@example.net", "Sipho Dube", "ZA")
        ]),
    )
    .await;
    let create = "mutation($input: CreateLibrarianInput!) { createLibrarian(input: $input) { librarian { id } userErrors { code } } }";
    let mut others = Vec::new();
    for (name, email, country) in
        [("Kenji Sato", "kenji@example.net", "JP"), ("Marie Curie", "marie@example.net", "FR")]
    {
        let data = app
            .data(
                create,
                json!({ "input": { "fullName": name, "email": email, "countryCode": country, "sector": "ACADEMIC",
                    "languages": ["en"] } }),
            )
            .await;
        let id = data["createLibrarian"]["librarian"]["id"].as_str().unwrap_or_default().to_owned();
        others.push(interlib::domain::GlobalId::decode_int("id", &id, NodeKind::Librarian).expect("id"));
    }
    let by_email = |email: &'static str| {
        let db = app.db.clone();
        async move {
            use sea_orm::{ColumnTrait, QueryFilter};
            librarian::Entity::find()
                .filter(librarian::Column::Email.eq(email))
                .one(&db)
                .await
                .expect("query")
                .expect("librarian")
                .id
        }
    };
    let thandi = by_email("thandi@example.net").await;
    let create_round = "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id } } }";
    let data = app
        .data(
            create_round,
            json!({ "input": { "name": "Round 2027/1", "applicationsOpenAt": "2027-01-04T00:00:00Z",
                "applicationsCloseAt": "2027-02-01T00:00:00Z", "startsAt": "2027-02-15T00:00:00Z",
                "endsAt": "2027-06-15T00:00:00Z", "countryShare": null } }),
        )
        .await;
    let round = data["createRound"]["round"]["id"].as_str().unwrap_or_default().to_owned();
    Programme { association, token_a, thandi, kenji: others[0], round }
}

async fn step(app: &TestApp, mutation: &str, round: &str) {
    let body = app.round_step(mutation, round).await;
    assert_eq!(body["data"][mutation]["userErrors"], json!([]), "{mutation}: {body}");
    assert!(body.get("errors").is_none(), "{mutation}: {body}");
}

async fn apply_all(app: &TestApp, round: &str) {
    let apply = "mutation($input: ApplyToRoundInput!) { applyToRound(input: $input) { userErrors { code } } }";
    let people: Vec<i32> = librarian::Entity::find()
        .select_only()
        .column(librarian::Column::Id)
        .into_tuple()
        .all(&app.db)
        .await
        .expect("ids");
    for who in people {
        let data = app
            .data(apply, json!({ "input": { "roundId": round, "librarianId": gid(NodeKind::Librarian, who) } }))
            .await;
        assert_eq!(data["applyToRound"]["userErrors"], json!([]), "{data}");
    }
}

async fn add_topic(app: &TestApp, round: &str, title: &str, publish_at: &str) -> String {
    let q = "mutation($input: AddTopicInput!) { addTopic(input: $input) { topic { id } userErrors { code } } }";
    let data = app
        .data(
            q,
            json!({ "input": { "roundId": round, "title": title, "body": "Talk about it.", "publishAt": publish_at } }),
        )
        .await;
    data["addTopic"]["topic"]["id"].as_str().unwrap_or_default().to_owned()
}

/// Matches, re-matches (the first proposals are withdrawn) and confirms.
async fn match_and_confirm(app: &TestApp, round: &str) {
    let run = "mutation($input: RunMatchingInput!) { runMatching(input: $input) { userErrors { code } } }";
    step(app, "closeApplications", round).await;
    for _ in 0..2 {
        let data = app.data(run, json!({ "input": { "roundId": round } })).await;
        assert_eq!(data["runMatching"]["userErrors"], json!([]), "{data}");
    }
    step(app, "confirmPairings", round).await;
}

/// Thandi's pairing (as she sees it).
async fn pairing_of(app: &TestApp, token: &str) -> String {
    let q = "query { pairings(first: 5) { nodes { id status } } }";
    let body = app.graphql_as(Some(token), q, json!({})).await;
    body["data"]["pairings"]["nodes"][0]["id"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned()
}

async fn report(app: &TestApp, token: &str, pairing: &str) {
    let q = "mutation($input: ReportEngagementInput!) { reportEngagement(input: $input) { report { id } userErrors { code } } }";
    let body = app
        .graphql_as(
            Some(token),
            q,
            json!({ "input": { "pairingId": pairing, "met": true, "rating": 5, "comment": "Great" } }),
        )
        .await;
    assert_eq!(body["data"]["reportEngagement"]["userErrors"], json!([]), "{body}");
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn partners_follow_a_round_from_application_to_certificate_and_see_only_their_own() {
    let app = TestApp::spawn().await;
    let p = setup(&app).await;
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let ke = app.token(Role::Ambassador, &["KE"], None, None);
    let jp = app.token(Role::Ambassador, &["JP"], None, None);
    let thandi = app.token(Role::Librarian, &[], None, Some(p.thandi));
    let kenji = app.token(Role::Librarian, &[], None, Some(p.kenji));
    // Followers that read along from the start, stage by stage, and fresh ones at each stage.
    let mut followers: Vec<(String, Follower)> =
        [&p.token_a, &za, &ke, &jp, &thandi, &kenji].into_iter().map(|t| (t.clone(), Follower::default())).collect();

    step(&app, "openApplications", &p.round).await;
    apply_all(&app, &p.round).await;
    let published = add_topic(&app, &p.round, "Introduce yourselves", "2026-01-01T00:00:00Z").await;
    let later = add_topic(&app, &p.round, "Plans for next year", "2099-01-01T00:00:00Z").await;
    check(&app, &mut followers, "applications in").await;
    let view = follow(&app, &p.token_a).await;
    assert_eq!(kinds(&view, "Application").len(), 2, "its two members' applications, not the others'");
    assert!(view.contains_key(&published) && !view.contains_key(&later), "only the published topic");
    assert_eq!(kinds(&view, "Round"), std::slice::from_ref(&p.round));
    assert_eq!(kinds(&follow(&app, &jp).await, "Application").len(), 1, "Kenji's");
    // A librarian follows the topics of the rounds they applied to, even those announced
    // before they applied (behind their cursor).
    assert!(follow(&app, &thandi).await.contains_key(&published));
    let create = "mutation { createLibrarian(input: { fullName: \"Lola Reis\", email: \"lola@example.net\", \
                  countryCode: \"BR\", sector: PUBLIC, languages: [\"en\"] }) { librarian { id } } }";
    let lola =
        app.data(create, json!({})).await["createLibrarian"]["librarian"]["id"].as_str().unwrap_or_default().to_owned();
    let lola = app.token(
        Role::Librarian,
        &[],
        None,
        Some(interlib::domain::GlobalId::decode_int("id", &lola, NodeKind::Librarian).expect("id")),
    );
    let mut late = Follower::default();
    late.catch_up(&app, &lola, READING).await;
    assert!(!late.state.contains_key(&published), "not hers before she applies");
    let apply = "mutation($input: ApplyToRoundInput!) { applyToRound(input: $input) { userErrors { code } } }";
    let body = app.graphql_as(Some(&lola), apply, json!({ "input": { "roundId": p.round } })).await;
    assert_eq!(body["data"]["applyToRound"]["userErrors"], json!([]), "{body}");
    late.catch_up(&app, &lola, READING).await;
    assert!(late.state.contains_key(&published) && !late.state.contains_key(&later), "{:#?}", late.state);
    assert_eq!(late.state, visible(&app, &lola).await);
    check(&app, &mut followers, "a late applicant").await;

    match_and_confirm(&app, &p.round).await;
    let pairing = pairing_of(&app, &thandi).await;
    report(&app, &thandi, &pairing).await;
    check(&app, &mut followers, "paired").await;
    let view = follow(&app, &p.token_a).await;
    assert_eq!(view[&pairing]["status"], "ACTIVE", "{view:#?}");
    assert_eq!(kinds(&view, "EngagementReport").len(), 1, "Thandi's report");
    assert!(
        view[&pairing]["members"].as_array().expect("members").iter().all(|m| {
            let id = m["id"].as_str().unwrap_or_default();
            view.get(id).is_some_and(|l| l["__typename"] == "Librarian")
        }),
        "the association sees its members in the pairing, never a partner it does not look after"
    );
    assert!(!view.contains_key(&gid(NodeKind::Librarian, p.kenji)));
    // Partners follow each other's record, not each other's report or application.
    let theirs = follow(&app, &kenji).await;
    assert!(kinds(&theirs, "EngagementReport").is_empty());
    assert_eq!(kinds(&theirs, "Application").len(), 1);
    // Directory consent decides whether partners read the pairing's explanation: a partner
    // following along hears of the pairing again.
    let kenji_pairing = pairing_of(&app, &kenji).await;
    let q = "query($id: ID!) { pairing(id: $id) { members { id } } }";
    let members = app.data(q, json!({ "id": kenji_pairing })).await;
    let partner_id = members["pairing"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .find(|id| *id != gid(NodeKind::Librarian, p.kenji))
        .expect("a partner")
        .to_owned();
    let partner_token = app.token(
        Role::Librarian,
        &[],
        None,
        Some(interlib::domain::GlobalId::decode_int("id", &partner_id, NodeKind::Librarian).expect("id")),
    );
    let mut partner = Follower::default();
    partner.catch_up(&app, &partner_token, READING).await;
    let seen = partner.entities.len();
    let consent =
        "mutation($listed: Boolean!) { setDirectoryConsent(input: { listed: $listed }) { librarian { id } } }";
    app.graphql_as(Some(&kenji), consent, json!({ "listed": true })).await;
    partner.catch_up(&app, &partner_token, READING).await;
    assert!(partner.entities[seen..].contains(&kenji_pairing), "{:?}", &partner.entities[seen..]);
    assert_eq!(partner.state, visible(&app, &partner_token).await);
    check(&app, &mut followers, "consent").await;

    // Thandi moves to Kenya: the ZA ambassador's copy loses what she owns, the KE one's gains it.
    synced(&app, &p.token_a, p.association, "UPSERT", json!([member("A1", "thandi@example.net", "Thandi Zulu", "KE")]))
        .await;
    check(&app, &mut followers, "moved").await;
    let ke_view = follow(&app, &ke).await;
    assert_eq!(kinds(&ke_view, "Application").len(), 1);
    assert_eq!(kinds(&ke_view, "EngagementReport").len(), 1);
    assert!(ke_view.contains_key(&pairing));

    step(&app, "completeRound", &p.round).await;
    check(&app, &mut followers, "completed").await;
    // An association's claim on someone already in the network waits for their consent;
    // erasing them declines it, and the association hears of it.
    synced(&app, &p.token_a, p.association, "UPSERT", json!([member("A9", "kenji@example.net", "Kenji Sato", "JP")]))
        .await;
    let pending = follow(&app, &p.token_a).await;
    assert!(pending.values().any(|n| n["externalId"] == "A9" && n["consent"] == "PENDING"), "{pending:#?}");
    // The association then drops the claim (a full replace without it); the link stays
    // pending, deactivated.
    synced(
        &app,
        &p.token_a,
        p.association,
        "FULL_REPLACE",
        json!([
            member("A1", "thandi@example.net", "Thandi Zulu", "KE"),
            member("A2", "sipho@example.net", "Sipho Dube", "ZA")
        ]),
    )
    .await;
    check(&app, &mut followers, "claim dropped").await;
    let erase = "mutation($input: EraseLibrarianInput!) { eraseLibrarian(input: $input) { librarian { id } } }";
    app.data(erase, json!({ "input": { "librarianId": gid(NodeKind::Librarian, p.kenji) } })).await;
    // (Kenji's own token ends with his erasure.)
    followers.retain(|(token, _)| *token != kenji);
    check(&app, &mut followers, "erased").await;
    let after = follow(&app, &p.token_a).await;
    assert!(after.values().any(|n| n["externalId"] == "A9" && n["consent"] == "DECLINED"), "{after:#?}");
    let view = follow(&app, &p.token_a).await;
    assert_eq!(view[&pairing]["status"], "COMPLETED");
    assert!(!kinds(&view, "Certificate").is_empty(), "its members' certificates");
    assert_eq!(kinds(&follow(&app, &thandi).await, "Certificate").len(), 1, "her own only");
}

#[tokio::test]
async fn a_topic_is_announced_in_the_feed_when_its_publish_time_comes() {
    let app = TestApp::spawn_with(|s| s.topic_poll_ms = 50).await;
    let p = setup(&app).await;
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1_500)).to_rfc3339();
    let mut follower = Follower::default();
    follower.catch_up(&app, &za, READING).await;
    let topic = add_topic(&app, &p.round, "Soon", &soon).await;
    follower.catch_up(&app, &za, READING).await;
    assert!(!follower.state.contains_key(&topic), "not before its time");
    // Admins follow it from the start.
    assert!(follow(&app, &app.token(Role::Admin, &[], None, None)).await.contains_key(&topic));
    for _ in 0..100 {
        follower.catch_up(&app, &za, READING).await;
        if follower.state.contains_key(&topic) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(follower.state[&topic]["title"], "Soon", "announced once published");
    let count = discussion_topic::Entity::find().all(&app.db).await.expect("topics");
    assert!(count.iter().all(|t| t.announced_at.is_some_and(|at| at >= t.publish_at)));
}

#[tokio::test]
async fn followers_running_alongside_a_round_end_with_exactly_what_they_may_see() {
    let app = Arc::new(TestApp::spawn().await);
    let p = setup(&app).await;
    let tokens = [
        p.token_a.clone(),
        app.token(Role::Ambassador, &["ZA"], None, None),
        app.token(Role::Ambassador, &["KE"], None, None),
        app.token(Role::Librarian, &[], None, Some(p.thandi)),
    ];
    let done = Arc::new(AtomicBool::new(false));
    let followers: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (app, token, done) = (app.clone(), token.clone(), done.clone());
            tokio::spawn(async move {
                let mut follower = Follower::default();
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    if follower.step(&app, &token, READING).await && finished {
                        return follower;
                    }
                }
            })
        })
        .collect();
    let programme = {
        let (app, round) = (app.clone(), p.round.clone());
        async move {
            step(&app, "openApplications", &round).await;
            apply_all(&app, &round).await;
            add_topic(&app, &round, "Introduce yourselves", "2026-01-01T00:00:00Z").await;
            match_and_confirm(&app, &round).await;
        }
    };
    let syncs = {
        let (app, token, a) = (app.clone(), p.token_a.clone(), p.association);
        async move {
            for turn in 0..6 {
                let country = if turn % 2 == 0 { "KE" } else { "ZA" };
                let list = json!([member("A1", "thandi@example.net", &format!("Thandi Zulu {turn}"), country)]);
                synced(&app, &token, a, "UPSERT", list).await;
            }
        }
    };
    futures::join!(programme, syncs);
    done.store(true, Ordering::SeqCst);
    for (token, follower) in tokens.iter().zip(followers) {
        let follower = follower.await.expect("follower");
        assert_eq!(follower.state, visible(&app, token).await, "after {} events", follower.events);
    }
}

#[tokio::test]
async fn an_association_webhook_delivers_its_members_applications() {
    let app = TestApp::spawn_with(|s| {
        s.webhooks_enabled = true;
        s.webhook_poll_ms = 50;
        s.webhook_allow_private_networks = true;
    })
    .await;
    let p = setup(&app).await;
    let (url, received) = crate::webhooks::receiver(vec![200]).await;
    let body = app
        .graphql_as(
            Some(&p.token_a),
            crate::webhooks::REGISTER,
            json!({ "input": { "associationId": gid(NodeKind::Association, p.association), "url": url,
                "entityTypes": ["APPLICATION", "PAIRING"] } }),
        )
        .await;
    assert_eq!(body["data"]["registerWebhook"]["userErrors"], json!([]), "{body}");
    step(&app, "openApplications", &p.round).await;
    apply_all(&app, &p.round).await;
    crate::webhooks::wait_for("two applications delivered", || {
        let got = received.lock().expect("lock");
        got.iter().map(|r| r.body.matches("\"entityType\":\"Application\"").count()).sum::<usize>() >= 2
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = received.lock().expect("lock").clone();
    let delivered: usize = got.iter().map(|r| r.body.matches("\"entityType\":\"Application\"").count()).sum();
    assert_eq!(delivered, 2, "its two members' applications only: {got:?}");
    assert!(got.iter().all(|r| !r.body.contains("\"entityType\":\"Round\"")), "only the kinds it asked for");
}
