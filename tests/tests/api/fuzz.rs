//! Fuzzing the real server: thousands of random and broken documents, variables, bodies,
//! headers and query strings. Whatever comes in, the answer is a GraphQL-shaped error with
//! a code (never a 5xx, never an `INTERNAL`, never a dropped connection), and the server is
//! healthy afterwards. The generator is seeded (`FUZZ_SEED` to replay a run; the seed of
//! each run is printed).

use futures::StreamExt;
use interlib::auth::Role;
use interlib_tests::{TestApp, fixtures};
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "viewer",
    "role",
    "countries",
    "country",
    "librarians",
    "librarian",
    "associations",
    "association",
    "rounds",
    "round",
    "pairings",
    "pairing",
    "nodes",
    "edges",
    "node",
    "id",
    "name",
    "status",
    "members",
    "fullName",
    "email",
    "totalCount",
    "pageInfo",
    "endCursor",
    "hasNextPage",
    "changes",
    "events",
    "rateLimit",
    "cost",
    "__typename",
    "__schema",
    "__type",
    "types",
    "participants",
    "applications",
    "topics",
    "code",
    "region",
    "exportMyData",
    "roundStats",
    "certificate",
    "memberships",
    "librarianz",
    "auditLog",
];
const ARGS: &[&str] =
    &["first", "last", "after", "before", "id", "ids", "code", "filter", "orderBy", "roundId", "entityTypes", "x"];
const MUTATIONS: &[&str] = &[
    "createRound",
    "syncMembers",
    "createLibrarian",
    "eraseLibrarian",
    "runMatching",
    "dissolvePairing",
    "registerWebhook",
    "updateMyProfile",
    "applyToRound",
    "cancelRound",
];
const CONTENT_TYPES: &[&str] = &["text/plain", "application/xml", "multipart/form-data", "application/graphql"];
const NOISE: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\"\"\"",
    "$",
    "@",
    "!",
    ":",
    "#",
    "\\",
    "\0",
    "é",
    "😀",
    "...",
    "on",
    "=",
    "\n",
    "\u{feff}",
    "\\u0000",
    "-",
    "1e999",
    "fragment",
    "query",
    "mutation",
    "subscription",
];

