//! The HTTP client used by the CLI commands and the controller. Every
//! answer is decoded into the node API's own types (`replog_node::api`):
//! a 2xx body into the type the caller asks for, any other status into
//! [`ErrorBody`].

use replog_node::api::ErrorBody;
use serde::de::DeserializeOwned;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a request to a node did not produce the expected answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client itself could not be built.
    #[error("{0}")]
    Setup(String),
    /// There was no node to send the request to.
    #[error("{0}")]
    NoNode(String),
    /// No connection could be made (nothing listens, or it was refused).
    #[error("cannot connect to {url}")]
    Unreachable { url: String },
    /// The node did not answer within the request's timeout.
    #[error("no answer from {url} in time")]
    Timeout { url: String },
    /// The connection failed in some other way, e.g. closed mid-answer.
    #[error("request to {url} failed: {why}")]
    Transport { url: String, why: String },
    /// The node answered with a non-2xx status and this error body (boxed:
    /// its optional fields would make every `Result` of a request large).
    #[error("HTTP {code}: {body}")]
    Status { code: u16, body: Box<ErrorBody> },
    /// A 2xx answer whose body is not what the API documents.
    #[error("unexpected answer from {url}: {why}")]
    BadBody { url: String, why: String },
}

impl ClientError {
    /// The HTTP status, when the node answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The text of the node's `error` field, or this error's description.
    pub fn message(&self) -> String {
        match self {
            ClientError::Status { body, .. } => body.error.clone(),
            other => other.to_string(),
        }
    }

    fn from_reqwest(e: reqwest::Error, url: &str) -> Self {
        let url = e
            .url()
            .map(|u| u.to_string())
            .unwrap_or_else(|| url.to_string());
        if e.is_timeout() {
            ClientError::Timeout { url }
        } else if e.is_connect() {
            ClientError::Unreachable { url }
        } else if e.is_decode() {
            ClientError::BadBody {
                url,
                why: e.to_string(),
            }
        } else {
            // reqwest's own text ("error sending request for url (…)")
            // repeats the URL and hides the cause: the innermost source
            // says it ("connection closed before message completed").
            let mut cause: &dyn std::error::Error = &e;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            ClientError::Transport {
                url,
                why: cause.to_string(),
            }
        }
    }
}

/// A client for talking to nodes: direct (no proxy), with a connect timeout.
/// Request timeouts are per call, because a write may legitimately block.
/// Redirects are not followed by the client itself: [`write`] follows a
/// member's 307 to the primary knowingly (and says so), and nothing else
/// expects one. Fails rather than fall back to a client without these
/// settings.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Decodes an answer: a 2xx body as `T`, anything else as an [`ErrorBody`]
/// (a body that is not one, e.g. a proxy's text, becomes its `error`).
fn decode<T: DeserializeOwned>(url: &str, status: u16, bytes: &[u8]) -> Result<T, ClientError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(bytes).map_err(|e| ClientError::BadBody {
            url: url.to_string(),
            why: e.to_string(),
        });
    }
    let body = serde_json::from_slice::<ErrorBody>(bytes).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        ErrorBody::new(if text.is_empty() {
            "(empty body)".to_string()
        } else {
            text.to_string()
        })
    });
    Err(ClientError::Status {
        code: status,
        body: Box::new(body),
    })
}

/// Sends `request` and decodes its answer.
pub async fn send<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, ClientError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| ClientError::from_reqwest(e, ""))?;
    let url = request.url().to_string();
    let response = client
        .execute(request)
        .await
        .map_err(|e| ClientError::from_reqwest(e, &url))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ClientError::from_reqwest(e, &url))?;
    decode(&url, status, &bytes)
}

/// GET `url` with a timeout, decoded as `T`.
pub async fn get<T: DeserializeOwned>(url: &str, timeout: Duration) -> Result<T, ClientError> {
    send(
        client()
            .map_err(ClientError::Setup)?
            .get(url)
            .timeout(timeout),
    )
    .await
}

/// [`get`] for plain threads outside the async runtime (the Docker probes).
pub fn get_blocking<T: DeserializeOwned>(url: &str, timeout: Duration) -> Result<T, ClientError> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .build()
        .map_err(|e| ClientError::from_reqwest(e, url))?;
    let response = client
        .get(url)
        .send()
        .map_err(|e| ClientError::from_reqwest(e, url))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .map_err(|e| ClientError::from_reqwest(e, url))?;
    decode(url, status, &bytes)
}

/// How many times one write follows a redirect: members point at the
/// primary they know, and during an election two may point at each other
/// for a moment.
const MAX_REDIRECTS: usize = 8;
/// How long to wait before asking again while members elect a primary,
/// when the answer names no `Retry-After`.
const ELECTION_RETRY: Duration = Duration::from_millis(250);

/// What a write went through before its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteTrail {
    /// The URLs it was redirected to, in order (member → primary).
    pub redirects: Vec<String>,
    /// How many times it was told an election is in progress.
    pub elections: u32,
}

