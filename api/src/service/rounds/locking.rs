//! The round's lock: every step of a round runs in a transaction that holds the round's
//! row and checks the round's state first.

use entities::round;
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr};

use crate::domain::Action;
use crate::domain::RoundStatus;
use crate::domain::input::{UserError, UserErrorCode};
use crate::error::{ApiError, ApiResult};

/// Begins a write transaction on the round: locks its row (a no-op update: a row lock on
/// PostgreSQL; SQLite's write transactions are serial already) and checks its state.
pub(crate) async fn lock(
    db: &DatabaseConnection,
    round_id: i32,
    action: Action,
    allowed: &[RoundStatus],
) -> ApiResult<Result<(DatabaseTransaction, round::Model), Vec<UserError>>> {
    let txn = crate::db::begin_write(db).await?;
    round::Entity::update_many()
        .col_expr(round::Column::UpdatedAt, Expr::col(round::Column::UpdatedAt))
        .filter(round::Column::Id.eq(round_id))
        .exec(&txn)
        .await?;
    let Some(model) = round::Entity::find_by_id(round_id).one(&txn).await? else {
        return Ok(Err(vec![UserError {
            field: "roundId".into(),
            code: UserErrorCode::NotFound,
            message: "no such round".into(),
        }]));
    };
    check_state(&model, action, allowed)?;
    Ok(Ok((txn, model)))
}

/// The `CONFLICT` of a step the round's state does not allow.
pub(crate) fn check_state(model: &round::Model, action: Action, allowed: &[RoundStatus]) -> ApiResult<()> {
    if allowed.iter().any(|s| s.as_str() == model.status) {
        return Ok(());
    }
    let expected: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    Err(ApiError::Conflict(format!(
        "the round is {}; {} needs a round that is {}",
        model.status,
        action.doing(),
        expected.join(" or ")
    )))
}