struct Gen(fastrand::Rng);

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.0.usize(..items.len())]
    }

    fn value(&mut self, depth: u32) -> String {
        match self.0.u8(..12) {
            0 => self.0.i64(..).to_string(),
            1 => "99999999999999999999999999".into(),
            2 => format!("{}.{}e{}", self.0.i32(..), self.0.u16(..), self.0.i8(..)),
            3 => format!("\"{}\"", self.pick(&["", "ZA", "abc", "\\u00e9", "\\\"", "💥", "\\n", "a\\u0000b"])),
            4 => self.pick(&["true", "false", "null", "ACTIVE", "NAME", "LIBRARIAN", "bogus"]).into(),
            5 if depth > 0 => {
                let items: Vec<String> = (0..self.0.usize(..4)).map(|_| self.value(depth - 1)).collect();
                format!("[{}]", items.join(", "))
            }
            6 if depth > 0 => {
                let fields: Vec<String> =
                    (0..self.0.usize(..4)).map(|_| format!("{}: {}", self.pick(ARGS), self.value(depth - 1))).collect();
                format!("{{{}}}", fields.join(", "))
            }
            7 => "$v".into(),
            _ => self.0.u8(..).to_string(),
        }
    }

    fn selection(&mut self, depth: u32) -> String {
        let mut out = String::from("{ ");
        for _ in 0..=self.0.usize(..4) {
            match self.0.u8(..10) {
                0 => out.push_str("...F "),
                1 if depth > 0 => {
                    let inner = self.selection(depth - 1);
                    let ty = self.pick(&["Librarian", "Round", "Query", "Nope"]);
                    out.push_str(&format!("... on {ty} {inner} "));
                }
                _ => {
                    if self.0.bool() {
                        out.push_str(&format!("a{}: ", self.0.u8(..)));
                    }
                    out.push_str(self.pick(FIELDS));
                    if self.0.u8(..3) == 0 {
                        let args: Vec<String> = (0..=self.0.usize(..3))
                            .map(|_| format!("{}: {}", self.pick(ARGS), self.value(2)))
                            .collect();
                        out.push_str(&format!("({})", args.join(", ")));
                    }
                    if depth > 0 && self.0.bool() {
                        out.push(' ');
                        out.push_str(&self.selection(depth - 1));
                    }
                    out.push(' ');
                }
            }
        }
        out.push('}');
        out
    }

    fn document(&mut self) -> String {
        let depth = self.0.u32(..6);
        let selection = self.selection(depth);
        let mut doc = match self.0.u8(..6) {
            0 => format!("query Q($v: {}) {selection}", self.pick(&["Int", "String!", "[ID!]", "Nope", "Int = \"x\""])),
            1 => {
                let field = self.pick(MUTATIONS);
                format!("mutation M {{ {field}(input: {}) {{ __typename }} }}", self.value(2))
            }
            2 => format!("subscription {selection}"),
            _ => selection,
        };
        if self.0.u8(..4) == 0 {
            doc.push_str(&format!(" fragment F on {} {}", self.pick(&["Query", "Librarian", "X"]), self.selection(1)));
        }
        // Break it, sometimes.
        for _ in 0..self.0.usize(..4) {
            if doc.is_empty() {
                break;
            }
            let mut at = self.0.usize(..doc.len());
            while !doc.is_char_boundary(at) {
                at -= 1;
            }
            match self.0.u8(..3) {
                0 => doc.insert_str(at, self.pick(NOISE)),
                1 => doc.truncate(at),
                _ => {
                    let chunk: String = doc[at..].chars().take(12).collect();
                    doc.insert_str(at, &chunk);
                }
            }
        }
        doc
    }

    fn json_value(&mut self, depth: u32) -> Value {
        match self.0.u8(..8) {
            0 => Value::Null,
            1 => json!(self.0.i64(..)),
            2 => json!(self.0.f64() * 1e300),
            3 => json!(self.pick(&["", "ZA", "x".repeat(300).as_str(), "\u{0}", "🙂"])),
            4 if depth > 0 => Value::Array((0..self.0.usize(..4)).map(|_| self.json_value(depth - 1)).collect()),
            5 if depth > 0 => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.0.usize(..4) {
                    map.insert(self.pick(ARGS).to_owned(), self.json_value(depth - 1));
                }
                Value::Object(map)
            }
            _ => json!(self.0.bool()),
        }
    }

    /// Fragments that spread the next level twice (or three times), 10 to 45 levels, at the
    /// root, inside a type, or in an operation that is not the one run.
    fn fan_out(&mut self) -> String {
        let levels = self.0.usize(10..46);
        let (start, on, leaf) = match self.0.u8(..3) {
            0 => ("{ ...F0 }", "Query", "viewer { role }"),
            1 => ("{ viewer { ...F0 } }", "Viewer", "role __typename"),
            _ => ("query A { __typename } query B { ...F0 }", "Query", "__typename"),
        };
        let spreads = if self.0.bool() { 2 } else { 3 };
        let mut doc = start.to_owned();
        for level in 0..levels {
            let next = format!("...F{} ", level + 1).repeat(spreads);
            doc.push_str(&format!(" fragment F{level} on {on} {{ {next}}}"));
        }
        doc.push_str(&format!(" fragment F{levels} on {on} {{ {leaf} }}"));
        doc
    }

    /// A valid operation with a NUL character in one of its text arguments or variables.
    fn with_nul(&mut self) -> Value {
        let text = self.pick(&["\\u0000", "a\\u0000", "\\u0000b"]);
        let raw = text.replace("\\u0000", "\u{0}");
        let filter = self.pick(&["interest", "search", "language", "countryCode"]);
        let profile = self.pick(&["fullName", "bio", "institution", "jobTitle", "email"]);
        match self.0.u8(..6) {
            0 => json!({ "query": format!("{{ librarians(filter: {{ search: \"{text}\" }}) {{ totalCount }} }}") }),
            1 => json!({ "query": "query($f: LibrarianFilter) { librarians(filter: $f) { totalCount } }",
                         "variables": { "f": { (filter): raw } } }),
            2 => json!({ "query": format!("{{ certificate(code: \"{text}\") {{ id }} }}") }),
            3 => {
                json!({ "query": "mutation($i: UpdateMyProfileInput!) { updateMyProfile(input: $i) { userErrors { field } } }",
                         "variables": { "i": { (profile): raw } } })
            }
            4 => {
                json!({ "query": "mutation($i: ApplyToRoundInput!) { applyToRound(input: $i) { userErrors { field } } }",
                         "variables": { "i": { "roundId": raw, "goal": raw } } })
            }
            _ => {
                json!({ "query": "query($c: String) { librarians(after: $c) { totalCount } }", "variables": { "c": raw } })
            }
        }
    }

    /// A body, a content type, and whether to send it by GET instead.
    fn request(&mut self) -> (Vec<u8>, &'static str, bool) {
        let json = "application/json";
        match self.0.u8(..24) {
            20 | 21 => (json!({ "query": self.fan_out() }).to_string().into_bytes(), json, self.0.u8(..4) == 0),
            22 | 23 => (self.with_nul().to_string().into_bytes(), json, false),
            0 => ((0..self.0.usize(..200)).map(|_| self.0.u8(..)).collect(), json, false),
            1 => (b"{\"query\": ".to_vec(), json, false),
            2 => (json!({ "query": self.json_value(2) }).to_string().into_bytes(), json, false),
            3 => {
                let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
                (
                    format!("{{\"query\": \"{{ __typename }}\", \"variables\": {{\"v\": {deep}}}}}").into_bytes(),
                    json,
                    false,
                )
            }
            4 => {
                let batch: Vec<Value> = (0..self.0.usize(..5))
                    .map(|_| if self.0.bool() { json!({ "query": self.document() }) } else { self.json_value(2) })
                    .collect();
                (Value::Array(batch).to_string().into_bytes(), json, false)
            }
            5 => {
                let sha = if self.0.bool() { "00".repeat(32) } else { "zz".into() };
                let extensions = json!({ "persistedQuery": { "version": self.json_value(0), "sha256Hash": sha } });
                (json!({ "extensions": extensions }).to_string().into_bytes(), json, false)
            }
            6 => {
                let body = json!({ "query": self.document() }).to_string().into_bytes();
                (body, CONTENT_TYPES[self.0.usize(..CONTENT_TYPES.len())], false)
            }
            7 | 8 => (self.document().into_bytes(), json, true),
            _ => {
                let mut body = json!({ "query": self.document() });
                if self.0.bool() {
                    body["variables"] = self.json_value(3);
                }
                if self.0.u8(..4) == 0 {
                    body["operationName"] = self.json_value(0);
                }
                (body.to_string().into_bytes(), json, false)
            }
        }
    }
}

