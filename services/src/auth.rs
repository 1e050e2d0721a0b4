//! Who is calling: the admin token (account level) or a session's API key.
//! Tokens are random, stored only as SHA-256 hashes and compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::session::model::SessionId;
use crate::store::Store;

const ADMIN_PREFIX: &str = "wga_";
const SESSION_KEY_PREFIX: &str = "wgs_";

/// The authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Session(SessionId),
}

impl Principal {
    pub fn require_admin(self) -> Result<()> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Session(_) => Err(Error::permission_denied(
                "this call needs the admin token; a session API key cannot make it",
            )),
        }
    }

    /// Allows the admin token, or the API key of `session` itself.
    pub fn require_session(self, session: SessionId) -> Result<()> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Session(own) if own == session => Ok(()),
            Principal::Session(_) => Err(Error::permission_denied(format!(
                "this API key belongs to another session and cannot act on sessions/{session}"
            ))),
        }
    }
}

#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    admin_hashes: Vec<[u8; 32]>,
}

/// The outcome of setting up the admin token on start.
pub enum AdminToken {
    /// Taken from configuration.
    Configured,
    /// Already generated on an earlier start.
    Stored,
    /// Generated now: show it once, it is never shown again.
    Generated(String),
}

impl Authenticator {
    /// Sets up the admin token: the configured one, or the stored hash of one
    /// generated earlier, or a new one generated now.
    pub async fn init(store: Store, configured: Option<&str>) -> Result<(Self, AdminToken)> {
        let (admin_hashes, outcome) = match configured {
            Some(token) => (vec![hash(token)], AdminToken::Configured),
            None => {
                let stored = store.admin_token_hashes().await?;
                if stored.is_empty() {
                    let token = generate_token(ADMIN_PREFIX);
                    store
                        .insert_admin_token_hash(&hex::encode(hash(&token)))
                        .await?;
                    (vec![hash(&token)], AdminToken::Generated(token))
                } else {
                    let hashes = stored.iter().filter_map(|h| decode_hash(h)).collect();
                    (hashes, AdminToken::Stored)
                }
            }
        };
        Ok((
            Self {
                store,
                admin_hashes,
            },
            outcome,
        ))
    }

    /// Authenticates the bearer token a caller presented.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal> {
        let token = bearer.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::unauthenticated("missing credentials: send `authorization: Bearer <admin token or session API key>`")
        })?;
        let presented = hash(token);
        // Check every admin hash without stopping early, so timing does not say which matched.
        let is_admin = self
            .admin_hashes
            .iter()
            .fold(subtle::Choice::from(0), |acc, h| acc | h.ct_eq(&presented));
        if bool::from(is_admin) {
            return Ok(Principal::Admin);
        }
        // Boxed: admin calls never need this query's (large) future.
        let found = Box::pin(
            self.store
                .session_id_by_api_key_hash(&hex::encode(presented)),
        )
        .await?;
        if let Some((session, stored)) = found
            && decode_hash(&stored).is_some_and(|stored| bool::from(stored.ct_eq(&presented)))
        {
            return Ok(Principal::Session(session));
        }
        Err(Error::unauthenticated(
            "invalid credentials: the token is not a valid admin token or session API key",
        ))
    }
}

/// A new session API key and the hash to store.
pub fn new_session_key() -> (String, String) {
    let key = generate_token(SESSION_KEY_PREFIX);
    let stored = hex::encode(hash(&key));
    (key, stored)
}

/// A random secret of 32 hex characters (the shape of seed 001's webhook secret).
pub fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `prefix` + 64 hex characters (256 random bits).
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn hash_hex(token: &str) -> String {
    hex::encode(hash(token))
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// Extracts the token from an `authorization` header value (`Bearer <token>`;
/// seed 001 also documents `Bearer token <token>`).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = rest.trim();
    Some(rest.strip_prefix("token ").map(str::trim).unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = generate_token("wga_");
        let b = generate_token("wga_");
        assert_ne!(a, b);
        assert!(a.starts_with("wga_") && a.len() == 68);
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer token abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn principals() {
        assert!(Principal::Admin.require_admin().is_ok());
        assert!(Principal::Session(1).require_admin().is_err());
        assert!(Principal::Session(1).require_session(1).is_ok());
        assert!(Principal::Session(1).require_session(2).is_err());
        assert!(Principal::Admin.require_session(2).is_ok());
    }
}
