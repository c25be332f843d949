//! Verification (and, for HS256, minting) of tokens.
//!
//! A token without `kid` must be HS256 with the configured secret. A token with `kid` is
//! verified with that public key and only with the algorithm the key was configured for, so
//! a token that names another algorithm (`none`, or HS256 "signed" with a public key) is
//! refused before any signature is computed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, bail};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    jwk::{JwkSet, KeyAlgorithm},
};
use secrecy::ExposeSecret;

use super::Claims;
use crate::service::relations::FastHash;
use crate::settings::Settings;

/// The most verified tokens a [`KeyRing`] remembers; when it has this many, it forgets
/// them all and starts again (callers come back with the same few tokens).
const VERIFIED_MOST: usize = 4096;

/// Why a token was refused. The message goes to the client; it never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token names an unknown key id")]
    UnknownKey,
    #[error("the token's algorithm is not accepted for its key")]
    WrongAlgorithm,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    #[error("the token's audience is not accepted")]
    WrongAudience,
    #[error("the token's claims are invalid")]
    BadClaims,
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match err.kind() {
            K::ExpiredSignature => Self::Expired,
            K::ImmatureSignature => Self::NotYetValid,
            K::InvalidSignature => Self::BadSignature,
            K::InvalidIssuer => Self::WrongIssuer,
            K::InvalidAudience => Self::WrongAudience,
            K::InvalidAlgorithm | K::InvalidAlgorithmName => Self::WrongAlgorithm,
            K::MissingRequiredClaim(_) | K::Json(_) => Self::BadClaims,
            _ => Self::Malformed,
        }
    }
}

/// The keys the server accepts, and the checks every token goes through.
pub struct KeyRing {
    /// Tokens verified already, with their claims (see [`KeyRing::verify`]).
    verified: Mutex<HashMap<Box<str>, Claims, FastHash>>,
    secret: (EncodingKey, DecodingKey),
    public: HashMap<String, (DecodingKey, Algorithm)>,
    issuer: String,
    audience: String,
    leeway: u64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("public_kids", &self.public.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl KeyRing {
    /// The keys of `settings`: the HS256 secret, public key PEM files (`kid:ALG:path`, comma
    /// separated) and a JWKS file.
    ///
    /// # Errors
    /// A weak secret ([`Settings::check_auth_secret`]), an unreadable or invalid key file, an unsupported algorithm, a duplicate `kid`.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        settings.check_auth_secret().map_err(anyhow::Error::msg)?;
        let secret = settings.auth_secret.expose_secret().as_bytes();
        let mut ring = Self {
            verified: Mutex::default(),
            secret: (EncodingKey::from_secret(secret)?, DecodingKey::from_secret(secret)?),
            public: HashMap::new(),
            issuer: settings.auth_issuer.clone(),
            audience: settings.auth_audience.clone(),
            leeway: settings.auth_leeway_secs,
        };
        for spec in settings.auth_public_keys.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = spec.splitn(3, ':');
            let (Some(kid), Some(alg), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                bail!("auth_public_keys entry {spec:?} is not kid:ALG:path");
            };
            let pem = std::fs::read(path).with_context(|| format!("reading public key {path}"))?;
            let (key, alg) = match alg {
                "RS256" => (DecodingKey::from_rsa_pem(&pem)?, Algorithm::RS256),
                "EdDSA" => (DecodingKey::from_ed_pem(&pem)?, Algorithm::EdDSA),
                other => bail!("unsupported algorithm {other} for key {kid} (RS256 or EdDSA)"),
            };
            ring.add(kid, key, alg)?;
        }
        if let Some(path) = settings.auth_jwks_file.as_deref().filter(|p| !p.is_empty()) {
            ring.add_jwks(Path::new(path))?;
        }
        Ok(ring)
    }

    fn add(&mut self, kid: &str, key: DecodingKey, alg: Algorithm) -> anyhow::Result<()> {
        if self.public.insert(kid.to_owned(), (key, alg)).is_some() {
            bail!("duplicate key id {kid}");
        }
        Ok(())
    }

    fn add_jwks(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading JWKS {}", path.display()))?;
        let set: JwkSet = serde_json::from_str(&text).context("parsing the JWKS")?;
        for jwk in &set.keys {
            let kid = jwk.common.key_id.as_deref().context("a JWKS key has no kid")?;
            let alg = match jwk.common.key_algorithm {
                Some(KeyAlgorithm::RS256) => Algorithm::RS256,
                Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
                other => bail!("JWKS key {kid}: algorithm {other:?} is not supported (RS256 or EdDSA)"),
            };
            self.add(kid, DecodingKey::from_jwk(jwk)?, alg)?;
        }
        Ok(())
    }

