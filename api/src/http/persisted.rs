//! Persisted queries, in the protocol Apollo clients speak: a request may carry
//! `extensions.persistedQuery = { version: 1, sha256Hash }` instead of (or with) its text.
//!
//! - `automatic` (default): a hash the server has not seen answers
//!   `PERSISTED_QUERY_NOT_FOUND`; the client then sends text and hash together, the server
//!   checks the hash and remembers the text (per process, most recent `cache_size`).
//!   Documents of the manifest are always known.
//! - `allowlist`: only documents of the manifest run, by hash or by text; anything else is
//!   `PERSISTED_QUERY_NOT_ALLOWED`. For deployments that serve only their own front-ends.
//! - `off`: the extension is ignored when text is sent, refused when it is not.
//!
//! The manifest is a JSON object of SHA-256 (hex) to document, checked when loaded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_graphql::{Request, ServerError, Value};
use sha2::{Digest, Sha256};

use crate::error::ErrorCode;
use crate::error::coded_error;
use crate::settings::{PersistedMode, PersistedSettings};

/// The registered documents and those learnt from clients.
pub struct PersistedQueries {
    mode: PersistedMode,
    registered: HashMap<String, Arc<str>>,
    cache_size: usize,
    learnt: Mutex<Learnt>,
}

/// Documents learnt from clients, and their order of arrival (the oldest is forgotten first).
type Learnt = (HashMap<String, Arc<str>>, VecDeque<String>);

/// The SHA-256 of a document, as lowercase hex.
pub fn hash(document: &str) -> String {
    hex::encode(Sha256::digest(document.as_bytes()))
}

impl PersistedQueries {
    /// Loads the manifest, if any.
    ///
    /// # Errors
    /// The manifest cannot be read or parsed, or a hash does not match its document.
    pub fn load(settings: &PersistedSettings) -> anyhow::Result<Self> {
        let mut registered = HashMap::new();
        if let Some(path) = settings.manifest.as_deref().filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
            let documents: HashMap<String, String> =
                serde_json::from_str(&text).with_context(|| format!("{path} is not a JSON object of documents"))?;
            for (id, document) in documents {
                let id = id.to_ascii_lowercase();
                anyhow::ensure!(hash(&document) == id, "{path}: {id} is not the SHA-256 of its document");
                registered.insert(id, Arc::from(document));
            }
        }
        anyhow::ensure!(
            settings.mode != PersistedMode::Allowlist || !registered.is_empty(),
            "persisted_queries.mode = \"allowlist\" needs a manifest of documents"
        );
        Ok(Self {
            mode: settings.mode,
            registered,
            cache_size: settings.cache_size,
            learnt: Mutex::new((HashMap::new(), VecDeque::new())),
        })
    }

    /// Fills in the text of a request that gives only a hash, and enforces the mode.
    ///
    /// # Errors
    /// The `PERSISTED_QUERY_*` errors of the protocol, or `BAD_USER_INPUT` for a hash that
    /// does not match the text sent with it.
    pub fn resolve(&self, mut request: Request) -> Result<Request, ServerError> {
        let wanted = persisted_hash(&request)?;
        if request.query.is_empty() {
            let Some(wanted) = wanted else {
                return Ok(request);
            };
            if self.mode == PersistedMode::Off {
                return Err(coded_error(
                    "persisted queries are turned off: send the document".into(),
                    ErrorCode::PersistedQueryNotSupported,
                    |_| {},
                ));
            }
            let document = self.registered.get(&wanted).cloned().or_else(|| {
                if self.mode == PersistedMode::Automatic {
                    self.learnt.lock().ok().and_then(|learnt| learnt.0.get(&wanted).cloned())
                } else {
                    None
                }
            });
            return match document {
                Some(document) => {
                    request.query = document.to_string();
                    Ok(request)
                }
                None if self.mode == PersistedMode::Allowlist => Err(not_allowed()),
                // The message is the one Apollo clients look for before resending the text.
                None => Err(coded_error("PersistedQueryNotFound".into(), ErrorCode::PersistedQueryNotFound, |_| {})),
            };
        }
        // A plain request (no hash) needs no hashing unless only registered documents run.
        if wanted.is_none() && self.mode != PersistedMode::Allowlist {
            return Ok(request);
        }
        let actual = hash(&request.query);
        if let Some(wanted) = &wanted
            && *wanted != actual
        {
            return Err(coded_error(
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query".into(),
                ErrorCode::BadUserInput,
                |ext| ext.set("field", "extensions.persistedQuery.sha256Hash"),
            ));
        }
        match self.mode {
            PersistedMode::Allowlist if !self.registered.contains_key(&actual) => Err(not_allowed()),
            PersistedMode::Automatic if wanted.is_some() && !self.registered.contains_key(&actual) => {
                self.learn(actual, &request.query);
                Ok(request)
            }
            _ => Ok(request),
        }
    }

    fn learn(&self, id: String, document: &str) {
        if self.cache_size == 0 {
            return;
        }
        let Ok(mut learnt) = self.learnt.lock() else { return };
        let (map, order) = &mut *learnt;
        if map.contains_key(&id) {
            return;
        }
        while map.len() >= self.cache_size {
            match order.pop_front() {
                Some(oldest) => map.remove(&oldest),
                None => break,
            };
        }
        map.insert(id.clone(), Arc::from(document));
        order.push_back(id);
    }
}

