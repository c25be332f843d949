//! The caller of a request, resolved from the `Authorization` header and checked against
//! the database (a token whose subject is gone is refused).

use std::collections::HashSet;

use entities::{ambassador, association, librarian, pairing_member};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, sea_query::Query,
};

use super::{Claims, KeyRing, Role};
use crate::domain::now;
use crate::domain::{CountryCode, GlobalId, NodeKind};
use crate::error::{ApiError, ApiResult};

/// Who is asking, with the scope their token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    Admin {
        subject: String,
    },
    Ambassador {
        subject: String,
        countries: Vec<String>,
        librarian_id: Option<i32>,
    },
    Association {
        subject: String,
        association_id: i32,
    },
    /// `partners`: everyone the librarian was ever paired with.
    Librarian {
        subject: String,
        librarian_id: i32,
        partners: HashSet<i32>,
    },
}

impl Viewer {
    pub fn role(&self) -> Role {
        match self {
            Self::Anonymous => Role::Anonymous,
            Self::Admin { .. } => Role::Admin,
            Self::Ambassador { .. } => Role::Ambassador,
            Self::Association { .. } => Role::Association,
            Self::Librarian { .. } => Role::Librarian,
        }
    }

    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Admin { subject }
            | Self::Ambassador { subject, .. }
            | Self::Association { subject, .. }
            | Self::Librarian { subject, .. } => Some(subject),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Self::Admin { .. })
    }

    /// The librarian the caller is, if a librarian token.
    pub fn librarian_id(&self) -> Option<i32> {
        match self {
            Self::Librarian { librarian_id, .. } => Some(*librarian_id),
            Self::Ambassador { librarian_id, .. } => *librarian_id,
            _ => None,
        }
    }
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::Unauthenticated(message.into())
}

/// Resolves the caller from the value of the `Authorization` header (`None`: anonymous).
///
/// # Errors
/// `UNAUTHENTICATED` for anything but a valid bearer token of a live subject; database errors.
pub async fn authenticate(db: &DatabaseConnection, keys: &KeyRing, header: Option<&str>) -> ApiResult<Viewer> {
    let Some(header) = header else {
        return Ok(Viewer::Anonymous);
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refused("the Authorization header must be `Bearer <token>`"))?;
    let claims = keys.verify(token).map_err(|e| refused(e.to_string()))?;
    resolve(db, claims).await
}

async fn resolve(db: &DatabaseConnection, claims: Claims) -> ApiResult<Viewer> {
    // The subject is written to the audit log and sync runs: the NUL rule holds for
    // tokens as for any input.
    if claims.sub.contains('\0') {
        return Err(refused("the token's subject is invalid"));
    }
    let subject = claims.sub;
    match claims.role {
        Role::Admin => Ok(Viewer::Admin { subject }),
        Role::Anonymous => Err(refused("a token cannot grant the anonymous role")),
        Role::Ambassador => {
            let mut countries = Vec::new();
            for code in &claims.countries {
                let code =
                    CountryCode::parse("countries", code).map_err(|_| refused("the token's countries are invalid"))?;
                countries.push(code.as_str().to_owned());
            }
            if countries.is_empty() {
                return Err(refused("an ambassador token must name its countries"));
            }
            let librarian_id = match claims.librarian_id.as_deref() {
                None => None,
                Some(id) => {
                    let id = librarian_key(id)?;
                    live_librarian(db, id).await?;
                    let at = now();
                    let active = ambassador::Entity::find()
                        .filter(ambassador::Column::LibrarianId.eq(id))
                        .filter(ambassador::Column::CountryCode.is_in(countries.clone()))
                        .filter(ambassador::Column::TermFrom.lte(at))
                        .filter(
                            Condition::any()
                                .add(ambassador::Column::TermUntil.is_null())
                                .add(ambassador::Column::TermUntil.gt(at)),
                        )
                        .count(db)
                        .await?;
                    if active < countries.len() as u64 {
                        return Err(refused(
                            "the token names an ambassador appointment outside its term (ended, or not begun)",
                        ));
                    }
                    Some(id)
                }
            };
            Ok(Viewer::Ambassador { subject, countries, librarian_id })
        }
        Role::Association => {
            let id = claims.association_id.as_deref().ok_or_else(|| refused("an association token must name it"))?;
            let id = GlobalId::decode_int("association_id", id, NodeKind::Association)
                .map_err(|_| refused("the token's association id is invalid"))?;
            if association::Entity::find_by_id(id).one(db).await?.is_none() {
                return Err(refused("the token's association no longer exists"));
            }
            Ok(Viewer::Association { subject, association_id: id })
        }
        Role::Librarian => {
            let id = claims.librarian_id.as_deref().ok_or_else(|| refused("a librarian token must name them"))?;
            let id = librarian_key(id)?;
            live_librarian(db, id).await?;
            let mine = Query::select()
                .column(pairing_member::Column::PairingId)
                .from(pairing_member::Entity)
                .and_where(pairing_member::Column::LibrarianId.eq(id))
                .to_owned();
            let partners: Vec<i32> = pairing_member::Entity::find()
                .select_only()
                .column(pairing_member::Column::LibrarianId)
                .filter(pairing_member::Column::PairingId.in_subquery(mine))
                .filter(pairing_member::Column::LibrarianId.ne(id))
                .into_tuple()
                .all(db)
                .await?;
            Ok(Viewer::Librarian { subject, librarian_id: id, partners: partners.into_iter().collect() })
        }
    }
}

fn librarian_key(id: &str) -> ApiResult<i32> {
    GlobalId::decode_int("librarian_id", id, NodeKind::Librarian)
        .map_err(|_| refused("the token's librarian id is invalid"))
}

async fn live_librarian(db: &DatabaseConnection, id: i32) -> ApiResult<()> {
    match librarian::Entity::find_by_id(id).one(db).await? {
        Some(l) if l.erased_at.is_none() => Ok(()),
        _ => Err(refused("the token's librarian no longer exists")),
    }
}
