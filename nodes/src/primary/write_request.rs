//! Validation of `POST /messages` bodies, done by hand so every mistake gets
//! a sentence a person can act on (serde's messages name Rust types).
//!
//! A well-formed body takes a typed fast path (one pass, the text decoded
//! once, no JSON tree: this is every write's path); anything it does not
//! accept as is goes through the hand validation, which decides and words
//! the answer exactly as before.

use crate::api::{int, ErrorBody, WriteBody};
use crate::api_error::ApiError;
use crate::body::json_object;
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub struct WriteRequest {
    /// Shared as is by the log, the batches and the waiting writes.
    pub message: Arc<str>,
    pub w: u64,
    pub timeout: Option<Duration>,
    /// All or nothing on every node, by two-phase commit (`w` is then the
    /// number of nodes).
    pub atomic: bool,
}

impl WriteRequest {
    /// Parses and validates a raw `POST /messages` body.
    pub fn from_json(
        bytes: &[u8],
        total_nodes: usize,
        default_w: u64,
        max_message_bytes: usize,
    ) -> Result<Self, ApiError> {
        // serde would also build the struct from an array of its fields.
        let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let typed = object.then(|| serde_json::from_slice::<WriteBody>(bytes).ok());
        if let Some(body) = typed.flatten() {
            let w = body.w.unwrap_or(default_w);
            let timeout_ok = body.timeout_ms.is_none_or(|t| t <= int::MAX);
            // Only bodies the hand validation would accept unchanged; the
            // rest get its answer below.
            if body.message.len() <= max_message_bytes
                && (1..=total_nodes as u64).contains(&w)
                && timeout_ok
                && body.atomic != Some(true)
            {
                return Ok(WriteRequest {
                    message: Arc::from(body.message),
                    w,
                    timeout: body.timeout_ms.map(Duration::from_millis),
                    atomic: false,
                });
            }
        }
        Self::parse(
            &json_object(bytes)?,
            total_nodes,
            default_w,
            max_message_bytes,
        )
    }

    pub fn parse(
        body: &Map<String, Value>,
        total_nodes: usize,
        default_w: u64,
        max_message_bytes: usize,
    ) -> Result<Self, ApiError> {
        let message: Arc<str> = match body.get("message") {
            Some(Value::String(s)) => Arc::from(s.as_str()),
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
        let atomic = match body.get("atomic") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "field `atomic` must be true or false",
                ))
            }
        };
        if atomic {
            for (field, why) in [
                ("w", "an atomic write goes to every node: leave out `w`"),
                (
                    "timeout_ms",
                    "an atomic write is decided within the primary's --prepare-timeout-ms: leave out `timeout_ms`",
                ),
            ] {
                if body.get(field).is_some_and(|v| !v.is_null()) {
                    return Err(ApiError::bad_request(why));
                }
            }
            return Ok(WriteRequest {
                message,
                w: total_nodes as u64,
                timeout: None,
                atomic,
            });
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
            atomic,
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
                timeout: None,
                atomic: false,
            })
        );
        let r = parse(json!({"message": "a", "atomic": true})).map_err(|e| e.body);
        assert_eq!(
            r.ok().map(|r| (r.w, r.atomic)),
            Some((3, true)),
            "atomic: every node"
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

    /// The fast path and the hand validation agree on every body.
    #[test]
    fn raw_bodies_get_the_same_answer_as_the_hand_validation() {
        for body in [
            r#"{"message": "a"}"#,
            r#" {"message": "a", "w": 3, "timeout_ms": 5, "extra": [1]}"#,
            r#"{"message": "a", "w": null, "timeout_ms": null}"#,
            r#"{"message": "a", "w": 2.0}"#,
            r#"{"message": "a", "atomic": true}"#,
            r#"{"message": "a", "atomic": false, "w": 2}"#,
            r#"{"message": "a", "atomic": true, "w": 2}"#,
            r#"{"message": "a", "atomic": true, "timeout_ms": 5}"#,
            r#"{"message": "a", "atomic": "yes"}"#,
            r#"{"message": "a", "message": "b"}"#,
            r#"{"message": "a", "w": 4}"#,
            r#"{"message": "a", "w": 0}"#,
            r#"{"message": "a", "timeout_ms": 9223372036854775808}"#,
            r#"{"message": "this is too long"}"#,
            r#"["a", 2, null]"#,
            r#"{"message": 5}"#,
            r#"{"message": "a"} x"#,
            "",
        ] {
            let raw = WriteRequest::from_json(body.as_bytes(), 3, 1, 10);
            let by_hand =
                json_object(body.as_bytes()).and_then(|m| WriteRequest::parse(&m, 3, 1, 10));
            match (raw, by_hand) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{body}"),
                (Err(a), Err(b)) => assert_eq!(
                    (a.status, format!("{:?}", a.body)),
                    (b.status, format!("{:?}", b.body)),
                    "{body}"
                ),
                (a, b) => panic!("{body}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
            }
        }
        let fast = WriteRequest::from_json(br#"{"message": "a", "message": "b"}"#, 3, 1, 10);
        assert_eq!(
            fast.ok().map(|r| r.message),
            Some(Arc::from("b")),
            "the last wins"
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
            (json!({"message": "a", "atomic": true, "w": 3}), 400),
            (
                json!({"message": "a", "atomic": true, "timeout_ms": 5}),
                400,
            ),
            (json!({"message": "a", "atomic": 1}), 400),
        ] {
            let err = parse(body.clone()).err();
            assert_eq!(err.map(|e| e.status.as_u16()), Some(status), "{body}");
        }
    }
}