fn not_allowed() -> ServerError {
    coded_error(
        "this server runs only registered documents, and this is not one of them".into(),
        ErrorCode::PersistedQueryNotAllowed,
        |_| {},
    )
}

/// The `sha256Hash` of `extensions.persistedQuery`, when the request has one.
fn persisted_hash(request: &Request) -> Result<Option<String>, ServerError> {
    let Some(persisted) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let bad = |message: &str| {
        coded_error(message.to_owned(), ErrorCode::BadUserInput, |ext| ext.set("field", "extensions.persistedQuery"))
    };
    let Value::Object(fields) = persisted else {
        return Err(bad("extensions.persistedQuery must be an object { version: 1, sha256Hash }"));
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => return Err(bad("extensions.persistedQuery.version must be 1")),
    }
    match fields.get("sha256Hash") {
        Some(Value::String(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(h.to_ascii_lowercase()))
        }
        _ => Err(bad("extensions.persistedQuery.sha256Hash must be 64 hex digits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, sha: &str) -> Request {
        let mut request = Request::new(query);
        let value = serde_json::json!({ "version": 1, "sha256Hash": sha });
        request.extensions.insert("persistedQuery".into(), Value::from_json(value).expect("value"));
        request
    }

    fn code(error: &ServerError) -> String {
        error.extensions.as_ref().and_then(|e| e.get("code")).map(ToString::to_string).unwrap_or_default()
    }

    #[test]
    fn automatic_learns_a_document_sent_with_its_hash() {
        let store = PersistedQueries::load(&PersistedSettings::default()).expect("store");
        let query = "{ viewer { role } }";
        let sha = hash(query);
        let missing = store.resolve(with_hash("", &sha)).expect_err("unknown");
        assert_eq!(code(&missing), "\"PERSISTED_QUERY_NOT_FOUND\"");
        assert_eq!(missing.message, "PersistedQueryNotFound");
        store.resolve(with_hash(query, &sha)).expect("learnt");
        assert_eq!(store.resolve(with_hash("", &sha)).expect("known").query, query);
        let wrong = store.resolve(with_hash("{ other }", &sha)).expect_err("mismatch");
        assert_eq!(code(&wrong), "\"BAD_USER_INPUT\"");
    }

    #[test]
    fn the_cache_forgets_the_oldest() {
        let settings = PersistedSettings { cache_size: 2, ..PersistedSettings::default() };
        let store = PersistedQueries::load(&settings).expect("store");
        for query in ["{ a }", "{ b }", "{ c }"] {
            store.resolve(with_hash(query, &hash(query))).expect("learnt");
        }
        assert!(store.resolve(with_hash("", &hash("{ a }"))).is_err());
        assert!(store.resolve(with_hash("", &hash("{ c }"))).is_ok());
    }

    #[test]
    fn allowlist_runs_only_registered_documents() {
        let dir = std::env::temp_dir().join(format!("interlib-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("manifest.json");
        let query = "{ viewer { role } }";
        std::fs::write(&path, serde_json::json!({ hash(query): query }).to_string()).expect("write");
        let settings = PersistedSettings {
            mode: PersistedMode::Allowlist,
            manifest: Some(path.display().to_string()),
            ..PersistedSettings::default()
        };
        let store = PersistedQueries::load(&settings).expect("store");
        assert_eq!(store.resolve(with_hash("", &hash(query))).expect("by hash").query, query);
        assert!(store.resolve(Request::new(query)).is_ok(), "by text");
        let refused = store.resolve(Request::new("{ countries { totalCount } }")).expect_err("not registered");
        assert_eq!(code(&refused), "\"PERSISTED_QUERY_NOT_ALLOWED\"");
        std::fs::write(&path, serde_json::json!({ hash("{ x }"): query }).to_string()).expect("write");
        assert!(PersistedQueries::load(&settings).is_err(), "a wrong hash is refused at load");
        let _ = std::fs::remove_dir_all(dir);
    }
}
