//! The claims of an Interlib token: the standard ones plus the role and its scope.

use serde::{Deserialize, Serialize};

/// The role a token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "lowercase")]
#[graphql(name = "Role")]
pub enum Role {
    /// Programme directors: everything.
    Admin,
    /// A country ambassador: their countries' participants, applications and pairings.
    Ambassador,
    /// A partner association (a machine client): its own members.
    Association,
    /// A participant: their own record, their partners, the directory.
    Librarian,
    /// No token: public programme facts only.
    Anonymous,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "ambassador" => Some(Self::Ambassador),
            "association" => Some(Self::Association),
            "librarian" => Some(Self::Librarian),
            _ => None,
        }
    }
}

/// `aud`: one audience or several (RFC 7519 allows both).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The payload of a token. `association_id` and `librarian_id` are global ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// ISO 3166-1 alpha-2 codes an ambassador looks after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub librarian_id: Option<String>,
    pub iss: String,
    pub aud: Audience,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// The scope a new token grants, as given on the command line: ids are global ids or
/// plain integer keys.
#[derive(Debug, Clone, Default)]
pub struct TokenScope {
    pub countries: Vec<String>,
    pub association: Option<String>,
    pub librarian: Option<String>,
}

impl Claims {
    /// Claims for a new token of `role`, valid from now for `ttl`.
    ///
    /// # Errors
    /// A scope that does not fit the role (an ambassador without countries, an
    /// association token without its id...) or a malformed id or country code.
    pub fn for_role(
        role: Role,
        scope: &TokenScope,
        subject: Option<String>,
        ttl: std::time::Duration,
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<Self> {
        use crate::domain::{CountryCode, GlobalId, NodeKind};
        let gid = |kind: NodeKind, id: &str| -> anyhow::Result<String> {
            let key = match id.parse::<i32>() {
                Ok(key) => key,
                Err(_) => GlobalId::decode_int("id", id, kind)
                    .map_err(|_| anyhow::anyhow!("{id:?} is not a {} id", kind.name()))?,
            };
            Ok(GlobalId::encode(kind, key))
        };
        let countries = scope
            .countries
            .iter()
            .map(|c| CountryCode::parse("country", c).map(|c| c.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| anyhow::anyhow!("invalid country code in {:?}", scope.countries))?;
        let association_id = scope.association.as_deref().map(|id| gid(NodeKind::Association, id)).transpose()?;
        let librarian_id = scope.librarian.as_deref().map(|id| gid(NodeKind::Librarian, id)).transpose()?;
        match role {
            Role::Ambassador if countries.is_empty() => anyhow::bail!("an ambassador token needs --country"),
            Role::Association if association_id.is_none() => anyhow::bail!("an association token needs --association"),
            Role::Librarian if librarian_id.is_none() => anyhow::bail!("a librarian token needs --librarian"),
            Role::Anonymous => anyhow::bail!("anonymous callers need no token"),
            _ => {}
        }
        let sub = subject.unwrap_or_else(|| match role {
            Role::Ambassador => format!("ambassador:{}", countries.join("+")),
            Role::Association => format!("association:{}", association_id.clone().unwrap_or_default()),
            Role::Librarian => format!("librarian:{}", librarian_id.clone().unwrap_or_default()),
            _ => "admin".to_owned(),
        });
        let now = jsonwebtoken::get_current_timestamp();
        Ok(Self {
            sub,
            role,
            countries,
            association_id,
            librarian_id,
            iss: issuer.to_owned(),
            aud: Audience::One(audience.to_owned()),
            iat: now,
            exp: now + ttl.as_secs(),
            nbf: Some(now),
        })
    }
}
