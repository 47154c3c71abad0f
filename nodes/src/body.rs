//! Reading JSON request bodies ourselves, so that every rejection (too large,
//! not JSON) is our JSON error instead of axum's plain-text one.

use crate::api::ErrorBody;
use crate::api_error::ApiError;
use axum::body::Body;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads at most `limit` bytes; a larger body is refused with 413.
pub async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::with_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorBody {
                limit_bytes: Some(limit as u64),
                ..ErrorBody::new(format!("request body is larger than {limit} bytes"))
            },
        )
    })
}

/// Reads a body that must be a JSON object.
pub async fn read_json_object(
    body: Body,
    limit: usize,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    json_object(&read_limited(body, limit).await?)
}

/// Parses bytes that must be a JSON object.
pub fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
    }
}

/// Reads a body into a typed value; shape errors become 400 with serde's words.
/// Every body of this API is a JSON object; serde would also build a struct
/// from an array of its fields (`[null, null]`), so anything that does not
/// start like an object is refused first (cheaply: replication batches are
/// large, and this is their path too).
pub async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = read_limited(body, limit).await?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::bad_request(
            "invalid body: it must be a JSON object",
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}