/// POSTs a client write to `target()` (any node: the primary, or a member
/// that knows it), following a member's `307` to the primary it names and
/// retrying a `503 no primary: election in progress` until `deadline` (the
/// write itself, once a primary took it, blocks as long as its `w` needs:
/// no request timeout). `target` is asked again for every retry after an
/// election answer, so a caller that learns of the new primary meanwhile
/// (the dashboard polls every node) sends there, and one that knows several
/// members can try another than a cut-off one. `headers` go on every
/// attempt (the request id). `reach` turns a redirect's (primary id, URL)
/// into the URL to use: members name each other as they reach each other
/// (`http://n2:7000` inside a Docker network), which a client elsewhere may
/// know by another address. Returns the reply and the trail, or the last
/// error.
pub async fn write<T: DeserializeOwned>(
    client: &reqwest::Client,
    target: &mut (dyn FnMut() -> String + Send),
    reach: &(dyn Fn(Option<&str>, &str) -> String + Sync),
    body: &replog_node::api::WriteBody,
    headers: &[(&'static str, String)],
    deadline: std::time::Instant,
) -> (Result<T, ClientError>, WriteTrail) {
    let mut trail = WriteTrail::default();
    let mut base_url = join(&target(), replog_node::api::MESSAGES_PATH);
    let mut url = base_url.clone();
    // Redirects followed since the client last asked a target.
    let mut hops = 0;
    loop {
        let mut request = client.post(&url).json(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let error = match send::<T>(request).await {
            Ok(reply) => return (Ok(reply), trail),
            Err(e) => e,
        };
        let next = match redirect_of(&error) {
            Some(Retry::To(primary)) if hops < MAX_REDIRECTS => Some(Retry::To(primary)),
            // Members that point at each other, or at a primary that has
            // just died: its successor is being elected.
            Some(Retry::To(_)) => Some(Retry::Election),
            None if url != base_url && matches!(error, ClientError::Unreachable { .. }) => {
                Some(Retry::Election)
            }
            other => other,
        };
        match next {
            Some(Retry::To(primary)) => {
                hops += 1;
                let id = match &error {
                    ClientError::Status { body, .. } => body.primary.as_deref(),
                    _ => None,
                };
                let primary = reach(id, &primary);
                url = join(&primary, replog_node::api::MESSAGES_PATH);
                trail.redirects.push(primary);
            }
            Some(Retry::Election) if std::time::Instant::now() + ELECTION_RETRY < deadline => {
                trail.elections += 1;
                hops = 0;
                tokio::time::sleep(ELECTION_RETRY).await;
                // Asked afresh: that member answers with the new primary
                // once one is elected.
                base_url = join(&target(), replog_node::api::MESSAGES_PATH);
                url = base_url.clone();
            }
            _ => return (Err(error), trail),
        }
    }
}

/// What a write's error answer asks the client to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Retry {
    /// 307 from a member that is not the primary: go to this base URL.
    To(String),
    /// 503 while members elect a primary: ask again shortly.
    Election,
}

fn redirect_of(error: &ClientError) -> Option<Retry> {
    let ClientError::Status { code, body } = error else {
        return None;
    };
    match code {
        307 | 308 => body.primary_url.clone().map(Retry::To),
        // Read-only and storage refusals are 503 too, but they name no
        // election: those are the answer, not a reason to wait.
        503 if body.error.starts_with("no primary") => Some(Retry::Election),
        _ => None,
    }
}

/// Joins a base URL and a path without doubling the slash.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use replog_node::api::WriteReply;

    #[test]
    fn decodes_success_error_bodies_and_foreign_text() {
        let ok: Result<WriteReply, _> =
            decode("u", 201, br#"{"seq":1,"message":"a","w":2,"acks":2}"#);
        assert_eq!(ok.map(|r| (r.seq, r.acks)), Ok((1, 2)));
        let read_only: Result<WriteReply, _> = decode(
            "u",
            503,
            br#"{"error":"read-only: no quorum","healthy":1,"required":2}"#,
        );
        let err = read_only.err();
        assert_eq!(err.as_ref().and_then(ClientError::status), Some(503));
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("HTTP 503: read-only: no quorum (healthy=1, required=2)")
        );
        let proxy: Result<WriteReply, _> = decode("u", 502, b"Bad Gateway\n");
        assert_eq!(
            proxy.err().map(|e| e.message()).as_deref(),
            Some("Bad Gateway")
        );
        let wrong: Result<WriteReply, _> = decode("u", 200, br#"{"seq":"one"}"#);
        assert!(matches!(wrong, Err(ClientError::BadBody { .. })));
    }

    #[test]
    fn a_redirect_and_an_election_are_told_from_real_refusals() {
        let answer = |status: u16, body: &[u8]| decode::<WriteReply>("u", status, body).err();
        let moved = answer(
            307,
            br#"{"error":"not the primary","primary":"n2","primary_url":"http://h:2","term":3}"#,
        );
        assert_eq!(
            moved.as_ref().and_then(redirect_of),
            Some(Retry::To("http://h:2".into()))
        );
        let electing = answer(
            503,
            br#"{"error":"no primary: election in progress","term":3}"#,
        );
        assert_eq!(
            electing.as_ref().and_then(redirect_of),
            Some(Retry::Election)
        );
        // Read-only is an answer, not a reason to wait.
        let read_only = answer(
            503,
            br#"{"error":"read-only: no quorum","healthy":1,"required":2}"#,
        );
        assert_eq!(read_only.as_ref().and_then(redirect_of), None);
        // A 307 that names no primary cannot be followed.
        let bare = answer(307, br#"{"error":"not the primary"}"#);
        assert_eq!(bare.as_ref().and_then(redirect_of), None);
    }
}
