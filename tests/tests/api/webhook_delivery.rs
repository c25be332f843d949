//! Webhook delivery as the deliverer does it, driven by each test itself (the server's own
//! deliverer is off): several processes on one database cut each batch once, never have
//! two pending deliveries of a webhook, and do not send again what another one sent; and
//! at delivery time nothing reaches a private address, by redirect or by name.

use std::collections::HashSet;
use std::time::Duration;

use entities::{webhook, webhook_delivery};
use interlib::auth::Role;
use interlib::domain::{GlobalId, NodeKind};
use interlib::service::webhooks::{self, DelivererConfig};
use interlib::settings::Settings;
use interlib_tests::{TestApp, fixtures};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::gid;
use crate::sync::synced;
use crate::webhooks::{REGISTER, receiver, wait_for};

/// A server whose registrations accept the tests' receivers on 127.0.0.1.
async fn app() -> TestApp {
    TestApp::spawn_with(|s| s.webhook_allow_private_networks = true).await
}

fn config(batch_size: u64) -> DelivererConfig {
    DelivererConfig {
        poll: Duration::from_millis(10),
        // Long enough that a failed attempt is not retried within a test.
        retry_base: Duration::from_secs(60),
        max_attempts: 5,
        timeout: Duration::from_secs(5),
        batch_size,
        // The receiver is on 127.0.0.1.
        allow_private_networks: true,
    }
}

/// Registers a webhook of LIASA's for `url`; its key and the association token.
async fn register(app: &TestApp, url: &str) -> (i32, String, i32) {
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let input = json!({ "associationId": gid(NodeKind::Association, net.liasa), "url": url });
    let body = app.graphql_as(Some(&liasa), REGISTER, json!({ "input": input })).await;
    let id = body["data"]["registerWebhook"]["webhook"]["id"].as_str().expect("webhook id");
    let id = GlobalId::decode_int("id", id, NodeKind::Webhook).expect("a webhook id");
    (id, liasa, net.liasa)
}

/// Syncs `n` new members (two events each: the librarian and the membership).
async fn new_members(app: &TestApp, token: &str, association: i32, from: usize, n: usize) {
    let members: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({ "externalId": format!("DL-{i}"), "email": format!("m{i}@liasa.example"),
                         "fullName": format!("Member {i}"), "countryCode": "ZA" })
        })
        .collect();
    synced(app, token, association, "UPSERT", json!(members)).await;
}

async fn hook(db: &DatabaseConnection, id: i32) -> webhook::Model {
    webhook::Entity::find_by_id(id).one(db).await.expect("read").expect("the webhook")
}

async fn deliveries(db: &DatabaseConnection, hook: i32) -> Vec<webhook_delivery::Model> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(hook))
        .order_by_asc(webhook_delivery::Column::Id)
        .all(db)
        .await
        .expect("deliveries")
}

#[tokio::test]
async fn a_delivery_read_before_another_process_sent_it_is_not_sent_again() {
    let app = app().await;
    let (url, received) = receiver(vec![200]).await;
    let (hook_id, liasa, association) = register(&app, &url).await;
    new_members(&app, &liasa, association, 1, 2).await;
    let config = config(100);
    let client = webhooks::client(&config).expect("client");
    assert!(webhooks::cut(&app.db, &config, &hook(&app.db, hook_id).await).await.expect("cut").is_some());

    // Process A reads the due deliveries; process B sends them meanwhile.
    let stale = webhooks::due(&app.db).await.expect("due");
    assert_eq!(stale.len(), 1);
    webhooks::tick(&app.db, &client, &config).await.expect("tick");
    assert_eq!(received.lock().expect("lock").len(), 1);
    // A goes on with what it read: the delivery is no longer pending, nothing is sent.
    for delivery in stale {
        webhooks::attempt(&app.db, &client, &config, delivery).await.expect("attempt");
    }
    assert_eq!(received.lock().expect("lock").len(), 1, "a delivered batch was sent again");
    let all = deliveries(&app.db, hook_id).await;
    assert_eq!(all.iter().map(|d| (d.status.as_str(), d.attempts)).collect::<Vec<_>>(), [("SUCCEEDED", 1)]);
}

