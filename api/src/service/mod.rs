//! Business rules and queries. Nothing in here knows about HTTP or GraphQL types beyond the
//! domain enums; every function takes a database connection and returns `ApiResult`.

pub mod applications;
pub mod cells;
pub mod countries;
pub mod country_share;
pub mod cursor;
pub mod export;
pub mod feed;
pub mod fetch;
pub mod filters;
pub mod journal;
pub mod kept;
pub mod keys;
pub mod live;
pub mod member_files;
pub mod memberships;
pub mod orderings;
pub mod page;
pub mod partners;
pub mod people;
pub mod relations;
pub mod rounds;
pub mod rows;
pub mod scim;
pub mod shapes;
pub mod stats;
pub mod sync;
pub mod topics;
pub mod webhooks;

pub use crate::domain::now;
