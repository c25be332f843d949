//! Signed webhooks: batches of change events POSTed to a receiver on 127.0.0.1, retried
//! with back-off, with their delivery state in the API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::gid;
use crate::sync::synced;

/// One request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 receiver: answers the statuses in `script` in turn (the last one
/// from then on) and records every request.
pub(crate) async fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let log: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head_end, length) = loop {
                let Ok(n) = socket.read(&mut chunk).await else { break (0, 0) };
                if n == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                        .unwrap_or(0);
                    break (end + 4, length);
                }
            };
            if head_end == 0 {
                continue;
            }
            while buf.len() < head_end + length {
                let Ok(n) = socket.read(&mut chunk).await else { break };
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
                .collect();
            let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
            let status = {
                let mut log = seen.lock().expect("lock");
                log.push(Received { headers, body });
                script.get(log.len() - 1).or(script.last()).copied().unwrap_or(200)
            };
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, log)
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) const REGISTER: &str = "mutation($input: RegisterWebhookInput!) { registerWebhook(input: $input) {
  secret webhook { id url entityTypes active } userErrors { field code } } }";

const DELIVERIES: &str = "query($id: ID!) { node(id: $id) { ... on Webhook { deliveries(first: 10) { nodes {
  id status attempts eventCount firstCursor lastCursor lastStatusCode lastError nextAttemptAt deliveredAt } } } } }";