#[tokio::test]
async fn a_webhook_with_a_pending_delivery_gets_no_second_one_whoever_read_it_when() {
    let app = app().await;
    // The receiver fails: the first delivery stays pending, to be retried in a minute.
    let (url, received) = receiver(vec![500]).await;
    let (hook_id, liasa, association) = register(&app, &url).await;
    new_members(&app, &liasa, association, 1, 2).await;
    let config = config(100);
    let client = webhooks::client(&config).expect("client");
    webhooks::tick(&app.db, &client, &config).await.expect("tick");
    assert_eq!(received.lock().expect("lock").len(), 1);
    // New events, and a process that reads the webhook now (its cursor after the first
    // batch) and cuts: the pending delivery stops it.
    new_members(&app, &liasa, association, 3, 1).await;
    let fresh = hook(&app.db, hook_id).await;
    assert_eq!(webhooks::cut(&app.db, &config, &fresh).await.expect("cut"), None);
    let all = deliveries(&app.db, hook_id).await;
    assert_eq!(all.iter().map(|d| d.status.as_str()).collect::<Vec<_>>(), ["PENDING"]);
    // The cursor did not move past the events of the second sync.
    assert_eq!(hook(&app.db, hook_id).await.cursor, fresh.cursor);
}

#[tokio::test]
async fn two_deliverers_on_one_database_send_every_batch_once_in_order() {
    let app = app().await;
    let (url, received) = receiver(vec![200]).await;
    let (hook_id, liasa, association) = register(&app, &url).await;
    // A second process: its own connection pool on the same database.
    let mut settings = Settings::for_database(&app.database.url);
    settings.migrate_on_start = false;
    let (other_db, _) = interlib::db::connect(&settings).await.expect("second pool");
    let config = config(3);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deliverers: Vec<_> = [app.db.clone(), other_db.clone()]
        .into_iter()
        .map(|db| {
            let (config, stop) = (config.clone(), stop.clone());
            tokio::spawn(async move {
                let client = webhooks::client(&config).expect("client");
                let mut pending_seen = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    webhooks::tick(&db, &client, &config).await.expect("a deliverer's round");
                    let pending = webhook_delivery::Entity::find()
                        .filter(webhook_delivery::Column::Status.eq("PENDING"))
                        .count(&db)
                        .await
                        .expect("count");
                    pending_seen = pending_seen.max(pending);
                }
                pending_seen
            })
        })
        .collect();
    let feed = || async {
        let body = app.graphql_as(Some(&liasa), "{ changes(first: 1000) { events { cursor } } }", json!({})).await;
        let events = body["data"]["changes"]["events"].as_array().cloned().unwrap_or_default();
        events.iter().filter_map(|e| e["cursor"].as_str().map(str::to_owned)).collect::<Vec<_>>()
    };
    let before = feed().await.len();
    // Writes arrive while both deliver: 10 syncs of 3 members, 60 events.
    for round in 0..10 {
        new_members(&app, &liasa, association, 1 + round * 3, 3).await;
    }
    let expected: Vec<String> = feed().await.split_off(before);
    assert_eq!(expected.len(), 60);
    let sent = || -> Vec<String> {
        received
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|r| {
                let body: Value = serde_json::from_str(&r.body).expect("JSON");
                body["events"].as_array().cloned().unwrap_or_default()
            })
            .filter_map(|e| e["cursor"].as_str().map(str::to_owned))
            .collect()
    };
    wait_for("every event delivered", || sent().len() >= expected.len()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for deliverer in deliverers {
        assert!(deliverer.await.expect("deliverer") <= 1, "a webhook had two pending deliveries at once");
    }
    // Every event once, in the feed's order; every delivery sent once.
    assert_eq!(sent(), expected);
    let requests = received.lock().expect("lock").clone();
    let ids: HashSet<String> = requests
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).expect("JSON")["deliveryId"].to_string())
        .collect();
    assert_eq!(ids.len(), requests.len(), "a delivery was sent twice");
    let all = deliveries(&app.db, hook_id).await;
    assert!(all.iter().all(|d| d.status == "SUCCEEDED" && d.attempts == 1), "{all:?}");
    assert!(all.windows(2).all(|w| w[1].first_cursor > w[0].last_cursor), "batches overlap: {all:?}");
}

