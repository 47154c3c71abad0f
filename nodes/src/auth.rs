//! The cluster token: a shared secret that node-to-node routes (replication,
//! heartbeats, later votes) and `/faults` require as
//! `Authorization: Bearer <token>`. Client routes (`/messages`, `/health`)
//! stay open.
//!
//! - [`ClusterToken`] holds the secret; its `Debug` never prints it.
//! - [`Gate`] is the axum middleware that checks it, in constant time, and
//!   logs a rejected peer once rather than once per request.
//! - [`authorization`] builds the header a node sends to its peers.

use crate::api_error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The environment variable every role reads the token from.
pub const TOKEN_ENV: &str = "REPLOG_CLUSTER_TOKEN";

/// The shared secret of one cluster.
#[derive(Clone)]
pub struct ClusterToken(String);

impl ClusterToken {
    /// A token as given by a flag or the environment: non-empty, printable
    /// ASCII without spaces (it travels in an HTTP header).
    pub fn new(token: &str) -> Result<Self, String> {
        if token.is_empty() {
            return Err("the cluster token must not be empty".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the cluster token must be printable ASCII without spaces (e.g. hex)".into(),
            );
        }
        Ok(Self(token.to_string()))
    }

    /// A fresh random token: 32 hex characters (128 bits).
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    /// The secret itself, to hand to a child process or container.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), presented)
    }
}

impl std::fmt::Debug for ClusterToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterToken(<redacted>)")
    }
}

/// Equality whose time depends only on the lengths: every byte pair is
/// XOR-folded, with no early exit at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// `Authorization: Bearer <token>`, marked sensitive so it is never logged.
pub fn authorization(token: &ClusterToken) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|e| format!("the cluster token cannot be sent in a header: {e}"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Adds the `Authorization` header to a node's outgoing headers when the
/// cluster has a token.
pub fn insert_authorization(
    headers: &mut HeaderMap,
    token: Option<&ClusterToken>,
) -> Result<(), String> {
    if let Some(token) = token {
        headers.insert(header::AUTHORIZATION, authorization(token)?);
    }
    Ok(())
}

/// The check in front of a node's protected routes, shared by all of them
/// so that a peer is logged once whichever route it tried.
#[derive(Clone)]
pub struct Gate {
    token: ClusterToken,
    node_id: String,
    /// Addresses already logged as rejected.
    rejected: Arc<Mutex<HashSet<String>>>,
    /// Requests refused so far, from anyone (logs show each peer once).
    refused: Arc<AtomicU64>,
}

impl Gate {
    /// None without a token: the routes stay open.
    pub fn new(token: Option<ClusterToken>, node_id: &str) -> Option<Self> {
        token.map(|token| Self {
            token,
            node_id: node_id.to_string(),
            rejected: Arc::default(),
            refused: Arc::default(),
        })
    }

    /// Requests refused so far for a missing or wrong token.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// True the first time `peer` is rejected.
    fn first_rejection(&self, peer: &str) -> bool {
        self.rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer.to_string())
    }
}

/// Requires the token on every route of `router` (not on its fallback, so
/// unknown paths still answer 404). Without a gate the router is unchanged.
pub fn protect(router: Router, gate: Option<&Gate>) -> Router {
    match gate {
        Some(gate) => {
            router.route_layer(middleware::from_fn_with_state(gate.clone(), require_token))
        }
        None => router,
    }
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Missing,
    Wrong,
}

fn check(token: &ClusterToken, headers: &HeaderMap) -> Result<(), Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?
        .as_bytes();
    let presented = value
        .strip_prefix(b"Bearer ")
        .or_else(|| value.strip_prefix(b"bearer "))
        .ok_or(Refusal::Wrong)?;
    if token.matches(presented) {
        Ok(())
    } else {
        Err(Refusal::Wrong)
    }
}

async fn require_token(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let refusal = match check(&gate.token, request.headers()) {
        Ok(()) => return next.run(request).await,
        Err(refusal) => refusal,
    };
    gate.refused.fetch_add(1, Ordering::Relaxed);
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "an unknown address".into());
    let message = match refusal {
        Refusal::Missing => "missing cluster token: send Authorization: Bearer <token>",
        Refusal::Wrong => "wrong cluster token",
    };
    if gate.first_rejection(&peer) {
        tracing::warn!(
            node = %gate.node_id,
            %peer,
            path = %request.uri().path(),
            "rejected a request from {peer}: {message} (further rejections from this address are not logged)"
        );
    }
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"replog\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_plain_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"Secret"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"secret", b""));
    }

    #[test]
    fn debug_hides_the_secret() {
        let token = ClusterToken::new("hunter2-very-secret").unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{token:?} {:?}", Some(token.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        let header = authorization(&token).unwrap_or_else(|e| panic!("{e}"));
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("hunter2"));
    }

    #[test]
    fn tokens_are_validated_and_generated() {
        assert!(ClusterToken::new("").is_err());
        assert!(ClusterToken::new("has space").is_err());
        assert!(ClusterToken::new("tab\there").is_err());
        assert!(ClusterToken::new("héllo").is_err());
        assert!(ClusterToken::new("abc123-_.~+/=").is_ok());
        let (a, b) = (ClusterToken::generate(), ClusterToken::generate());
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn the_header_is_checked() {
        let token = ClusterToken::new("t0k").unwrap_or_else(|e| panic!("{e}"));
        let mut headers = HeaderMap::new();
        assert_eq!(check(&token, &headers), Err(Refusal::Missing));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert_eq!(check(&token, &headers), Err(Refusal::Wrong));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic t0k"));
        assert_eq!(check(&token, &headers), Err(Refusal::Wrong));
        insert_authorization(&mut headers, Some(&token)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(check(&token, &headers), Ok(()));
    }
}