/// Checks one answer: a GraphQL-shaped body, every error coded, nothing internal.
fn check(status: u16, body: &[u8], what: &str) -> Result<(), String> {
    if status >= 500 {
        return Err(format!("HTTP {status} for {what}"));
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| format!("not JSON ({status}) for {what}: {}", String::from_utf8_lossy(body)))?;
    let answers = match &json {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for answer in answers {
        if answer.get("data").is_none() && answer.get("errors").is_none() {
            return Err(format!("neither data nor errors for {what}: {answer}"));
        }
        for error in answer["errors"].as_array().cloned().unwrap_or_default() {
            match error["extensions"]["code"].as_str() {
                None => return Err(format!("an error without a code for {what}: {error}")),
                Some("INTERNAL") => return Err(format!("an internal error for {what}: {error}")),
                Some(_) => {}
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn thousands_of_broken_requests_get_coded_errors_and_the_server_stays_healthy() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 64 * 1024).await;
    let net = fixtures::network(&app.db).await;
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    println!("FUZZ_SEED={seed}");
    let mut generator = Gen(fastrand::Rng::with_seed(seed));
    let tokens = [
        None,
        Some(format!("Bearer {}", app.admin)),
        Some(format!("Bearer {}", app.token(Role::Ambassador, &["ZA"], None, None))),
        Some(format!("Bearer {}", app.token(Role::Librarian, &[], None, Some(net.ada)))),
        Some("Bearer not.a.token".to_owned()),
        Some("Basic Zm9vOmJhcg==".to_owned()),
    ];
    let url = format!("{}/graphql", app.address);
    let requests: Vec<_> = (0..3_000)
        .map(|_| {
            let (body, content_type, get) = generator.request();
            // Mostly callers the server knows (a refused token never reaches GraphQL).
            let token = if generator.0.u8(..10) == 0 {
                tokens[generator.0.usize(4..tokens.len())].clone()
            } else {
                tokens[generator.0.usize(..4)].clone()
            };
            let accept = generator.pick(&["application/json", "application/graphql-response+json", "*/*"]);
            (body, content_type, get, token, accept)
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    let failures: Vec<String> = futures::stream::iter(requests)
        .map(|(body, content_type, get, token, accept)| {
            let client = app.client.clone();
            let url = url.clone();
            async move {
                let what = format!("{} {:?}", if get { "GET" } else { "POST" }, String::from_utf8_lossy(&body));
                let mut req = if get {
                    client.get(&url).query(&[("query", String::from_utf8_lossy(&body).as_ref())])
                } else {
                    client.post(&url).header("content-type", content_type).body(body)
                };
                req = req.header("accept", accept);
                if let Some(token) = token {
                    req = req.header("authorization", token);
                }
                let res = match req.send().await {
                    Ok(res) => res,
                    Err(err) => return Err(format!("no answer ({err}) for {what}")),
                };
                let status = res.status().as_u16();
                match res.bytes().await {
                    Ok(bytes) => check(status, &bytes, &what).err().map(Err).unwrap_or(Ok(status)),
                    Err(err) => Err(format!("the body broke off ({err}) for {what}")),
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<Result<u16, String>>>()
        .await
        .into_iter()
        .filter_map(|outcome| match outcome {
            Ok(status) => {
                *statuses.entry(status).or_insert(0) += 1;
                None
            }
            Err(failure) => Some(failure),
        })
        .collect();
    println!("statuses: {statuses:?}");
    assert!(statuses.len() >= 5, "the requests reach many different answers: {statuses:?}");
    assert!(
        failures.is_empty(),
        "{} of 3,000 failed (FUZZ_SEED={seed}), e.g.:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let data = app.data("{ viewer { role } country(code: \"ZA\") { name } }", json!({})).await;
    assert_eq!(data["country"]["name"], "South Africa");
    let metrics = app.get("/metrics").await.text().await.unwrap_or_default();
    assert!(!metrics.contains("code=\"INTERNAL\""), "no internal error was counted");
}
