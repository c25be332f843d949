//! Sealed cursors: a page cursor carries the sort key of a row (a name, a timestamp), which
//! keyset pagination needs back, but its holder must learn nothing from it and must not be
//! able to forge one. So the cursor is encrypted and authenticated (AES-256-GCM from
//! `ring`, already in the tree through rustls) with a key derived from the server's secret:
//! every replica sharing the secret reads every replica's cursors, and a cursor that was
//! tampered with, or made by another deployment, is refused.
//!
//! The nonce is derived from the plaintext (HMAC-SHA256 under a second derived key), so the
//! same row in the same order always gets the same cursor, and two different plaintexts
//! never share a nonce (short of a 96-bit collision).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{aead, hmac};

const NONCE: usize = aead::NONCE_LEN;

/// The keys cursors are sealed with.
#[derive(Clone, Copy)]
pub struct CursorKeys {
    seal: [u8; 32],
    nonce: [u8; 32],
}

impl std::fmt::Debug for CursorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKeys(..)")
    }
}

fn derive(secret: &[u8], purpose: &str) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), purpose.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(tag.as_ref());
    key
}

impl CursorKeys {
    /// Keys derived from the server's secret (one purpose each).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self { seal: derive(secret, "interlib/cursor/seal/v1"), nonce: derive(secret, "interlib/cursor/nonce/v1") }
    }

    fn key(&self) -> Option<aead::LessSafeKey> {
        aead::UnboundKey::new(&aead::AES_256_GCM, &self.seal).ok().map(aead::LessSafeKey::new)
    }

    /// `plaintext` sealed into a URL-safe cursor.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.nonce), plaintext);
        let mut nonce = [0u8; NONCE];
        nonce.copy_from_slice(&tag.as_ref()[..NONCE]);
        let mut sealed = plaintext.to_vec();
        let Some(key) = self.key() else { return String::new() };
        if key
            .seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::empty(), &mut sealed)
            .is_err()
        {
            return String::new();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The plaintext of a cursor this server sealed; `None` for anything else.
    pub fn open(&self, cursor: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if bytes.len() < NONCE + aead::AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plaintext = self.key()?.open_in_place(nonce, aead::Aad::empty(), &mut sealed).ok()?;
        Some(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reveal_nothing() {
        let keys = CursorKeys::from_secret(b"a secret of at least thirty-two bytes");
        let plaintext = br#"{"o":"UPDATED_AT_ASC","k":["2024-01-05T19:57:00Z",958]}"#;
        let cursor = keys.seal(plaintext);
        assert_eq!(keys.open(&cursor).as_deref(), Some(&plaintext[..]));
        assert_eq!(cursor, keys.seal(plaintext), "deterministic");
        let decoded = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        assert!(!String::from_utf8_lossy(&decoded).contains("2024"), "the key is not in clear");
        assert!(!String::from_utf8_lossy(&decoded).contains("UPDATED"));
    }

    #[test]
    fn tampered_foreign_and_plain_cursors_are_refused() {
        let keys = CursorKeys::from_secret(b"a secret of at least thirty-two bytes");
        let cursor = keys.seal(br#"{"o":"NAME_ASC","k":["Ada",1]}"#);
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(keys.open(&URL_SAFE_NO_PAD.encode(&bytes)), None, "one bit flipped");
        let other = CursorKeys::from_secret(b"another secret of thirty-two bytes!!");
        assert_eq!(other.open(&cursor), None, "another deployment's key");
        assert_eq!(keys.open(&URL_SAFE_NO_PAD.encode(br#"{"o":"NAME_ASC","k":["Ada",1]}"#)), None, "unsealed");
        assert_eq!(keys.open("garbage!"), None);
        assert_eq!(keys.open(""), None);
    }
}
