//! Validation of `POST /messages` bodies, done by hand so every mistake gets
//! a sentence a person can act on (serde's messages name Rust types).

use crate::api_error::ApiError;
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub struct WriteRequest {
    pub message: String,
    pub w: u64,
    pub timeout: Option<Duration>,
}

impl WriteRequest {
    pub fn parse(
        body: &Map<String, Value>,
        total_nodes: usize,
        default_w: u64,
        max_message_bytes: usize,
    ) -> Result<Self, ApiError> {
        let message = match body.get("message") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ApiError::bad_request("field `message` must be a string")),
            None => return Err(ApiError::bad_request("missing field `message` (a string)")),
        };
        if message.len() > max_message_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "message is {} bytes; the limit is {max_message_bytes}",
                    message.len()
                ),
            )
            .with("limit_bytes", max_message_bytes as u64));
        }
        let w = match body.get("w") {
            None | Some(Value::Null) => default_w,
            Some(v) => whole_number(v, "w")?,
        };
        if w < 1 || w > total_nodes as u64 {
            return Err(ApiError::bad_request(format!(
                "w must be between 1 and {total_nodes} (the number of nodes, the primary included), got {}",
                body.get("w").map(|v| v.to_string()).unwrap_or_else(|| w.to_string())
            ))
            .with("min", 1)
            .with("max", total_nodes as u64));
        }
        let timeout = match body.get("timeout_ms") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Duration::from_millis(whole_number(v, "timeout_ms")?)),
        };
        Ok(WriteRequest {
            message,
            w,
            timeout,
        })
    }
}

/// A JSON number that is a whole number; negatives count as 0 (so range checks report them).
fn whole_number(v: &Value, field: &str) -> Result<u64, ApiError> {
    match v {
        Value::Number(n) if n.is_u64() => Ok(n.as_u64().unwrap_or(0)),
        Value::Number(n) if n.is_i64() => {
            if field == "w" {
                Ok(0)
            } else {
                Err(ApiError::bad_request(format!(
                    "field `{field}` must not be negative"
                )))
            }
        }
        _ => Err(ApiError::bad_request(format!(
            "field `{field}` must be a whole number, got {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<WriteRequest, ApiError> {
        let Value::Object(map) = v else {
            panic!("test bodies are objects")
        };
        WriteRequest::parse(&map, 3, 1, 10)
    }

    #[test]
    fn accepts_good_bodies_and_defaults_w() {
        let r = parse(json!({"message": "a"})).map_err(|e| e.body);
        assert_eq!(
            r.ok(),
            Some(WriteRequest {
                message: "a".into(),
                w: 1,
                timeout: None
            })
        );
        let r = parse(json!({"message": "a", "w": 3, "timeout_ms": 5})).map_err(|e| e.body);
        assert_eq!(
            r.ok().map(|r| (r.w, r.timeout)),
            Some((3, Some(Duration::from_millis(5))))
        );
    }

    #[test]
    fn refuses_bad_bodies_with_the_right_status() {
        for (body, status) in [
            (json!({}), 400),
            (json!({"message": 5}), 400),
            (json!({"message": "a", "w": "2"}), 400),
            (json!({"message": "a", "w": 1.5}), 400),
            (json!({"message": "a", "w": 0}), 400),
            (json!({"message": "a", "w": -1}), 400),
            (json!({"message": "a", "w": 4}), 400),
            (json!({"message": "a", "timeout_ms": -1}), 400),
            (json!({"message": "this is too long"}), 413),
        ] {
            let err = parse(body.clone()).err();
            assert_eq!(err.map(|e| e.status.as_u16()), Some(status), "{body}");
        }
    }
}
