//! Subscriptions over graphql-transport-ws: authenticated at `connection_init`, filtered by
//! the caller's policy, fed by writes made through the API.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, fixtures};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::gid;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection.
struct Client(Socket);

impl Client {
    /// Connects and sends `connection_init` with `payload`.
    async fn connect(app: &TestApp, payload: Value) -> Self {
        let mut request = format!("ws://127.0.0.1:{}/graphql", app.port).into_client_request().expect("request");
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("WebSocket");
        assert_eq!(
            response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        let mut client = Self(socket);
        client.send(json!({ "type": "connection_init", "payload": payload })).await;
        client
    }

    async fn authenticated(app: &TestApp, token: &str) -> Self {
        let mut client = Self::connect(app, json!({ "Authorization": format!("Bearer {token}") })).await;
        assert_eq!(client.next().await["type"], "connection_ack");
        client
    }

    async fn send(&mut self, message: Value) {
        self.0.send(Message::text(message.to_string())).await.expect("sent");
    }

    async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } })).await;
    }

    /// The next protocol message (pings answered), or `{"closed": code}`.
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("a message within 10 s")
                .expect("the socket is open");
            match message {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return value;
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or_default();
                    return json!({ "closed": code, "reason": reason });
                }
                Ok(_) => {}
                Err(err) => return json!({ "error": err.to_string() }),
            }
        }
    }

    /// Whether no message arrives within `wait`.
    async fn quiet_for(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.0.next()).await {
            Err(_) => true,
            Ok(message) => {
                eprintln!("unexpected: {message:?}");
                false
            }
        }
    }
}

async fn mutate(app: &TestApp, query: &str, variables: Value) -> Value {
    let data = app.data(query, variables).await;
    assert!(data.to_string().contains("\"userErrors\":[]"), "{data}");
    data
}

#[tokio::test]
async fn front_ends_follow_rounds_pairings_and_changes_live() {
    let app = TestApp::spawn_with(|s| s.subscription_poll_ms = 50).await;
    let net = fixtures::network(&app.db).await;
    let mut admin = Client::authenticated(&app, &app.admin).await;
    admin.subscribe("rounds", "subscription { roundStatusChanged { id name status } }").await;
    admin.subscribe("pairings", "subscription { pairingUpdated { id status members { fullName } } }").await;
    admin.subscribe("changes", "subscription { changes(entityTypes: [LIBRARIAN]) { entityType operation } }").await;
    // The ambassador of South Africa sees pairings with a South African in them; the one of
    // Australia does not see this one.
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let au = app.token(Role::Ambassador, &["AU"], None, None);
    let mut south_africa = Client::authenticated(&app, &za).await;
    south_africa.subscribe("p", "subscription { pairingUpdated { id status } }").await;
    let mut australia = Client::authenticated(&app, &au).await;
    australia.subscribe("p", "subscription { pairingUpdated { id status } }").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let round = gid(NodeKind::Round, net.round2);
    mutate(
        &app,
        "mutation($id: ID!) { cancelRound(input: { roundId: $id }) { userErrors { code } } }",
        json!({ "id": round }),
    )
    .await;
    // Two subscriptions of one socket: each hears its own, in whichever order they come.
    let mut heard = std::collections::HashMap::new();
    for _ in 0..2 {
        let update = admin.next().await;
        assert_eq!(update["type"], "next", "{update}");
        heard.insert(update["id"].as_str().unwrap_or_default().to_owned(), update["payload"]["data"].clone());
    }
    let changed = &heard["rounds"]["roundStatusChanged"];
    assert_eq!((changed["status"].as_str(), changed["id"].as_str()), (Some("CANCELLED"), Some(round.as_str())));

    // Cancelling the round dissolved its pairing (the trio of Ada, Farida and Grace).
    let pairing = &heard["pairings"]["pairingUpdated"];
    assert_eq!(
        (pairing["id"].as_str(), pairing["status"].as_str()),
        (Some(gid(NodeKind::Pairing, net.pairing_trio).as_str()), Some("DISSOLVED"))
    );
    assert_eq!(pairing["members"].as_array().map(Vec::len), Some(3));
    let seen = south_africa.next().await;
    assert_eq!(seen["payload"]["data"]["pairingUpdated"]["status"], "DISSOLVED", "{seen}");
    assert!(australia.quiet_for(Duration::from_millis(600)).await, "not Australia's to see");

    let create = "mutation { createLibrarian(input: { fullName: \"Zanele Dube\", email: \"zanele@example.org\", \
                  countryCode: \"ZA\", sector: PUBLIC, languages: [\"en\"], listedInDirectory: true }) \
                  { userErrors { code } } }";
    mutate(&app, create, json!({})).await;
    let update = admin.next().await;
    assert_eq!(update["id"], "changes", "{update}");
    assert_eq!(update["payload"]["data"]["changes"], json!({ "entityType": "LIBRARIAN", "operation": "UPSERT" }));

    // Completing a subscription ends it.
    admin.send(json!({ "id": "changes", "type": "complete" })).await;
    assert_eq!(admin.next().await, json!({ "type": "complete", "id": "changes" }));
    mutate(&app, create.replace("zanele@", "zanele.d@").as_str(), json!({})).await;
    assert!(admin.quiet_for(Duration::from_millis(600)).await, "no more changes after complete");
}

