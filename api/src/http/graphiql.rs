//! GraphiQL, served whole by the server: the page, its script and the pinned production
//! builds it loads (GraphiQL 4.1.2, React 18.3.1; MIT, licences beside them in
//! `api/assets/graphiql`). Nothing comes from a CDN, so it works offline, air-gapped and
//! under the page's own Content-Security-Policy (`'self'` only); each asset carries its
//! Subresource Integrity hash, and its versioned name is cached for a year.

use std::sync::LazyLock;

use actix_web::{HttpResponse, http::header, web};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha384};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 5] = [
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react-18.3.1.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react-dom-18.3.1.production.min.js"),
    },
    Asset {
        name: "graphiql-4.1.2.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql-4.1.2.min.js"),
    },
    Asset {
        name: "graphiql-4.1.2.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql-4.1.2.min.css"),
    },
    Asset {
        name: "start.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/start.js"),
    },
];

/// Where the assets are served.
const BASE: &str = "/graphiql/";

fn integrity(bytes: &[u8]) -> String {
    format!("sha384-{}", STANDARD.encode(Sha384::digest(bytes)))
}

/// The page, with each asset's integrity hash (computed once).
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let tag = |asset: &Asset| {
        let (url, hash) = (format!("{BASE}{}", asset.name), integrity(asset.bytes));
        if asset.name.ends_with(".css") {
            format!(r#"<link rel="stylesheet" href="{url}" integrity="{hash}">"#)
        } else {
            format!(r#"<script src="{url}" integrity="{hash}"></script>"#)
        }
    };
    let styles: Vec<String> = ASSETS.iter().filter(|a| a.name.ends_with(".css")).map(tag).collect();
    let scripts: Vec<String> = ASSETS.iter().filter(|a| a.name.ends_with(".js")).map(tag).collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Interlib GraphiQL</title>
{}
<link rel="stylesheet" href="{BASE}page.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{}
</body>
</html>
"#,
        styles.join("\n"),
        scripts.join("\n")
    )
});

/// The page's own style (a file, so the policy needs no inline style element).
const PAGE_CSS: &str = "html, body, #graphiql { height: 100%; margin: 0; }\n";

/// Everything the page may load: the server's own address, and WebSockets to it.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                      object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The GraphiQL page.
pub fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE.as_str())
}

/// `GET /graphiql/{name}`: an embedded asset, or 404 (also wherever GraphiQL is off).
pub async fn asset(state: web::Data<super::HttpState>, name: web::Path<String>) -> HttpResponse {
    if !state.graphiql {
        return not_found();
    }
    if name.as_str() == "page.css" {
        return HttpResponse::Ok().content_type("text/css; charset=utf-8").body(PAGE_CSS);
    }
    match ASSETS.iter().find(|a| a.name == name.as_str()) {
        // `start.js` is not versioned: it is revalidated; the rest never change.
        Some(asset) => HttpResponse::Ok()
            .content_type(asset.content_type)
            .insert_header((
                header::CACHE_CONTROL,
                if asset.name == "start.js" { "no-cache" } else { "public, max-age=31536000, immutable" },
            ))
            .body(asset.bytes),
        None => not_found(),
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({ "errors": [{ "message": "no such file", "extensions": { "code": "NOT_FOUND" } }] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_the_servers_own_assets_with_their_hashes() {
        for asset in &ASSETS {
            assert!(PAGE.contains(&format!("{BASE}{}", asset.name)), "{}", asset.name);
            assert!(PAGE.contains(&integrity(asset.bytes)));
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://") && !PAGE.contains("//unpkg"));
        assert!(!PAGE.contains("<script>"), "no inline script: the policy allows 'self' only");
    }
}
