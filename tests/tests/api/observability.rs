//! `/metrics`: requests and latency by operation, errors by code, rate-limit refusals,
//! the database pool.

use interlib_tests::{TestApp, postgres_base_url};
use serde_json::json;

/// The value of the first sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_operations_errors_refusals_and_the_pool() {
    let app = TestApp::spawn_with(|s| s.rate_limit.points = 100).await;
    for _ in 0..3 {
        app.graphql("query Dashboard { rounds { totalCount } }", json!({})).await;
    }
    app.graphql("{ librarianz }", json!({})).await;
    // A connection costs its page size: 3 × 21 points spent; 28 more fit, 2 × 28 do not.
    let dear = "query Dear { a: rounds(first: 9) { nodes { id name } } }";
    app.post_as(Some(&app.admin), dear, json!({})).await;
    app.post_as(Some(&app.admin), dear, json!({})).await;

    // Prometheus asks for OpenMetrics first.
    let accept = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,\
                  text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let res = app.client.get(format!("{}/metrics", app.address)).header("accept", accept).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap_or("").to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = res.text().await.expect("text");
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series} missing:\n{text}"));
    assert_eq!(count("interlib_graphql_requests_total{operation=\"Dashboard\",kind=\"query\"}"), 3.0);
    assert_eq!(count("interlib_graphql_request_duration_seconds_count{operation=\"Dashboard\",kind=\"query\"}"), 3.0);
    assert!(text.contains("interlib_graphql_request_duration_seconds_bucket{le="), "a latency histogram");
    assert_eq!(count("interlib_graphql_errors_total{code=\"BAD_USER_INPUT\"}"), 1.0);
    assert_eq!(count("interlib_graphql_errors_total{code=\"RATE_LIMITED\"}"), 1.0);
    assert_eq!(count("interlib_rate_limited_total"), 1.0);
    assert!(count("interlib_http_responses_total{status=\"429\"}") >= 1.0);
    // Every pool counts: on PostgreSQL each HTTP worker's own (its share of the 10
    // connections) beside the one the server was built on.
    let workers = app.pools().len() - 1;
    if postgres_base_url().is_some() {
        assert!(workers >= 1, "a pool per worker on PostgreSQL");
    } else {
        assert_eq!(workers, 0, "one pool on SQLite");
    }
    let max = 10 + workers * 10usize.div_ceil(workers.max(1));
    assert_eq!(count("interlib_db_pool_max_connections"), max as f64);
    assert!(text.contains("interlib_db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("interlib_db_pool_connections{state=\"in_use\"}"));
    assert_eq!(count("interlib_database_up"), 1.0);
    assert!(count("interlib_db_statements_total") >= 3.0);
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");

    // Anyone else (curl, promtool, older scrapers) gets the classic text format, where every
    // family a sample belongs to has its HELP and TYPE under the sample's name.
    let res = app.get("/metrics").await;
    let content_type = res.headers()["content-type"].to_str().unwrap_or("").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let classic = res.text().await.expect("text");
    assert!(!classic.contains("# EOF") && !classic.contains("# UNIT"));
    let described = |prefix: &str| -> std::collections::HashSet<String> {
        classic
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_owned)
            .collect()
    };
    let (helped, typed) = (described("# HELP "), described("# TYPE "));
    for line in classic.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(helped.contains(family) && typed.contains(family), "{name} has no HELP or TYPE:\n{classic}");
    }
    assert!(classic.contains("# TYPE interlib_graphql_requests_total counter"));
    // And Prometheus' own checker, where it is installed (Debian's `prometheus` package).
    if let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(classic.as_bytes()).expect("written");
        let out = child.wait_with_output().expect("promtool ran");
        assert!(out.status.success() && out.stdout.is_empty(), "promtool: {}", String::from_utf8_lossy(&out.stdout));
    } else {
        eprintln!("promtool is not installed: the structural check above stands in for it");
    }
}