#[tokio::test]
async fn a_bad_token_closes_the_connection_and_the_feed_needs_one() {
    let app = TestApp::spawn_with(|s| s.subscription_poll_ms = 50).await;
    // The connection closes before any subscription starts (async-graphql closes with
    // 1002 and the reason, where the protocol's text suggests 4403).
    let mut client = Client::connect(&app, json!({ "Authorization": "Bearer not-a-token" })).await;
    let closed = client.next().await;
    assert_eq!(closed["closed"], 1002, "{closed}");
    assert!(closed["reason"].as_str().is_some_and(|r| r.starts_with("unauthenticated")), "{closed}");

    let mut anonymous = Client::connect(&app, json!({})).await;
    assert_eq!(anonymous.next().await["type"], "connection_ack");
    anonymous.subscribe("1", "subscription { changes { entityType } }").await;
    let answer = anonymous.next().await;
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(anonymous.next().await["type"], "complete");
    // Limits apply to subscriptions too.
    let deep = "subscription { pairingUpdated { round { pairings { nodes { round { pairings { nodes { round { pairings { nodes { round { pairings { nodes { id } } } } } } } } } } } } } }";
    anonymous.subscribe("2", deep).await;
    let answer = anonymous.next().await;
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX", "{answer}");
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["limit"], "depth");
}

#[tokio::test]
async fn a_subscription_is_charged_to_the_callers_budget() {
    let app = TestApp::spawn_with(|s| s.rate_limit.points = 18).await;
    let mut admin = Client::authenticated(&app, &app.admin).await;
    // 1 + 3 fields: 4 points each; the budget is the admin's, shared with queries. Four fit
    // in 18 points, the fifth does not: whichever the server starts last is refused, and
    // only once the other four were charged (the protocol acknowledges no subscribe, so
    // the refusal is what tells that all five were taken).
    let query = "subscription { roundStatusChanged { id name status } }";
    let ids = ["a", "b", "c", "d", "e"];
    for id in ids {
        admin.subscribe(id, query).await;
    }
    let answer = admin.next().await;
    assert!(ids.contains(&answer["id"].as_str().unwrap_or_default()), "{answer}");
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{answer}");
    let body = app.graphql("{ rateLimit { used } }", json!({})).await;
    assert_eq!(body["data"]["rateLimit"]["used"], 18, "four subscriptions (16) and this query (2)");
}

/// Waits for the socket to close; the close, and the events that came before it.
async fn closed_after(client: &mut Client) -> (Value, Vec<Value>) {
    let mut events = Vec::new();
    loop {
        let message = client.next().await;
        if message.get("closed").is_some() || message.get("error").is_some() {
            return (message, events);
        }
        events.push(message);
    }
}

