//! Migrations run up and down on both backends.

use entities::country;
use interlib_tests::TestDatabase;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait};

const TABLES: [&str; 20] = [
    "countries",
    "librarians",
    "librarian_languages",
    "librarian_interests",
    "associations",
    "memberships",
    "ambassadors",
    "rounds",
    "applications",
    "pairings",
    "pairing_members",
    "discussion_topics",
    "certificates",
    "change_log",
    "change_log_members",
    "audit_log",
    "sync_runs",
    "webhooks",
    "webhook_deliveries",
    "engagement_reports",
];

#[tokio::test]
async fn migrations_apply_roll_back_and_reapply() {
    let database = TestDatabase::create().await.expect("database");
    let db = Database::connect(&database.url).await.expect("connects");
    Migrator::up(&db, None).await.expect("up");
    let statuses = Migrator::get_pending_migrations(&db).await.expect("status");
    assert!(statuses.is_empty());
    let manager = migration::SchemaManager::new(&db);
    for table in TABLES {
        assert!(manager.has_table(table).await.expect("checked"), "{table} exists");
    }
    assert!(country::Entity::find().count(&db).await.expect("counted") >= 249);

    assert!(manager.has_column("memberships", "directory").await.expect("checked"));
    assert!(manager.has_index("memberships", "idx_memberships_association_id_sent").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("membership directory down");
    for column in ["directory", "user_name", "removed_at"] {
        assert!(!manager.has_column("memberships", column).await.expect("checked"), "{column}");
    }
    assert!(!manager.has_index("memberships", "idx_memberships_association_id_user_name").await.expect("checked"));
    assert!(manager.has_column("discussion_topics", "announced_at").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("programme feed down");
    assert!(!manager.has_table("change_log_members").await.expect("checked"));
    assert!(!manager.has_column("discussion_topics", "announced_at").await.expect("checked"));
    assert!(manager.has_column("rounds", "country_share").await.expect("checked"));
    assert!(manager.has_column("applications", "deferral_note").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("country share down");
    assert!(!manager.has_column("rounds", "country_share").await.expect("checked"));
    assert!(!manager.has_column("applications", "deferral").await.expect("checked"));
    assert!(!manager.has_column("applications", "deferral_note").await.expect("checked"));
    assert!(manager.has_column("memberships", "consent").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("membership consent down");
    assert!(!manager.has_column("memberships", "consent").await.expect("checked"));
    assert!(!manager.has_column("memberships", "sent").await.expect("checked"));
    assert!(manager.has_index("pairings", "idx_pairings_updated_at").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("the live-update indexes down");
    assert!(!manager.has_index("pairings", "idx_pairings_updated_at").await.expect("checked"));
    assert!(manager.has_table("engagement_reports").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("one step down");
    assert!(!manager.has_table("engagement_reports").await.expect("checked"));
    assert!(manager.has_table("sync_runs").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("one more step down");
    assert!(!manager.has_table("sync_runs").await.expect("checked"));
    assert!(!manager.has_column("change_log", "entity_key").await.expect("checked"));
    assert!(manager.has_table("audit_log").await.expect("checked"));
    Migrator::down(&db, Some(1)).await.expect("two steps down");
    assert!(!manager.has_table("audit_log").await.expect("checked"));
    assert!(manager.has_table("change_log").await.expect("checked"));

    Migrator::reset(&db).await.expect("all the way down");
    for table in TABLES {
        assert!(!manager.has_table(table).await.expect("checked"), "{table} dropped");
    }
    Migrator::up(&db, None).await.expect("up again");
    assert!(manager.has_table("change_log").await.expect("checked"));
    // The unique constraints the API relies on exist.
    let dup = db
        .execute_unprepared(
            "INSERT INTO associations (name, country_code, created_at, updated_at) VALUES \
             ('Twin', 'ZA', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
             ('Twin', 'ZA', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .await;
    assert!(dup.is_err(), "association names are unique");
}
