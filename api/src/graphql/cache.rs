//! What the guard keeps from one request to the next: parsed documents, and the results
//! of validating them.

use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ValidationResult};

/// Parsed documents by their text. A client sends the same few documents again and again,
/// and parsing was the largest step before execution (about 6% of the server's work on the
/// ambassador query). Only documents that parsed and passed the size limits are kept, up to
/// [`Documents::MAX_TEXT`] bytes each, so the cache holds at most a few megabytes of text.
pub struct Documents(Mutex<lru::LruCache<String, ExecutableDocument>>);

impl Documents {
    /// Documents kept.
    pub const CAPACITY: usize = 256;
    /// The longest document text kept.
    pub const MAX_TEXT: usize = 8 * 1024;

    pub(crate) fn new() -> Self {
        let capacity = std::num::NonZeroUsize::new(Self::CAPACITY).unwrap_or(std::num::NonZeroUsize::MIN);
        Self(Mutex::new(lru::LruCache::new(capacity)))
    }

    pub(crate) fn get(&self, text: &str) -> Option<ExecutableDocument> {
        self.0.lock().ok()?.get(text).cloned()
    }

    pub(crate) fn keep(&self, text: &str, document: &ExecutableDocument) {
        if text.len() <= Self::MAX_TEXT
            && let Ok(mut cache) = self.0.lock()
        {
            cache.put(text.to_owned(), document.clone());
        }
    }
}

/// What async-graphql's validation depends on besides the schema: the document's text, the
/// operation's name, and the variables (the complexity of `first: $n` follows `$n`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ValidationKey {
    query: String,
    operation: Option<String>,
    variables: String,
}

impl ValidationKey {
    /// The key of `request`, if its validation may be kept (a text [`Documents`] keeps).
    pub fn of(request: &Request) -> Option<Self> {
        if request.query.len() > Documents::MAX_TEXT {
            return None;
        }
        Some(Self {
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).ok()?,
        })
    }
}

/// Validation results of documents that passed async-graphql's rules, by [`ValidationKey`].
/// Validating was about 4% of the server's work on the ambassador query, for the same few
/// documents with the same variables again and again; the rules depend on nothing else
/// (the schema is fixed), so a request with the same key has the same result. Failures are
/// never kept: an invalid document is checked, and refused, every time.
pub struct Validations(Mutex<lru::LruCache<ValidationKey, ValidationResult>>);

impl Validations {
    /// Results kept.
    pub const CAPACITY: usize = 1024;

    pub(crate) fn new() -> Self {
        let capacity = std::num::NonZeroUsize::new(Self::CAPACITY).unwrap_or(std::num::NonZeroUsize::MIN);
        Self(Mutex::new(lru::LruCache::new(capacity)))
    }

    pub(crate) fn get(&self, key: &ValidationKey) -> Option<ValidationResult> {
        self.0.lock().ok()?.get(key).copied()
    }

    pub(crate) fn keep(&self, key: ValidationKey, result: ValidationResult) {
        if let Ok(mut cache) = self.0.lock() {
            cache.put(key, result);
        }
    }
}
