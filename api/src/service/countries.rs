//! The country table, held in memory.
//!
//! Countries are reference data: the migrations seed them from ISO 3166-1 and nothing in the
//! API writes them. Every replica loads the same 249 rows at start-up, so resolving a
//! librarian's country costs no SQL statement at all.

use std::collections::HashMap;
use std::sync::Arc;

use entities::country;
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::error::ApiResult;

/// All countries by ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, Default)]
pub struct CountryTable(HashMap<String, Arc<country::Model>>);

impl CountryTable {
    /// Reads the table once.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(db: &DatabaseConnection) -> ApiResult<Self> {
        let rows = country::Entity::find().all(db).await?;
        Ok(Self(rows.into_iter().map(|c| (c.code.clone(), Arc::new(c))).collect()))
    }

    /// The country with this (upper-case) code, shared: every `country` field of a response
    /// holds the same row rather than a copy of its four strings.
    pub fn get(&self, code: &str) -> Option<&Arc<country::Model>> {
        self.0.get(code)
    }
}
