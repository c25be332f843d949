//! GraphiQL in a real browser (Debian's `chromium`, headless): the page renders its editor
//! from the server's own assets, with every other host unreachable, and loads nothing from
//! anywhere but the server.

use std::process::Command;

use interlib_tests::TestApp;

/// The browser, when it is installed (`.ci/run` installs it).
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[tokio::test]
async fn graphiql_renders_offline_from_the_servers_own_assets() {
    let Some(browser) = chromium() else {
        eprintln!("chromium is not installed: skipping the browser test (.ci/run installs it)");
        return;
    };
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.address);
    let page = app.client.get(&url).header("accept", "text/html").send().await.expect("sent");
    let policy = page.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(policy.contains("default-src 'self'") && policy.contains("script-src 'self'"), "{policy}");
    let dir = tempfile_dir();
    let netlog = dir.join("netlog.json");
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        // Any host but the server's is unreachable: the page must not need one.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(format!("--user-data-dir={}", dir.join("profile").display()));
    args.push(format!("--log-net-log={}", netlog.display()));
    args.push(url.clone());
    let out = tokio::task::spawn_blocking({
        let browser = browser.to_owned();
        move || Command::new(browser).args(&args).output()
    })
    .await
    .expect("joined")
    .expect("chromium ran");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("CodeMirror"), "no editor in the page:\n{dom}");
    assert!(dom.contains("Welcome to Interlib"), "the first tab shows the example query");
    // Every request the page made (the browser's own services aside: their requests have no
    // initiator) went to the server's own address.
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    let log: serde_json::Value = serde_json::from_str(log.trim_end().trim_end_matches(',')).unwrap_or_default();
    let origin = app.address.clone();
    let mut from_page = Vec::new();
    for event in log["events"].as_array().into_iter().flatten() {
        let params = &event["params"];
        if let (Some(url), Some(initiator)) = (params["url"].as_str(), params["initiator"].as_str())
            && initiator.starts_with(&origin)
        {
            from_page.push(url.to_owned());
        }
    }
    assert!(from_page.iter().any(|u| u.ends_with("/graphiql/graphiql-4.1.2.min.js")), "{from_page:?}");
    assert!(from_page.iter().any(|u| u.ends_with("/graphql")), "the schema was introspected: {from_page:?}");
    let elsewhere: Vec<&String> = from_page.iter().filter(|u| !u.starts_with(&origin)).collect();
    assert!(elsewhere.is_empty(), "the page asked for: {elsewhere:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("interlib-graphiql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}
