//! The HTTP client used by the CLI commands and the controller.

use serde_json::Value;
use std::time::Duration;

/// A client for talking to nodes: direct (no proxy), with a connect timeout.
/// Request timeouts are per call, because a write may legitimately block.
/// Fails rather than fall back to a client without these settings.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A node's answer: status and JSON body (or the raw text wrapped as `error`).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `error` text of a failed reply.
    pub fn error(&self) -> String {
        self.body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| self.body.to_string())
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, String> {
    let response = request.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(describe)?;
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "error": text.trim() }));
    Ok(Reply { status, body })
}

pub async fn get_json(url: &str, timeout: Duration) -> Result<Reply, String> {
    send(client()?.get(url).timeout(timeout)).await
}

fn describe(e: reqwest::Error) -> String {
    let url = e.url().map(|u| u.to_string()).unwrap_or_default();
    if e.is_timeout() {
        format!("no answer from {url} in time")
    } else if e.is_connect() {
        format!("cannot connect to {url}")
    } else {
        format!("request to {url} failed: {e}")
    }
}

/// Joins a base URL and a path without doubling the slash.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}
