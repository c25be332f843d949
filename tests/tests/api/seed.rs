//! The demo network and load data.

use entities::{association, certificate, librarian, membership, pairing, round};
use interlib_tests::TestApp;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;

#[tokio::test]
async fn the_demo_network_is_realistic_and_deterministic() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    assert_eq!(librarian::Entity::find().count(&app.db).await.expect("count"), 2_000);
    assert_eq!(association::Entity::find().count(&app.db).await.expect("count"), 20);
    assert!(membership::Entity::find().count(&app.db).await.expect("count") > 500);
    let rounds: Vec<String> = round::Entity::find()
        .order_by_asc(round::Column::Id)
        .all(&app.db)
        .await
        .expect("rounds")
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(rounds, ["COMPLETED", "ACTIVE", "OPEN", "DRAFT"]);
    assert!(pairing::Entity::find().count(&app.db).await.expect("count") > 500);
    assert!(certificate::Entity::find().count(&app.db).await.expect("count") > 500);

    let countries_with_people = librarian::Entity::find().select_only_country_codes(&app.db).await;
    assert!((95..=105).contains(&countries_with_people), "{countries_with_people} countries");

    // Every pairing joins people of different countries.
    let data = app.data("{ pairings(first: 100) { nodes { members { country { code } } } } }", json!({})).await;
    for pairing in data["pairings"]["nodes"].as_array().into_iter().flatten() {
        let codes: Vec<&str> =
            pairing["members"].as_array().into_iter().flatten().filter_map(|m| m["country"]["code"].as_str()).collect();
        assert!(codes.len() >= 2);
        assert!(codes[1..].iter().all(|c| *c != codes[0]), "{codes:?}");
    }

    // Deterministic: a second database gets exactly the same people.
    let other = TestApp::spawn().await;
    interlib::seed::demo(&other.db).await.expect("demo seeded again");
    let names = |rows: Vec<librarian::Model>| {
        rows.into_iter().map(|l| (l.full_name, l.email, l.country_code)).collect::<Vec<_>>()
    };
    let a = librarian::Entity::find().order_by_asc(librarian::Column::Id).all(&app.db).await.expect("rows");
    let b = librarian::Entity::find().order_by_asc(librarian::Column::Id).all(&other.db).await.expect("rows");
    assert_eq!(names(a), names(b));
    // And it refuses to seed twice.
    assert!(interlib::seed::demo(&app.db).await.is_err());
}

#[tokio::test]
async fn load_seeding_adds_librarians_with_languages_and_interests() {
    let app = TestApp::spawn().await;
    interlib::seed::librarians(&app.db, 3_000, 1).await.expect("seeded");
    interlib::seed::librarians(&app.db, 500, 1).await.expect("seeded again");
    assert_eq!(librarian::Entity::find().count(&app.db).await.expect("count"), 3_500);
    let english = librarian::Entity::find()
        .filter(
            librarian::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(entities::librarian_language::Column::LibrarianId)
                    .from(entities::librarian_language::Entity)
                    .and_where(entities::librarian_language::Column::Language.eq("en"))
                    .to_owned(),
            ),
        )
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(english, 3_500, "everyone works in English");
}

trait CountryCount {
    async fn select_only_country_codes(self, db: &sea_orm::DatabaseConnection) -> usize;
}

impl CountryCount for sea_orm::Select<librarian::Entity> {
    async fn select_only_country_codes(self, db: &sea_orm::DatabaseConnection) -> usize {
        use sea_orm::QuerySelect;
        self.select_only()
            .column(librarian::Column::CountryCode)
            .distinct()
            .into_tuple::<String>()
            .all(db)
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }
}
