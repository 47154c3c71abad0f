//! Validation of `POST /messages` bodies, done by hand so every mistake gets
//! a sentence a person can act on (serde's messages name Rust types).

use crate::api::{int, ErrorBody};
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
            return Err(ApiError::with_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorBody {
                    limit_bytes: Some(max_message_bytes as u64),
                    ..ErrorBody::new(format!(
                        "message is {} bytes; the limit is {max_message_bytes}",
                        message.len()
                    ))
                },
            ));
        }
        let w = match body.get("w") {
            None | Some(Value::Null) => default_w,
            Some(v) => whole_number(v, "w")?,
        };
        if w < 1 || w > total_nodes as u64 {
            return Err(ApiError::with_body(
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    min: Some(1),
                    max: Some(total_nodes as u64),
                    ..ErrorBody::new(format!(
                        "w must be between 1 and {total_nodes} (the number of nodes, the primary included), got {}",
                        body.get("w").map(|v| v.to_string()).unwrap_or_else(|| w.to_string())
                    ))
                },
            ));
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

/// A JSON number that is a whole number in the documented `int64` range
/// (`2.0` is one, as JSON Schema says); negatives count as 0 for `w` (so the
/// range check reports them).
fn whole_number(v: &Value, field: &str) -> Result<u64, ApiError> {
    let negative = match v {
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) if u <= int::MAX => return Ok(u),
            (_, Some(i), _) => i < 0,
            (None, None, Some(f)) => match int::whole(f) {
                Some(u) => return Ok(u),
                None => f < 0.0 && f.fract() == 0.0,
            },
            _ => false,
        },
        _ => false,
    };
    match (negative, field) {
        (true, "w") => Ok(0),
        (true, _) => Err(ApiError::bad_request(format!(
            "field `{field}` must not be negative"
        ))),
        (false, _) => Err(ApiError::bad_request(format!(
            "field `{field}` must be a whole number from 0 to {}, got {v}",
            int::MAX
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
        // JSON Schema's integers include 2.0, and the document says integer.
        let r = parse(json!({"message": "a", "w": 2.0, "timeout_ms": 7.0})).map_err(|e| e.body);
        assert_eq!(
            r.ok().map(|r| (r.w, r.timeout)),
            Some((2, Some(Duration::from_millis(7))))
        );
    }

    #[test]
    fn refuses_bad_bodies_with_the_right_status() {
        for (body, status) in [
            (json!({}), 400),
            (json!({"message": 5}), 400),
            (json!({"message": "a", "w": "2"}), 400),
            (json!({"message": "a", "w": 1.5}), 400),
            (json!({"message": "a", "w": -2.0}), 400),
            (
                json!({"message": "a", "timeout_ms": 9_223_372_036_854_775_808u64}),
                400,
            ),
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