    /// The issuer and audience that minted tokens carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs `claims` with the HS256 secret.
    ///
    /// # Errors
    /// Only if the claims cannot be serialised.
    pub fn mint(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(encode(&Header::new(Algorithm::HS256), claims, &self.secret.0)?)
    }

    /// Checks signature, algorithm, `exp`, `nbf`, `iss` and `aud` (with the leeway).
    ///
    /// A token verified before is remembered with its claims (keyed by all its bytes, so
    /// only the very token verified is found), and only its times are checked again:
    /// decoding a token and computing its signature was about 2% of the server's work on
    /// a read, for the same few tokens over and over.
    ///
    /// # Errors
    /// Why the token is refused.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// [`KeyRing::verify`] at `now` (seconds since the epoch) for a token verified before;
    /// a token verified now is checked against the clock.
    fn verify_at(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let known = self.verified.lock().ok().and_then(|verified| verified.get(token).cloned());
        if let Some(claims) = known {
            // As jsonwebtoken checks them, with the leeway.
            if claims.exp < now.saturating_sub(self.leeway) {
                return Err(TokenError::Expired);
            }
            if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(self.leeway)) {
                return Err(TokenError::NotYetValid);
            }
            return Ok(claims);
        }
        let claims = self.verify_signed(token)?;
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_MOST {
                verified.clear();
            }
            verified.insert(token.into(), claims.clone());
        }
        Ok(claims)
    }

    /// The checks of [`KeyRing::verify`], all of them.
    fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let (key, alg) = match header.kid.as_deref() {
            None => (&self.secret.1, Algorithm::HS256),
            Some(kid) => {
                let (key, alg) = self.public.get(kid).ok_or(TokenError::UnknownKey)?;
                (key, *alg)
            }
        };
        if header.alg != alg {
            return Err(TokenError::WrongAlgorithm);
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(decode::<Claims>(token, key, &validation)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Audience, Role};

    fn ring() -> KeyRing {
        let mut settings = Settings::for_database("sqlite::memory:");
        settings.auth_leeway_secs = 10;
        KeyRing::from_settings(&settings).expect("keys")
    }

    fn claims(ring: &KeyRing, now: u64, exp: u64, nbf: Option<u64>) -> Claims {
        Claims {
            sub: "ambassador-1".into(),
            role: Role::Ambassador,
            countries: vec!["ZA".into()],
            association_id: None,
            librarian_id: None,
            iss: ring.issuer().to_owned(),
            aud: Audience::One(ring.audience().to_owned()),
            iat: now,
            exp,
            nbf,
        }
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_its_time_is_over() {
        let ring = ring();
        let now = jsonwebtoken::get_current_timestamp();
        let token = ring.mint(&claims(&ring, now, now + 60, Some(now - 5))).expect("minted");
        assert_eq!(ring.verify(&token).expect("valid").sub, "ambassador-1");
        // Remembered: the same answer again, and the times checked at each use.
        assert_eq!(ring.verify_at(&token, now + 60 + 10).expect("within the leeway").sub, "ambassador-1");
        assert!(matches!(ring.verify_at(&token, now + 60 + 11), Err(TokenError::Expired)));
        assert!(matches!(ring.verify_at(&token, now - 5 - 11), Err(TokenError::NotYetValid)));
        assert!(ring.verify_at(&token, now - 5 - 10).is_ok());
    }

    #[test]
    fn only_the_very_token_verified_is_remembered() {
        let ring = ring();
        let now = jsonwebtoken::get_current_timestamp();
        let token = ring.mint(&claims(&ring, now, now + 60, None)).expect("minted");
        ring.verify(&token).expect("valid");
        // The same claims with one signature byte changed: verified, and refused.
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).expect("text");
        assert!(matches!(ring.verify(&forged), Err(TokenError::BadSignature)));
        assert!(ring.verify(&token).is_ok());
        // An expired token is never remembered.
        let expired = ring.mint(&claims(&ring, now - 100, now - 50, None)).expect("minted");
        assert!(matches!(ring.verify(&expired), Err(TokenError::Expired)));
        assert!(ring.verified.lock().expect("lock").get(expired.as_str()).is_none());
    }
}
