//! Opaque Relay global ids: `base64url("Type:key")`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{ApiError, ApiResult};

/// The object types that implement `Node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Country,
    Librarian,
    Association,
    Membership,
    Ambassador,
    Round,
    Application,
    Pairing,
    DiscussionTopic,
    Certificate,
    EngagementReport,
    SyncRun,
    Webhook,
    WebhookDelivery,
}

impl NodeKind {
    const ALL: [NodeKind; 14] = [
        Self::Country,
        Self::Librarian,
        Self::Association,
        Self::Membership,
        Self::Ambassador,
        Self::Round,
        Self::Application,
        Self::Pairing,
        Self::DiscussionTopic,
        Self::Certificate,
        Self::EngagementReport,
        Self::SyncRun,
        Self::Webhook,
        Self::WebhookDelivery,
    ];

    /// The kind whose GraphQL type name is `name`.
    pub fn from_name(name: &str) -> Option<NodeKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The GraphQL type name, which is also the prefix inside the id.
    pub fn name(self) -> &'static str {
        match self {
            Self::Country => "Country",
            Self::Librarian => "Librarian",
            Self::Association => "Association",
            Self::Membership => "Membership",
            Self::Ambassador => "Ambassador",
            Self::Round => "Round",
            Self::Application => "Application",
            Self::Pairing => "Pairing",
            Self::DiscussionTopic => "DiscussionTopic",
            Self::Certificate => "Certificate",
            Self::EngagementReport => "EngagementReport",
            Self::SyncRun => "SyncRun",
            Self::Webhook => "Webhook",
            Self::WebhookDelivery => "WebhookDelivery",
        }
    }
}

/// A decoded global id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub key: String,
}

impl GlobalId {
    /// The opaque id of an object with an integer primary key.
    pub fn encode(kind: NodeKind, key: impl std::fmt::Display) -> String {
        use std::fmt::Write;
        // Written into one buffer (a list of 50 participants encodes 50 ids; `format!`
        // with two arguments cost several hundred instructions each).
        let mut text = String::with_capacity(32);
        text.push_str(kind.name());
        text.push(':');
        let _ = write!(text, "{key}");
        URL_SAFE_NO_PAD.encode(text)
    }

    /// Decodes an id given in the argument `field`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming `field` when the id is not one this API issued.
    pub fn decode(field: &str, id: &str) -> ApiResult<Self> {
        let malformed = || ApiError::bad_input(field, format!("`{field}` is not a valid ID: {id:?}"));
        let bytes = URL_SAFE_NO_PAD.decode(id.trim_end_matches('=')).map_err(|_| malformed())?;
        let text = String::from_utf8(bytes).map_err(|_| malformed())?;
        let (name, key) = text.split_once(':').ok_or_else(malformed)?;
        let kind = NodeKind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(malformed)?;
        if key.is_empty() || key.len() > 64 || key.contains('\0') {
            return Err(malformed());
        }
        Ok(Self { kind, key: key.to_owned() })
    }

    /// Decodes an id that must be of `kind` with an integer key.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when it is malformed or names another type.
    pub fn decode_int(field: &str, id: &str, kind: NodeKind) -> ApiResult<i32> {
        let gid = Self::decode(field, id)?;
        if gid.kind != kind {
            return Err(ApiError::bad_input(
                field,
                format!("`{field}` must be a {} ID, got a {} ID", kind.name(), gid.kind.name()),
            ));
        }
        gid.int_key(field)
    }

    /// The key as an integer primary key.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the key is not a positive integer.
    pub fn int_key(&self, field: &str) -> ApiResult<i32> {
        self.key
            .parse::<i32>()
            .ok()
            .filter(|k| *k > 0)
            .ok_or_else(|| ApiError::bad_input(field, format!("`{field}` is not a valid ID")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for kind in NodeKind::ALL {
            let id = GlobalId::encode(kind, 42);
            let decoded = GlobalId::decode("id", &id).expect("decodes");
            assert_eq!(decoded.kind, kind);
            assert_eq!(decoded.key, "42");
        }
    }

    #[test]
    fn rejects_garbage_with_bad_user_input() {
        for bad in ["", "!!!", "Zm9v", &URL_SAFE_NO_PAD.encode("Nope:1"), &URL_SAFE_NO_PAD.encode("Librarian:")] {
            let err = GlobalId::decode("id", bad).expect_err("rejects");
            assert_eq!(err.code(), crate::error::ErrorCode::BadUserInput);
        }
    }

    #[test]
    fn rejects_an_id_of_another_type() {
        let round = GlobalId::encode(NodeKind::Round, 1);
        let err = GlobalId::decode_int("id", &round, NodeKind::Librarian).expect_err("rejects");
        assert_eq!(err.code(), crate::error::ErrorCode::BadUserInput);
        let negative = GlobalId::encode(NodeKind::Librarian, -3);
        assert!(GlobalId::decode_int("id", &negative, NodeKind::Librarian).is_err());
    }
}