#[tokio::test]
async fn a_caller_who_is_gone_has_the_socket_closed_with_4403() {
    let app = TestApp::spawn_with(|s| {
        s.subscription_poll_ms = 50;
        s.subscription_recheck_ms = 100;
        s.auth_leeway_secs = 0;
    })
    .await;
    let net = fixtures::network(&app.db).await;
    let subscribe = "subscription { pairingUpdated { id status } }";

    // A librarian erased while subscribed.
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let mut librarian = Client::authenticated(&app, &ada).await;
    librarian.subscribe("p", subscribe).await;
    // An ambassador whose term ends.
    let bongani = app.token(Role::Ambassador, &["ZA"], None, Some(net.bongani));
    let mut ambassador = Client::authenticated(&app, &bongani).await;
    ambassador.subscribe("p", subscribe).await;
    ambassador.subscribe("c", "subscription { changes(entityTypes: [LIBRARIAN]) { entity } }").await;
    // A token that expires (in two seconds, without leeway).
    let scope = interlib::auth::TokenScope { countries: vec![], association: None, librarian: None };
    let claims = interlib::auth::Claims::for_role(
        Role::Admin,
        &scope,
        None,
        Duration::from_secs(2),
        app.keys.issuer(),
        app.keys.audience(),
    )
    .expect("claims");
    let short = app.keys.mint(&claims).expect("token");
    let mut expiring = Client::authenticated(&app, &short).await;
    expiring.subscribe("p", subscribe).await;
    // Someone who stays, to show the events still flow.
    let mut admin = Client::authenticated(&app, &app.admin).await;
    admin.subscribe("p", subscribe).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let erase = "mutation($id: ID!) { eraseLibrarian(input: { librarianId: $id }) { userErrors { code } } }";
    mutate(&app, erase, json!({ "id": gid(NodeKind::Librarian, net.ada) })).await;
    let (closed, events) = closed_after(&mut librarian).await;
    assert_eq!((closed["closed"].as_u64(), events.len()), (Some(4403), 0), "{closed} after {events:?}");
    assert!(closed["reason"].as_str().is_some_and(|r| r.starts_with("Forbidden")), "{closed}");

    // The erasure changed how Ada's two pairings read (a member's name): both admins hear of
    // both (the short token has not expired yet).
    let mut ada_pairings =
        vec![gid(NodeKind::Pairing, net.pairing_ada_carmen), gid(NodeKind::Pairing, net.pairing_trio)];
    ada_pairings.sort();
    for client in [&mut admin, &mut expiring] {
        let mut heard = Vec::new();
        for _ in 0..2 {
            let update = client.next().await;
            heard.push(update["payload"]["data"]["pairingUpdated"]["id"].as_str().unwrap_or_default().to_owned());
        }
        heard.sort();
        assert_eq!(heard, ada_pairings);
    }
    // The erasure changed how the trio's pairing reads (a member's name): the ZA ambassador,
    // who sees Grace's pairing, hears of it while still in office.
    let seen = ambassador.next().await;
    assert_eq!(seen["id"], "p", "{seen}");
    assert_eq!(seen["payload"]["data"]["pairingUpdated"]["id"], gid(NodeKind::Pairing, net.pairing_trio));
    let data = app.data("{ country(code: \"ZA\") { ambassadors { id } } }", json!({})).await;
    let term = data["country"]["ambassadors"][0]["id"].clone();
    let end = "mutation($id: ID!) { endAmbassador(input: { ambassadorId: $id }) { userErrors { code } } }";
    mutate(&app, end, json!({ "id": term })).await;
    // A write the ambassador would have seen comes at once after the end of the term: it
    // is never delivered, whatever the timing of the periodic check.
    let create = "mutation { createLibrarian(input: { fullName: \"Zanele Dube\", email: \"zanele@example.org\", \
                  countryCode: \"ZA\", sector: PUBLIC, languages: [\"en\"] }) { userErrors { code } } }";
    mutate(&app, create, json!({})).await;
    let (closed, events) = closed_after(&mut ambassador).await;
    assert_eq!((closed["closed"].as_u64(), events.len()), (Some(4403), 0), "{closed} after {events:?}");

    // The round is cancelled once the token has expired (its `exp` is in whole seconds and
    // holds through its last second, so past 3 s after minting): that event reaches the
    // admin, never the expired token's socket, which is closed.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let cancel = "mutation($id: ID!) { cancelRound(input: { roundId: $id }) { userErrors { code } } }";
    mutate(&app, cancel, json!({ "id": gid(NodeKind::Round, net.round2) })).await;
    assert_eq!(admin.next().await["payload"]["data"]["pairingUpdated"]["status"], "DISSOLVED");
    let (closed, events) = closed_after(&mut expiring).await;
    assert_eq!((closed["closed"].as_u64(), events.len()), (Some(4403), 0), "{closed} after {events:?}");
    assert!(closed["reason"].as_str().is_some_and(|r| r.contains("expired")), "{closed}");
}

