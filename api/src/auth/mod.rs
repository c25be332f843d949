//! Who is asking: JWT verification (`keys`), the claims a token carries (`claims`), the
//! resolved caller (`viewer`) and what each caller may see (`policy`).

mod claims;
mod keys;
pub mod policy;
mod viewer;

pub use claims::{Audience, Claims, Role, TokenScope};
pub use keys::{KeyRing, TokenError};
pub use viewer::{Viewer, authenticate};
