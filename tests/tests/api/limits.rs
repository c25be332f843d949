//! Query limits and the per-client cost budget: each limit answers at once with
//! `QUERY_TOO_COMPLEX` (or its own code) naming the limit, its maximum and the measured
//! value; budgets are charged by complexity, reported in `rateLimit` and `X-RateLimit-*`,
//! and shared through Redis by several servers.

use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use serde_json::{Value, json};

use crate::gid;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` asking for `application/graphql-response+json`; status, headers and JSON.
async fn post(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.post(format!("{}/graphql", app.address)).header("accept", GRAPHQL_RESPONSE).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.expect("JSON body"))
}

fn limit_of(body: &Value) -> (&str, &Value, &Value) {
    let ext = &body["errors"][0]["extensions"];
    (ext["limit"].as_str().unwrap_or(""), &ext["max"], &ext["actual"])
}

#[tokio::test]
async fn each_limit_names_itself_its_maximum_and_the_measured_value() {
    let app = TestApp::spawn_with(|s| {
        s.limits.max_depth = 4;
        s.limits.max_complexity = 500;
        s.limits.max_aliases = 3;
        s.limits.max_root_fields = 3;
        s.limits.max_batch_size = 2;
        s.max_body_bytes = 10_000;
    })
    .await;
    fixtures::network(&app.db).await;
    let admin = Some(app.admin.as_str());
    let cases = [
        // depth 5: associations > nodes > members > nodes > externalId
        ("{ associations { nodes { members { nodes { externalId } } } } }", "depth", 4, 5),
        // 100 rows of (nodes + 4 fields): 100 * 5 + 1
        ("{ librarians(first: 100) { nodes { id fullName email bio } } }", "complexity", 500, 501),
        ("{ viewer { a: role b: role c: role d: role } }", "aliases", 3, 4),
        (
            "{ viewer { role } rounds { totalCount } countries { totalCount } associations { totalCount } }",
            "rootFields",
            3,
            4,
        ),
    ];
    for (query, limit, max, actual) in cases {
        let (status, _, body) = post(&app, admin, &json!({ "query": query })).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{query}: {body}");
        assert_eq!(limit_of(&body), (limit, &json!(max), &json!(actual)), "{body}");
        assert!(body.get("data").is_none(), "refused before execution: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains(&max.to_string()) && message.contains(&actual.to_string()), "{message}");
    }
    // Just under each limit runs: the cost of a connection follows `first`.
    let (status, _, body) =
        post(&app, admin, &json!({ "query": "{ librarians(first: 99) { nodes { id fullName email bio } } }" })).await;
    assert_eq!((status, error_codes(&body).len()), (200, 0), "{body}");
    // The cost follows `first` given as a variable, too.
    let by_variable = json!({
        "query": "query($n: Int) { librarians(first: $n) { nodes { id fullName email bio } } }",
        "variables": { "n": 100 },
    });
    let (_, _, body) = post(&app, admin, &by_variable).await;
    assert_eq!(limit_of(&body), ("complexity", &json!(500), &json!(501)));

    // A document nested far deeper than any query must not reach the parser.
    let (status, _, body) = post(&app, admin, &json!({ "query": "{".repeat(5_000) })).await;
    assert_eq!(status, 400);
    assert_eq!(limit_of(&body).0, "nesting");

    // Batches: two run, three are refused.
    let two = json!([{ "query": "{ viewer { role } }" }, { "query": "{ rounds { totalCount } }" }]);
    let (status, _, body) = post(&app, admin, &two).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["data"]["viewer"]["role"], "ADMIN");
    let three = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    let (status, _, body) = post(&app, admin, &three).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["BATCH_TOO_LARGE"]);
    assert_eq!(limit_of(&body), ("batchSize", &json!(2), &json!(3)));

    // The body: refused while reading, naming the limit.
    let big = json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(20_000) } });
    let (status, _, body) = post(&app, admin, &big).await;
    assert_eq!(status, 413);
    assert_eq!(error_codes(&body), ["PAYLOAD_TOO_LARGE"]);
    assert_eq!(limit_of(&body).0, "bodyBytes");
    assert_eq!(body["errors"][0]["extensions"]["max"], 10_000);

    // The server is unaffected.
    let (status, _, body) = post(&app, admin, &json!({ "query": "{ viewer { role } }" })).await;
    assert_eq!((status, &body["data"]["viewer"]["role"]), (200, &json!("ADMIN")));
}

/// Validation results are kept for the same document and variables: a document that passed
/// is refused when other variables take it over a limit, charged the same as the first
/// time when sent again, and an invalid document is refused every time.
#[tokio::test]
async fn a_validated_document_is_checked_again_with_other_variables() {
    let app = TestApp::spawn_with(|s| s.limits.max_complexity = 500).await;
    fixtures::network(&app.db).await;
    let admin = Some(app.admin.as_str());
    let query = "query($n: Int) { librarians(first: $n) { nodes { id fullName email bio } } }";
    let cost = |headers: &reqwest::header::HeaderMap| headers.get("x-ratelimit-cost").cloned();
    let (status, first, body) = post(&app, admin, &json!({ "query": query, "variables": { "n": 99 } })).await;
    assert_eq!((status, error_codes(&body).len()), (200, 0), "{body}");
    let (_, _, body) = post(&app, admin, &json!({ "query": query, "variables": { "n": 100 } })).await;
    assert_eq!(limit_of(&body), ("complexity", &json!(500), &json!(501)), "{body}");
    let (status, again, body) = post(&app, admin, &json!({ "query": query, "variables": { "n": 99 } })).await;
    assert_eq!((status, error_codes(&body).len()), (200, 0), "{body}");
    assert!(cost(&first).is_some());
    assert_eq!(cost(&first), cost(&again), "charged the same complexity");
    for _ in 0..2 {
        let invalid = json!({ "query": "{ librarians(first: 1) { nodes { noSuchField } } }" });
        let (status, _, body) = post(&app, admin, &invalid).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("noSuchField")), "{body}");
    }
}

#[tokio::test]
async fn batching_can_be_turned_off() {
    let app = TestApp::spawn_with(|s| s.limits.max_batch_size = 0).await;
    let (status, _, body) = post(&app, None, &json!([{ "query": "{ __typename }" }])).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["BATCHING_DISABLED"]);
}

/// The budget state of a response's headers.
fn budget(headers: &reqwest::header::HeaderMap) -> (u64, u64, u64) {
    let number =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    (number("x-ratelimit-limit"), number("x-ratelimit-used"), number("x-ratelimit-remaining"))
}

/// `rateLimit` and `viewer`: 1 + 5 fields, and 1 + 1.
const PROBE: &str = "{ rateLimit { limit cost used remaining resetAt } viewer { role } }";
const PROBE_COST: u64 = 8;

#[tokio::test]
async fn each_client_spends_its_own_budget_by_complexity() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.points = 100;
        s.rate_limit.window_secs = 3600;
    })
    .await;
    let admin = Some(app.admin.as_str());
    let (status, headers, body) = post(&app, admin, &json!({ "query": PROBE })).await;
    assert_eq!(status, 200, "{body}");
    let rate = &body["data"]["rateLimit"];
    assert_eq!((rate["limit"].as_u64(), rate["cost"].as_u64()), (Some(100), Some(PROBE_COST)));
    assert_eq!((rate["used"].as_u64(), rate["remaining"].as_u64()), (Some(PROBE_COST), Some(100 - PROBE_COST)));
    assert_eq!(budget(&headers), (100, PROBE_COST, 100 - PROBE_COST));
    let reset: u64 = headers["x-ratelimit-reset"].to_str().ok().and_then(|v| v.parse().ok()).expect("reset");
    let reset_at = chrono::DateTime::parse_from_rfc3339(rate["resetAt"].as_str().unwrap_or("")).expect("RFC 3339");
    assert_eq!(reset_at.timestamp(), i64::try_from(reset).unwrap_or(0));

    // 11 more probes spend 96 of 100; the 13th would overspend and is refused uncharged.
    for _ in 0..11 {
        post(&app, admin, &json!({ "query": PROBE })).await;
    }
    let (status, headers, body) = post(&app, admin, &json!({ "query": PROBE })).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
    let ext = &body["errors"][0]["extensions"];
    assert_eq!((ext["cost"].as_u64(), ext["remaining"].as_u64()), (Some(PROBE_COST), Some(4)));
    let retry: u64 = headers["retry-after"].to_str().ok().and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=3600).contains(&retry));
    assert_eq!(budget(&headers), (100, 96, 4));
    // What still fits runs: `{ __typename }` costs 1.
    let (status, headers, _) = post(&app, admin, &json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, budget(&headers)), (200, (100, 97, 3)));

    // Another token, and anonymous callers, have budgets of their own.
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    let (status, headers, _) = post(&app, Some(&ambassador), &json!({ "query": PROBE })).await;
    assert_eq!((status, budget(&headers)), (200, (100, PROBE_COST, 100 - PROBE_COST)));
    let (status, headers, _) = post(&app, None, &json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, budget(&headers)), (200, (100, 1, 99)));

    // A mutation costs its complexity plus 10 per root field.
    let mutation = json!({ "query": "mutation { createRound(input: { name: \"x\", \
        applicationsOpenAt: \"2027-01-01T00:00:00Z\", applicationsCloseAt: \"2027-02-01T00:00:00Z\", \
        startsAt: \"2027-03-01T00:00:00Z\", endsAt: \"2027-06-01T00:00:00Z\" }) { userErrors { code } } }" });
    let (_, headers, body) = post(&app, Some(&ambassador), &mutation).await;
    assert_eq!(budget(&headers).1, PROBE_COST + 3 + 10, "{body}");

    // Responses that ran nothing still carry the budget.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&ambassador)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 400);
    assert_eq!(budget(res.headers()).1, PROBE_COST + 13);
    // So does a refused `Accept`.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&ambassador)
        .header("accept", "text/html")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 406);
    assert_eq!(budget(res.headers()), (100, PROBE_COST + 13, 100 - PROBE_COST - 13));
}

#[tokio::test]
async fn the_bulk_path_spends_the_same_budget_as_a_sync_mutation() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.points = 30;
        s.rate_limit.window_secs = 3600;
    })
    .await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let url = format!("{}/bulk/members?associationId={}", app.address, gid(NodeKind::Association, net.liasa));
    let bulk = || {
        app.client
            .post(&url)
            .bearer_auth(&liasa)
            .header("content-type", "application/x-ndjson")
            .body("{\"externalId\":\"ZA-1\"}\n")
            .send()
    };
    // One sync costs 1 + 10, whatever its size: two fit in 30 points, the third does not.
    for used in [11, 22] {
        let res = bulk().await.expect("sent");
        assert_eq!(res.status(), 200);
        assert_eq!(budget(res.headers()), (30, used, 30 - used));
        assert_eq!(res.headers()["x-ratelimit-cost"], "11");
    }
    let res = bulk().await.expect("sent");
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(budget(res.headers()), (30, 22, 8));
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
    // The same budget as `/graphql`: a query still fits in what is left.
    let (status, headers, _) = post(&app, Some(&liasa), &json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, budget(&headers)), (200, (30, 23, 7)));
}

#[tokio::test]
async fn a_request_dearer_than_the_whole_budget_says_so() {
    let app = TestApp::spawn_with(|s| s.rate_limit.points = 50).await;
    let (status, _, body) =
        post(&app, Some(&app.admin), &json!({ "query": "{ librarians(first: 30) { nodes { id } } }" })).await;
    assert_eq!(status, 429);
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("more than the whole budget of 50"), "{message}");
}

/// The Redis the shared-budget test uses: `INTERLIB_TEST_REDIS` (`.ci/run` sets it, and the
/// test then must pass), else the local default when one answers there.
async fn test_redis() -> Option<String> {
    if let Ok(url) = std::env::var("INTERLIB_TEST_REDIS") {
        return Some(url);
    }
    let local = "127.0.0.1:6379";
    match tokio::net::TcpStream::connect(local).await {
        Ok(_) => Some(format!("redis://{local}/")),
        Err(_) => None,
    }
}

/// One secret for two servers, so that a token is valid on both.
const SHARED_SECRET: &str = "limits-tests-shared-secret-0123456789";

#[tokio::test]
async fn servers_sharing_redis_share_one_budget() {
    let Some(redis) = test_redis().await else {
        eprintln!("skipped: no Redis at 127.0.0.1:6379 (set INTERLIB_TEST_REDIS to require one)");
        return;
    };
    let prefix = format!("interlib-test-{}", fastrand::u64(..));
    let settings = |s: &mut interlib::settings::Settings| {
        s.rate_limit.points = 50;
        s.rate_limit.window_secs = 3600;
        s.rate_limit.redis_url = Some(redis.clone());
        s.rate_limit.redis_prefix.clone_from(&prefix);
        s.set_auth_secret(SHARED_SECRET);
    };
    let one = TestApp::spawn_with(settings).await;
    let two = TestApp::spawn_with(settings).await;
    // The same key pair signs tokens on both: the same admin spends on either.
    let admin = Some(one.admin.as_str());
    let mut used = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &one } else { &two };
        let (status, headers, _) = post(app, admin, &json!({ "query": PROBE })).await;
        assert_eq!(status, 200);
        used.push(budget(&headers).1);
    }
    assert_eq!(used, [8, 16, 24, 32, 40, 48], "each server sees the other's charges");
    let (status, _, _) = post(&one, admin, &json!({ "query": PROBE })).await;
    assert_eq!(status, 429, "48 + 8 > 50 on one server...");
    let (status, _, _) = post(&two, admin, &json!({ "query": PROBE })).await;
    assert_eq!(status, 429, "...and on the other");
    let (status, headers, _) = post(&two, admin, &json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, budget(&headers)), (200, (50, 49, 1)));
}

#[tokio::test]
async fn servers_without_redis_count_on_their_own() {
    let settings = |s: &mut interlib::settings::Settings| {
        s.rate_limit.points = 50;
        s.set_auth_secret(SHARED_SECRET);
    };
    let one = TestApp::spawn_with(settings).await;
    let two = TestApp::spawn_with(settings).await;
    let admin = Some(one.admin.as_str());
    let (_, first, _) = post(&one, admin, &json!({ "query": PROBE })).await;
    let (_, second, _) = post(&two, admin, &json!({ "query": PROBE })).await;
    assert_eq!((budget(&first).1, budget(&second).1), (8, 8));
}

/// `{ <start> } fragment F0 on <on> { ...F1 ...F1 } .. fragment F<n> on <on> { <leaf> }`:
/// about 60 bytes a level, 2^levels copies of the leaf once expanded.
fn fan_out(start: &str, on: &str, leaf: &str, levels: usize) -> String {
    let mut text = start.replace("$", "...F0");
    for level in 0..levels {
        text.push_str(&format!("\nfragment F{level} on {on} {{ ...F{next} ...F{next} }}", next = level + 1));
    }
    text.push_str(&format!("\nfragment F{levels} on {on} {{ {leaf} }}"));
    text
}

/// The median time of `runs` anonymous POSTs of `query`, each answered with `codes`.
async fn median_time(app: &TestApp, query: &str, codes: &[&str], runs: usize) -> std::time::Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = std::time::Instant::now();
        let (_, _, body) = post(app, None, &json!({ "query": query })).await;
        times.push(started.elapsed());
        assert_eq!(error_codes(&body), codes, "{body}");
    }
    times.sort();
    times[runs / 2]
}

#[tokio::test]
async fn fragment_fan_out_is_refused_in_the_time_of_a_trivial_query_and_charged_the_limit() {
    let app = TestApp::spawn().await;
    // 25 levels (about 1.5 KB; every walk of the expanded document took seconds) and 40
    // (past async-graphql's recursion limit), at the root and nested inside a type (where
    // async-graphql's own complexity count would expand it).
    let attacks: Vec<String> = [25, 40]
        .into_iter()
        .flat_map(|levels| {
            [
                fan_out("{ $ }", "Query", "viewer { role }", levels),
                fan_out("{ viewer { $ } }", "Viewer", "role", levels),
            ]
        })
        .collect();
    let trivial = "{ viewer { role } }";
    for attack in &attacks {
        let (status, headers, body) = post(&app, None, &json!({ "query": attack })).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
        assert!(body.get("data").is_none(), "{body}");
        // Refused at once, and charged what it measured, up to the complexity limit: a
        // flood of refused documents spends the budget like a flood of queries.
        let cost = headers.get("x-ratelimit-cost").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        assert_eq!(cost, Some(50_000), "charged the complexity limit");
    }
    median_time(&app, trivial, &[], 3).await; // warm up
    let baseline = median_time(&app, trivial, &[], 9).await;
    for attack in &attacks {
        let refused = median_time(&app, attack, &["QUERY_TOO_COMPLEX"], 9).await;
        let ratio = refused.as_secs_f64() / baseline.as_secs_f64();
        // Walking the expanded document took seconds (a ratio in the thousands); measuring
        // it fragment by fragment costs about what parsing 2.5 KB costs (a ratio of 2 to 5
        // on an idle machine). The bound leaves room for a CI machine busy with other work
        // (9 was seen there) while still failing on the walk by three orders of magnitude.
        assert!(ratio < 40.0, "refused in {refused:?}, a trivial query in {baseline:?} (ratio {ratio:.1})");
    }
    // Under the selections limit, the expanded field count bounds the complexity before
    // validation: `viewer` and 60,000 copies of `role` through one fragment.
    let wide = format!("{{ viewer {{ ...V }} }} fragment V on Viewer {{ {} }}", "role ".repeat(60_000));
    let (_, _, body) = post(&app, None, &json!({ "query": wide })).await;
    assert_eq!(limit_of(&body), ("complexity", &json!(50_000), &json!(60_001)), "{body}");
}

#[tokio::test]
async fn a_long_chain_of_fragments_is_refused_and_the_server_lives_on() {
    let app = TestApp::spawn().await;
    // Each fragment spreads the next once: 3,000 links in 130 KB, used by the operation or
    // not used at all. Measured without recursion, refused before anything walks it.
    let mut chain = String::new();
    for level in 0..3_000 {
        chain.push_str(&format!("fragment F{level} on Query {{ __typename ...F{} }}\n", level + 1));
    }
    chain.push_str("fragment F3000 on Query { __typename }\n");
    for document in [format!("{{ ...F0 }}\n{chain}"), format!("{{ __typename }}\n{chain}")] {
        let (status, _, body) = post(&app, None, &json!({ "query": document })).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
        assert_eq!(limit_of(&body).0, "selections", "{body}");
    }
    let (status, _, body) = post(&app, None, &json!({ "query": "{ viewer { role } }" })).await;
    assert_eq!((status, &body["data"]["viewer"]["role"]), (200, &json!("ANONYMOUS")), "the server is alive");
}

#[tokio::test]
async fn refused_documents_spend_the_budget_like_queries() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.points = 100_000;
        s.rate_limit.window_secs = 3600;
    })
    .await;
    let attack = fan_out("{ $ }", "Query", "viewer { role }", 30);
    for _ in 0..2 {
        let (status, _, body) = post(&app, None, &json!({ "query": attack })).await;
        assert_eq!((status, error_codes(&body)), (400, vec!["QUERY_TOO_COMPLEX".to_owned()]), "{body}");
    }
    // Two refused documents spent the anonymous client's 100,000 points.
    let (status, headers, body) = post(&app, None, &json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, error_codes(&body)), (429, vec!["RATE_LIMITED".to_owned()]), "{body}");
    assert_eq!(budget(&headers), (100_000, 100_000, 0));
}

#[tokio::test]
async fn anonymous_budgets_follow_x_forwarded_for_only_when_it_is_trusted() {
    let spend = |app: &TestApp, forwarded: &'static str| {
        let req = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "query": "{ __typename }" }));
        async move { budget(req.send().await.expect("sent").headers()).1 }
    };
    // Not trusted (the default): a client cannot pick a fresh budget by sending the
    // header; everyone behind this address shares one.
    let app = TestApp::spawn_with(|s| s.rate_limit.points = 100).await;
    assert_eq!(spend(&app, "203.0.113.1").await, 1);
    assert_eq!(spend(&app, "203.0.113.2").await, 2);
    assert_eq!(spend(&app, "203.0.113.3, 198.51.100.7").await, 3);
    // Trusted (behind a proxy that sets it): the first address is the client.
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.points = 100;
        s.rate_limit.trust_forwarded_for = true;
    })
    .await;
    assert_eq!(spend(&app, "203.0.113.1").await, 1);
    assert_eq!(spend(&app, "203.0.113.2").await, 1);
    assert_eq!(spend(&app, "203.0.113.1, 198.51.100.7").await, 2);
}