#[tokio::test]
async fn an_association_follows_its_members_applications_live_and_no_one_elses() {
    let app = TestApp::spawn_with(|s| s.subscription_poll_ms = 50).await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let mut association = Client::authenticated(&app, &liasa).await;
    association
        .subscribe(
            "apps",
            "subscription { changes(entityTypes: [APPLICATION]) { entityType node { ... on Application { status } } } }",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let create = "mutation { createRound(input: { name: \"Round 2027/2\", applicationsOpenAt: \"2027-07-01T00:00:00Z\", \
                  applicationsCloseAt: \"2027-08-01T00:00:00Z\", startsAt: \"2027-08-15T00:00:00Z\", \
                  endsAt: \"2027-12-15T00:00:00Z\" }) { round { id } userErrors { code } } }";
    let data = mutate(&app, create, json!({})).await;
    let round = data["createRound"]["round"]["id"].as_str().unwrap_or_default().to_owned();
    mutate(
        &app,
        "mutation($id: ID!) { openApplications(input: { roundId: $id }) { userErrors { code } } }",
        json!({ "id": round }),
    )
    .await;
    let apply = "mutation($round: ID!, $who: ID!) { applyToRound(input: { roundId: $round, librarianId: $who }) \
                 { userErrors { code } } }";
    // Carmen is not LIASA's; Bongani is.
    for who in [net.carmen, net.bongani] {
        mutate(&app, apply, json!({ "round": round, "who": gid(NodeKind::Librarian, who) })).await;
    }
    let update = association.next().await;
    assert_eq!(update["id"], "apps", "{update}");
    assert_eq!(
        update["payload"]["data"]["changes"],
        json!({ "entityType": "APPLICATION", "node": { "status": "SUBMITTED" } })
    );
    assert!(association.quiet_for(Duration::from_millis(600)).await, "Carmen's application is not LIASA's");
}

#[tokio::test]
async fn a_new_subscriber_hears_of_changes_made_after_it_and_only_those() {
    let app = TestApp::spawn_with(|s| s.subscription_poll_ms = 50).await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    // A round written by a replica whose clock runs a day ahead.
    use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set};
    let ahead = chrono::Utc::now() + chrono::Duration::days(1);
    let skewed = entities::round::ActiveModel {
        id: NotSet,
        name: Set("Skewed".to_owned()),
        status: Set("DRAFT".to_owned()),
        applications_open_at: Set(ahead),
        applications_close_at: Set(ahead + chrono::Duration::days(30)),
        starts_at: Set(ahead + chrono::Duration::days(40)),
        ends_at: Set(ahead + chrono::Duration::days(90)),
        country_share: Set(None),
        created_at: Set(ahead),
        updated_at: Set(ahead),
    }
    .insert(&app.db)
    .await
    .expect("round");
    let mut admin = Client::authenticated(&app, &app.admin).await;
    admin.subscribe("rounds", "subscription { roundStatusChanged { name status } }").await;
    admin.subscribe("pairings", "subscription { pairingUpdated { id } }").await;
    assert!(admin.quiet_for(Duration::from_millis(800)).await, "nothing changed since it subscribed");
    mutate(
        &app,
        "mutation($id: ID!) { openApplications(input: { roundId: $id }) { userErrors { code } } }",
        json!({ "id": gid(NodeKind::Round, skewed.id) }),
    )
    .await;
    let update = admin.next().await;
    assert_eq!(update["payload"]["data"]["roundStatusChanged"], json!({ "name": "Skewed", "status": "OPEN" }));
    assert!(admin.quiet_for(Duration::from_millis(600)).await, "once");
}