/// A receiver that redirects every request to `to` (307, which would repeat the POST).
async fn redirector(to: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let reply =
        format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 65536];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let app = app().await;
    let (target, reached) = receiver(vec![200]).await;
    let (hook_id, liasa, association) = register(&app, &redirector(&target).await).await;
    new_members(&app, &liasa, association, 1, 1).await;
    let config = config(100);
    webhooks::tick(&app.db, &webhooks::client(&config).expect("client"), &config).await.expect("tick");
    assert!(reached.lock().expect("lock").is_empty(), "the redirect was followed");
    let all = deliveries(&app.db, hook_id).await;
    assert_eq!((all[0].status.as_str(), all[0].last_status_code), ("PENDING", Some(307)), "{all:?}");
    assert!(all[0].last_error.as_deref().unwrap_or_default().contains("307"), "{all:?}");
}

#[tokio::test]
async fn at_delivery_nothing_goes_to_a_private_address_registered_under_other_settings() {
    // Registered while private networks were allowed (a single-host setup); delivered by
    // a process that does not allow them.
    let app = app().await;
    let (url, received) = receiver(vec![200]).await;
    let (hook_id, liasa, association) = register(&app, &url).await;
    new_members(&app, &liasa, association, 1, 1).await;
    let strict = DelivererConfig { allow_private_networks: false, ..config(100) };
    webhooks::tick(&app.db, &webhooks::client(&strict).expect("client"), &strict).await.expect("tick");
    assert!(received.lock().expect("lock").is_empty());
    let all = deliveries(&app.db, hook_id).await;
    let error = all[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("must not point at a private or loopback address"), "{all:?}");
}

#[tokio::test]
async fn at_delivery_a_host_name_is_resolved_to_public_addresses_only() {
    // This machine's own name: it resolves to a loopback or private address, and is not
    // `localhost` (which registration refuses by name).
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_owned();
    let private = match tokio::net::lookup_host((host.as_str(), 0)).await {
        Ok(found) => {
            let found: Vec<_> = found.collect();
            !found.is_empty() && found.iter().all(|a| webhooks::is_private(a.ip()) && a.ip().is_ipv4())
        }
        Err(_) => false,
    };
    if host.is_empty() || host == "localhost" || !private {
        eprintln!("skipped: this machine's name ({host:?}) does not resolve to a private IPv4 address");
        return;
    }
    let app = app().await;
    let (url, received) = receiver(vec![200]).await;
    let url = url.replace("127.0.0.1", &host);
    let (hook_id, liasa, association) = register(&app, &url).await;
    new_members(&app, &liasa, association, 1, 1).await;
    let strict = DelivererConfig { allow_private_networks: false, ..config(100) };
    webhooks::tick(&app.db, &webhooks::client(&strict).expect("client"), &strict).await.expect("tick");
    assert!(received.lock().expect("lock").is_empty(), "a request reached a private address");
    let all = deliveries(&app.db, hook_id).await;
    assert_eq!(all[0].last_error.as_deref(), Some("the receiver's host name resolves to private addresses only"));
    // The same client without the filter reaches the receiver by that name: the refusal
    // was the resolver's.
    let open = DelivererConfig { allow_private_networks: true, ..config(100) };
    let res = webhooks::client(&open).expect("client").post(&url).body("{}").send().await.expect("reached");
    assert_eq!(res.status(), 200);
    assert_eq!(received.lock().expect("lock").len(), 1);
}