pub(crate) async fn wait_for<F: Fn() -> bool>(what: &str, done: F) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn events_are_delivered_signed_and_retried_until_the_receiver_accepts() {
    let app = TestApp::spawn_with(|s| {
        s.webhooks_enabled = true;
        s.webhook_poll_ms = 50;
        s.webhook_retry_base_ms = 50;
        s.webhook_max_attempts = 3;
        // The receiver is on 127.0.0.1.
        s.webhook_allow_private_networks = true;
    })
    .await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    // The receiver fails twice, then accepts.
    let (url, received) = receiver(vec![500, 503, 200]).await;
    let body = app
        .graphql_as(
            Some(&liasa),
            REGISTER,
            json!({ "input": { "associationId": gid(NodeKind::Association, net.liasa), "url": url } }),
        )
        .await;
    let payload = &body["data"]["registerWebhook"];
    let secret = payload["secret"].as_str().expect("a secret, shown once").to_owned();
    let webhook = payload["webhook"]["id"].as_str().expect("id").to_owned();
    assert_eq!(payload["webhook"]["active"], true);

    // A write of LIASA's and one of ALIA's: only LIASA's reaches LIASA's receiver.
    synced(
        &app,
        &liasa,
        net.liasa,
        "UPSERT",
        json!([{ "externalId": "ZA-9", "email": "zola@liasa.example",
        "fullName": "Zola Dube", "countryCode": "ZA" }]),
    )
    .await;
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    synced(
        &app,
        &alia,
        net.alia_assoc,
        "UPSERT",
        json!([{ "externalId": "AU-9", "email": "mia@alia.example",
        "fullName": "Mia Wong", "countryCode": "AU" }]),
    )
    .await;

    wait_for("three attempts", || received.lock().expect("lock").len() >= 3).await;
    let requests = received.lock().expect("lock").clone();
    // Every attempt is the same delivery, with the same body, correctly signed.
    let delivery = requests[0].header("interlib-delivery").expect("delivery id").to_owned();
    for request in &requests[..3] {
        assert_eq!(request.header("interlib-delivery"), Some(delivery.as_str()));
        assert_eq!(request.body, requests[0].body);
        let signature = request.header("interlib-signature").expect("signature");
        let (t, v1) = signature.split_once(",v1=").expect("t=..,v1=..");
        let t = t.strip_prefix("t=").expect("t=");
        assert_eq!(v1, hmac_hex(&secret, &format!("{t}.{}", request.body)), "the signature verifies");
        let age = chrono::Utc::now().timestamp() - t.parse::<i64>().expect("unix time");
        assert!((0..60).contains(&age));
        assert_ne!(hmac_hex("another secret", &format!("{t}.{}", request.body)), v1);
    }
    let body: Value = serde_json::from_str(&requests[0].body).expect("JSON body");
    assert_eq!(body["deliveryId"], delivery.as_str());
    assert_eq!(body["webhookId"], webhook.as_str());
    let events = body["events"].as_array().expect("events");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["entityType"].as_str()).collect();
    assert_eq!(kinds, ["Librarian", "Membership"], "{body:#}");
    // The events are the association's feed, with the same cursors.
    let feed = app.graphql_as(Some(&liasa), "{ changes(first: 1000) { events { cursor entity } } }", json!({})).await;
    let tail: Vec<Value> =
        feed["data"]["changes"]["events"].as_array().expect("events").iter().rev().take(2).rev().cloned().collect();
    assert_eq!(
        tail,
        events.iter().map(|e| json!({ "cursor": e["cursor"], "entity": e["entity"] })).collect::<Vec<_>>()
    );

    // The delivery state: succeeded on the third attempt.
    let state = app.graphql_as(Some(&liasa), DELIVERIES, json!({ "id": webhook })).await;
    let nodes = state["data"]["node"]["deliveries"]["nodes"].as_array().expect("deliveries").clone();
    assert_eq!(nodes.len(), 1, "{state:#}");
    let d = &nodes[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_i64(), d["lastStatusCode"].as_i64()),
        (Some("SUCCEEDED"), Some(3), Some(200)),
        "{d:#}"
    );
    assert_eq!((d["id"].as_str(), d["eventCount"].as_i64()), (Some(delivery.as_str()), Some(2)));
    assert!(d["nextAttemptAt"].is_null() && !d["deliveredAt"].is_null());
    // Nothing more is sent once accepted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_ends_in_failed_and_the_next_batch_follows() {
    let app = TestApp::spawn_with(|s| {
        s.webhooks_enabled = true;
        s.webhook_poll_ms = 50;
        s.webhook_retry_base_ms = 20;
        s.webhook_max_attempts = 2;
        s.webhook_allow_private_networks = true;
    })
    .await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let (url, received) = receiver(vec![500, 500, 200]).await;
    let input =
        json!({ "associationId": gid(NodeKind::Association, net.liasa), "url": url, "entityTypes": ["MEMBERSHIP"] });
    let body = app.graphql_as(Some(&liasa), REGISTER, json!({ "input": input })).await;
    let webhook = body["data"]["registerWebhook"]["webhook"]["id"].as_str().expect("id").to_owned();
    assert_eq!(body["data"]["registerWebhook"]["webhook"]["entityTypes"], json!(["MEMBERSHIP"]));
    synced(&app, &liasa, net.liasa, "UPSERT", json!([{ "externalId": "ZA-1", "active": false }])).await;
    wait_for("two failed attempts", || received.lock().expect("lock").len() >= 2).await;
    synced(&app, &liasa, net.liasa, "UPSERT", json!([{ "externalId": "ZA-1" }])).await;
    wait_for("the next batch", || received.lock().expect("lock").len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let state = app.graphql_as(Some(&liasa), DELIVERIES, json!({ "id": webhook })).await;
    let nodes = state["data"]["node"]["deliveries"]["nodes"].as_array().expect("deliveries").clone();
    let summary: Vec<(String, i64, i64)> = nodes
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap_or("").into(),
                d["attempts"].as_i64().unwrap_or(0),
                d["lastStatusCode"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    // Newest first: the reactivation delivered, the deactivation failed after two attempts.
    assert_eq!(summary, [("SUCCEEDED".into(), 1, 200), ("FAILED".into(), 2, 500)], "{state:#}");
    assert!(nodes[1]["lastError"].as_str().unwrap_or_default().contains("500"));
    let last: Value = serde_json::from_str(&received.lock().expect("lock")[2].body).expect("JSON");
    assert_eq!(last["events"][0]["operation"], "UPSERT");
    assert_eq!(last["events"].as_array().map(Vec::len), Some(1), "only MEMBERSHIP events: {last:#}");
}

#[tokio::test]
async fn webhooks_belong_to_their_association() {
    let app = TestApp::spawn_with(|s| s.webhooks_enabled = false).await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let input = |url: &str| json!({ "input": { "associationId": gid(NodeKind::Association, net.liasa), "url": url } });
    for token in [&alia, &za] {
        let body = app.graphql_as(Some(token), REGISTER, input("https://example.org/hook")).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body:#}");
    }
    // Not http(s), and (by default) nothing that reaches the network behind the API.
    for bad in [
        "ftp://example.org/x",
        "not a url",
        "",
        "http://127.0.0.1:5432/",
        "http://localhost:6379/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.1.1]/hook",
        // IPv4 inside IPv6 (compatible, NAT64, 6to4), site-local, benchmarking, reserved,
        // multicast: the whole IANA special-purpose registries.
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[2002:7f00:1::1]/hook",
        "http://[fec0::1]/hook",
        "http://198.18.0.1/hook",
        "http://240.0.0.1/hook",
        "http://224.0.0.251/hook",
        "http://[ff02::1]/hook",
    ] {
        let body = app.graphql_as(Some(&liasa), REGISTER, input(bad)).await;
        let code = &body["data"]["registerWebhook"]["userErrors"][0]["code"];
        assert!(code == "INVALID" || code == "BLANK", "{bad}: {body:#}");
    }
    let body = app.graphql_as(Some(&liasa), REGISTER, input("https://partner.example.org/interlib")).await;
    let webhook = body["data"]["registerWebhook"]["webhook"]["id"].as_str().expect("id").to_owned();
    let list = "query($id: ID!) { node(id: $id) { ... on Association { webhooks { id url } } } }";
    let id = json!({ "id": gid(NodeKind::Association, net.liasa) });
    for (token, count) in [(&liasa, 1), (&app.admin, 1), (&alia, 0), (&za, 0)] {
        let body = app.graphql_as(Some(token), list, id.clone()).await;
        assert_eq!(body["data"]["node"]["webhooks"].as_array().map(Vec::len), Some(count), "{body:#}");
    }
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let body = app.graphql_as(Some(&alia), node, json!({ "id": webhook })).await;
    assert!(body["data"]["node"].is_null());
    let delete =
        "mutation($id: ID!) { deleteWebhook(input: { webhookId: $id }) { deletedWebhookId userErrors { code } } }";
    let body = app.graphql_as(Some(&alia), delete, json!({ "id": webhook })).await;
    assert_eq!(body["data"]["deleteWebhook"]["userErrors"][0]["code"], "NOT_FOUND");
    let body = app.graphql_as(Some(&liasa), delete, json!({ "id": webhook })).await;
    assert_eq!(body["data"]["deleteWebhook"]["deletedWebhookId"], webhook.as_str());
    let body = app.graphql_as(Some(&liasa), list, id).await;
    assert_eq!(body["data"]["node"]["webhooks"], json!([]));
}
