//! Small helpers shared by the migrations, so every table is declared the same way.

use sea_orm_migration::prelude::*;

/// A foreign key from `table.column` to `target.id` (or `target.code` for countries).
pub fn fk(
    table: &str,
    column: &str,
    target: &str,
    target_column: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(target), Alias::new(target_column))
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index named `idx_{table}_{columns}` (unique when asked), created only if missing.
pub fn index(table: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let prefix = if unique { "uq" } else { "idx" };
    let mut stmt = Index::create();
    stmt.name(format!("{prefix}_{table}_{}", columns.join("_"))).table(Alias::new(table)).if_not_exists();
    for column in columns {
        stmt.col(Alias::new(*column));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

/// Creates each index of a table.
pub async fn create_indexes(manager: &SchemaManager<'_>, indexes: Vec<IndexCreateStatement>) -> Result<(), DbErr> {
    for index in indexes {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Drops tables in the order given (dependants first).
pub async fn drop_tables(manager: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
    for table in tables {
        manager.drop_table(Table::drop().table(Alias::new(*table)).if_exists().to_owned()).await?;
    }
    Ok(())
}
