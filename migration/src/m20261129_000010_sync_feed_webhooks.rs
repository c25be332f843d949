//! Association sync and the change feed: sync runs (with their idempotency keys), the
//! scope of each change-log entry (so the feed can be filtered by the caller's rights in
//! SQL), which membership provisioned its librarian, and webhooks with their deliveries.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, Statement},
};

use crate::util::{create_indexes, drop_tables, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Columns added to `change_log`: the entity's own key, and the scope the feed filters on
/// (the librarian the entity belongs to, the association of a membership, the librarian's
/// country at the write and before it, and whether they were in the directory).
fn change_log_columns() -> Vec<ColumnDef> {
    vec![
        integer("entity_key").default(0).to_owned(),
        integer_null("librarian_id").to_owned(),
        integer_null("association_id").to_owned(),
        string_len_null("country_code", 2).to_owned(),
        string_len_null("previous_country_code", 2).to_owned(),
        boolean("listed").default(false).to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in change_log_columns() {
            manager.alter_table(Table::alter().table("change_log").add_column(column).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter().table("memberships").add_column(boolean("provisioned").default(false)).to_owned(),
            )
            .await?;
        backfill_change_log(manager).await?;

        manager
            .create_table(
                Table::create()
                    .table("sync_runs")
                    .col(pk_auto("id"))
                    .col(integer("association_id"))
                    .col(string_len("actor", 128))
                    .col(string_len("mode", 16))
                    .col(string_len("source", 16))
                    .col(integer("received"))
                    .col(integer("created"))
                    .col(integer("updated"))
                    .col(integer("unchanged"))
                    .col(integer("deactivated"))
                    .col(integer("reactivated"))
                    .col(integer("failed"))
                    .col(text("user_errors"))
                    .col(string_len_null("idempotency_key", 255))
                    .col(string_len_null("request_hash", 64))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("finished_at"))
                    .foreign_key(&mut fk(
                        "sync_runs",
                        "association_id",
                        "associations",
                        "id",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhooks")
                    .col(pk_auto("id"))
                    .col(integer("association_id"))
                    .col(string_len("url", 500))
                    .col(string_len("secret", 128))
                    .col(string_len_null("entity_types", 200))
                    .col(boolean("active").default(true))
                    .col(big_integer("cursor").default(0))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("webhooks", "association_id", "associations", "id", ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(big_pk_auto("id"))
                    .col(integer("webhook_id"))
                    .col(string_len("status", 16))
                    .col(big_integer("first_cursor"))
                    .col(big_integer("last_cursor"))
                    .col(integer("event_count"))
                    .col(text("payload"))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(integer_null("last_status_code"))
                    .col(string_len_null("last_error", 500))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .foreign_key(&mut fk(
                        "webhook_deliveries",
                        "webhook_id",
                        "webhooks",
                        "id",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("change_log", &["librarian_id", "id"], false),
                index("change_log", &["association_id", "id"], false),
                index("change_log", &["country_code", "id"], false),
                index("sync_runs", &["association_id", "idempotency_key"], true),
                index("sync_runs", &["association_id", "id"], false),
                index("webhooks", &["association_id"], false),
                index("webhook_deliveries", &["webhook_id", "id"], false),
                index("webhook_deliveries", &["status", "next_attempt_at"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["webhook_deliveries", "webhooks", "sync_runs"]).await?;
        for name in
            ["idx_change_log_librarian_id_id", "idx_change_log_association_id_id", "idx_change_log_country_code_id"]
        {
            manager.drop_index(Index::drop().name(name).table("change_log").to_owned()).await?;
        }
        for column in change_log_columns() {
            let name = column.get_column_name();
            manager.alter_table(Table::alter().table("change_log").drop_column(Alias::new(name)).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table("memberships").drop_column("provisioned").to_owned()).await
    }
}

/// Gives entries written before this migration their key and scope. The key is the part
/// after `Type:` in the base64url global id; the scope comes from the rows as they are now.
async fn backfill_change_log(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let rows =
        db.query_all_raw(Statement::from_string(backend, "SELECT id, entity_id FROM change_log".to_owned())).await?;
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let entity_id: String = row.try_get("", "entity_id")?;
        let Some(key) = decode_key(&entity_id) else { continue };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE change_log SET entity_key = $1 WHERE id = $2"
                }
                _ => "UPDATE change_log SET entity_key = ? WHERE id = ?",
            },
            [key.into(), id.into()],
        ))
        .await?;
    }
    for sql in [
        "UPDATE change_log SET librarian_id = entity_key WHERE entity_type = 'Librarian'",
        "UPDATE change_log SET librarian_id = (SELECT m.librarian_id FROM memberships m WHERE m.id = change_log.entity_key), \
         association_id = (SELECT m.association_id FROM memberships m WHERE m.id = change_log.entity_key) \
         WHERE entity_type = 'Membership'",
        "UPDATE change_log SET country_code = (SELECT l.country_code FROM librarians l WHERE l.id = change_log.librarian_id), \
         listed = COALESCE((SELECT l.listed_in_directory FROM librarians l WHERE l.id = change_log.librarian_id), false) \
         WHERE librarian_id IS NOT NULL",
    ] {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// The integer key of a global id (`base64url("Type:key")`), decoded by hand so the
/// migrations need no codec crate.
fn decode_key(global_id: &str) -> Option<i32> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in global_id.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|a| *a == c)?;
        bits = (bits << 6) | <u32 as TryFrom<usize>>::try_from(value).ok()?;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(<u8 as TryFrom<u32>>::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    text.split_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::decode_key;

    #[test]
    fn decodes_the_key_of_a_global_id() {
        // base64url("Librarian:42") and base64url("Membership:7")
        assert_eq!(decode_key("TGlicmFyaWFuOjQy"), Some(42));
        assert_eq!(decode_key("TWVtYmVyc2hpcDo3"), Some(7));
        assert_eq!(decode_key("not base64!"), None);
    }
}
