//! A client following the change feed as a partner's integration does: it reads pages
//! from its last cursor and keeps its own copy of what it may see (global id -> node).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::{TestApp, error_codes};

/// A follower of the feed.
#[derive(Default)]
pub struct Follower {
    after: Option<String>,
    seen: HashSet<String>,
    /// Its copy: every object it heard of and may see now, as the feed's `node` shows it.
    pub state: BTreeMap<String, Value>,
    /// Events read.
    pub events: usize,
    /// Every event's entity, in order.
    pub entities: Vec<String>,
}

/// How a follower reads: the fields of each event's `node`, and the page size.
#[derive(Clone, Copy)]
pub struct Reading<'a> {
    pub node: &'a str,
    pub first: i32,
    /// Whether fields denied on their own (`FORBIDDEN`, an unlisted person's email) are
    /// expected; any other error fails the test.
    pub denied_fields: bool,
}

impl Follower {
    /// Reads one page and applies it; whether the follower is up to date. An event that
    /// comes twice fails the test.
    pub async fn step(&mut self, app: &TestApp, token: &str, reading: Reading<'_>) -> bool {
        let query = format!(
            "query($after: String, $first: Int) {{ changes(after: $after, first: $first) {{ endCursor hasMore
               events {{ cursor entity node {{ {} }} }} }} }}",
            reading.node
        );
        let body = app.graphql_as(Some(token), &query, json!({ "after": self.after, "first": reading.first })).await;
        let codes = error_codes(&body);
        assert!(codes.iter().all(|c| reading.denied_fields && c == "FORBIDDEN"), "{body:#}");
        let page = &body["data"]["changes"];
        for event in page["events"].as_array().expect("events") {
            let cursor = event["cursor"].as_str().expect("cursor").to_owned();
            assert!(self.seen.insert(cursor), "an event came twice: {event}");
            self.events += 1;
            let entity = event["entity"].as_str().expect("entity").to_owned();
            self.entities.push(entity.clone());
            if event["node"].is_null() {
                self.state.remove(&entity);
            } else {
                self.state.insert(entity, event["node"].clone());
            }
        }
        if let Some(cursor) = page["endCursor"].as_str() {
            self.after = Some(cursor.to_owned());
        }
        !page["hasMore"].as_bool().expect("hasMore")
    }

    /// Reads until up to date.
    pub async fn catch_up(&mut self, app: &TestApp, token: &str, reading: Reading<'_>) {
        while !self.step(app, token, reading).await {}
    }
}

/// What a follower holds after reading the whole feed from the start as `token`.
pub async fn follow(app: &TestApp, token: &str, reading: Reading<'_>) -> BTreeMap<String, Value> {
    let mut follower = Follower::default();
    follower.catch_up(app, token, reading).await;
    follower.state
}
