//! Fast bulk inserts of librarians: multi-row INSERTs chunked under the bind-parameter
//! limits (PostgreSQL 65,535; SQLite 32,766), all in one transaction.

use std::collections::HashMap;

use anyhow::Context;
use entities::{country, librarian, librarian_interest, librarian_language};
use fastrand::Rng;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use super::generator::{self, Person, Place};
use crate::db::rows_per_insert;
use crate::domain::{NodeKind, Region};
use crate::error::ApiError;
use crate::service::journal::{self, Entry, Operation, Scope};

/// All countries with a region (the places people live in).
pub(crate) async fn places<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<Place>> {
    let countries = country::Entity::find().all(db).await.context("loading countries")?;
    Ok(countries
        .into_iter()
        .filter_map(|c| {
            let region = c.region.as_deref().and_then(Region::parse);
            (region.is_some() && region != Some(Region::Antarctica)).then_some(Place {
                code: c.code,
                name: c.name,
                region,
            })
        })
        .collect())
}

/// Inserts people with their languages and interests; returns their ids, in order.
pub(crate) async fn insert_people<C: ConnectionTrait>(db: &C, people: &[Person]) -> anyhow::Result<Vec<i32>> {
    let mut ids = Vec::with_capacity(people.len());
    for chunk in people.chunks(rows_per_insert::<librarian::Entity>()) {
        let rows = chunk.iter().map(|p| librarian::ActiveModel {
            id: NotSet,
            full_name: Set(p.full_name.clone()),
            email: Set(p.email.clone()),
            country_code: Set(p.country_code.clone()),
            institution: Set(Some(p.institution.clone())),
            sector: Set(p.sector.as_str().to_owned()),
            job_title: Set(Some(p.job_title.clone())),
            years_experience: Set(p.years_experience),
            bio: Set(Some(p.bio.clone())),
            listed_in_directory: Set(p.listed_in_directory),
            erased_at: Set(None),
            version: Set(1),
            created_at: Set(p.created_at),
            updated_at: Set(p.created_at),
        });
        librarian::Entity::insert_many(rows).exec_without_returning(db).await?;
        // Read the ids back by email (unique), rather than trusting RETURNING order.
        let emails: Vec<&str> = chunk.iter().map(|p| p.email.as_str()).collect();
        let found: HashMap<String, i32> = librarian::Entity::find()
            .select_only()
            .column(librarian::Column::Email)
            .column(librarian::Column::Id)
            .filter(librarian::Column::Email.is_in(emails))
            .into_tuple::<(String, i32)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for p in chunk {
            ids.push(*found.get(&p.email).context("inserted librarian not found")?);
        }
    }
    let languages: Vec<_> = people
        .iter()
        .zip(&ids)
        .flat_map(|(p, id)| {
            p.languages
                .iter()
                .map(move |l| librarian_language::ActiveModel { librarian_id: Set(*id), language: Set(l.clone()) })
        })
        .collect();
    for chunk in languages.chunks(rows_per_insert::<librarian_language::Entity>()) {
        librarian_language::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    let interests: Vec<_> = people
        .iter()
        .zip(&ids)
        .flat_map(|(p, id)| {
            p.interests
                .iter()
                .map(move |i| librarian_interest::ActiveModel { librarian_id: Set(*id), interest: Set(i.clone()) })
        })
        .collect();
    for chunk in interests.chunks(rows_per_insert::<librarian_interest::Entity>()) {
        librarian_interest::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(ids)
}

/// Adds `count` generated librarians spread over all countries, in one transaction.
/// Emails continue after the existing rows, so running it twice adds twice as many.
///
/// # Errors
/// Database errors; nothing is written if one occurs.
pub async fn librarians(db: &DatabaseConnection, count: usize, seed: u64) -> anyhow::Result<usize> {
    let places = places(db).await?;
    anyhow::ensure!(!places.is_empty(), "no countries: run the migrations first");
    let offset = usize::try_from(librarian::Entity::find().count(db).await?)?;
    let mut rng = Rng::with_seed(seed ^ offset as u64);
    let people: Vec<Person> = (0..count)
        .map(|i| {
            let place = &places[rng.usize(..places.len())];
            generator::person(&mut rng, place, offset + i, "load.example.net")
        })
        .collect();
    let txn = db.begin().await?;
    let ids = insert_people(&txn, &people).await?;
    let entries = people
        .iter()
        .zip(ids)
        .map(|(p, id)| {
            let scope = Scope {
                librarian_id: Some(id),
                country_code: Some(p.country_code.clone()),
                listed: p.listed_in_directory,
                ..Scope::default()
            };
            Entry::new(NodeKind::Librarian, id, Operation::Upsert, scope)
        })
        .collect();
    journal::record(&txn, &super::seeder(), entries).await.map_err(ApiError::into_anyhow)?;
    txn.commit().await?;
    Ok(count)
}
