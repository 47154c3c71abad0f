//! The primary's HTTP API.

use super::answered::Answered;
use super::coordinator::AtomicError;
use super::{health_view, Primary, WaitError, WriteRequest};
use crate::api::journal::Happened;
use crate::api::{self, ErrorBody, MessageList, NodeHealth, WriteReply, REQUEST_ID_HEADER};
use crate::api_error::{self, ApiError};
use crate::auth::{self, Gate};
use crate::body::read_limited;
use crate::{fault_routes, timing_routes};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tracing::{debug, info, warn};

/// Room for the JSON around the largest allowed message.
const ENVELOPE_BYTES: usize = 4096;

/// Client routes are open; `/faults`, `/timing` (and any node-to-node route) need
/// the cluster token when there is one.
pub fn router(primary: Arc<Primary>) -> Router {
    let gate = Gate::new(primary.config.cluster_token.clone(), &primary.config.id);
    let faults = fault_routes::router(
        primary.config.faults_enabled,
        primary.faults.clone(),
        &primary.config.id,
        false,
        Some(primary.parking.clone()),
    );
    let timing = timing_routes::router(
        primary.config.faults_enabled,
        &primary.config.id,
        Some(primary.timing.clone()),
    );
    Router::new()
        .route(api::MESSAGES_PATH, get(list_messages).post(post_message))
        .route(api::HEALTH_PATH, get(health))
        .route(api::journal::EVENTS_PATH, get(events))
        .route(api::OPENAPI_PATH, get(api::openapi::serve))
        .with_state(primary)
        .merge(auth::protect(faults.merge(timing), gate.as_ref()))
        .fallback(api_error::not_found)
        .method_not_allowed_fallback(api_error::method_not_allowed)
}

async fn list_messages(State(primary): State<Arc<Primary>>) -> Json<MessageList> {
    let commit_seq = primary.stamper.commit_seq();
    let unconfirmed = primary.log.with_store(|s| s.unconfirmed());
    let visible = crate::two_phase::visible(primary.entries(), &unconfirmed);
    Json(MessageList::marked(visible, commit_seq))
}

async fn events(
    State(primary): State<Arc<Primary>>,
    RawQuery(query): RawQuery,
) -> Result<Json<api::journal::JournalPage>, ApiError> {
    crate::journal::serve(primary.journal.clone(), query).await
}

async fn health(State(primary): State<Arc<Primary>>) -> Json<NodeHealth> {
    Json(NodeHealth::Primary(health_view::render(&primary)))
}

async fn post_message(
    State(primary): State<Arc<Primary>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let received = tokio::time::Instant::now();
    // Only ever shown back, so anything printable of sane length will do.
    let request_id: Option<Arc<str>> = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(Arc::from);
    let config = &primary.config;
    // A JSON string can take up to 6 bytes per byte of text (\u00XX), but the
    // usual case is near 1:1; the exact limit is checked on the decoded text.
    let limit = config.max_message_bytes.saturating_add(ENVELOPE_BYTES);
    let body = read_limited(body, limit).await?;
    let request = WriteRequest::from_json(
        &body,
        config.total_nodes(),
        config.default_w,
        config.max_message_bytes,
    )?;
    // A write refused before it got a seq is still listed with the answers.
    let refused = |error: ApiError| {
        primary.answered.record(Answered {
            seq: None,
            w: request.w,
            acks: 0,
            status: error.status.as_u16(),
            message: request.message.clone(),
            request_id: request_id.clone(),
            received,
            answered: tokio::time::Instant::now(),
        });
        error
    };
    let mut quorum = primary.quorum_view();
    if quorum.read_only() {
        // Decide on fresh evidence, not on the last heartbeat.
        // Boxed, as the atomic path below: rare paths kept out of the
        // future every write allocates.
        quorum = Box::pin(primary.board.probe_for_quorum(primary.heartbeat())).await;
    }
    if quorum.read_only() {
        return Err(refused(
            ApiError::with_body(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody {
                    healthy: Some(quorum.healthy as u64),
                    required: Some(quorum.required as u64),
                    ..ErrorBody::new("read-only: no quorum")
                },
            )
            .retry_after(1),
        ));
    }
    if request.atomic {
        if let Some(error) = primary.storage_error() {
            warn!(%error, "write refused: storage");
            return Err(refused(ApiError::storage(&*error)));
        }
        return Ok(Box::pin(atomic_write(primary, request.message, request_id, received)).await);
    }
    let accepted = match primary.storage_error() {
        Some(error) => Err(error),
        None => primary
            .accept(request.message.clone(), request.w)
            .map_err(|e| Arc::from(e.to_string())),
    };
    let seq = match accepted {
        Ok(seq) => seq,
        Err(error) => {
            warn!(%error, "write refused: storage");
            return Err(refused(ApiError::storage(&*error)));
        }
    };
    let w = request.w;
    let message = request.message;
    // One info line per write (it teaches, and it is the main logging cost
    // on the hot path): "appended" where nothing is waited for, the
    // write-concern line where something is.
    if w <= 1 {
        info!(seq, w, "appended");
    } else {
        debug!(seq, w, "appended, waiting for the write concern");
    }
    let outcome = primary
        .wait_for_acks(seq, message.clone(), w, request.timeout, request_id.clone())
        .await;
    let (status, acks) = match &outcome {
        Ok(acks) => (StatusCode::CREATED, *acks),
        Err(WaitError::TimedOut { acks }) => (StatusCode::GATEWAY_TIMEOUT, *acks),
        Err(WaitError::ShuttingDown { acks }) | Err(WaitError::Storage { acks, .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, *acks)
        }
    };
    primary.journal.record(Happened::Answered {
        seq,
        status: status.as_u16(),
        acks,
    });
    primary.answered.record(Answered {
        seq: Some(seq),
        w,
        acks,
        status: status.as_u16(),
        message: message.clone(),
        request_id,
        received,
        answered: tokio::time::Instant::now(),
    });
    match outcome {
        Ok(acks) => {
            if w > 1 {
                info!(seq, w, acks, "appended; write concern met");
            }
            Ok((
                StatusCode::CREATED,
                Json(WriteReply {
                    seq,
                    message: message.to_string(),
                    w,
                    acks,
                }),
            )
                .into_response())
        }
        Err(WaitError::TimedOut { acks }) => {
            warn!(
                seq,
                w, acks, "write concern not met in time (message stays stored)"
            );
            Err(ApiError::with_body(
                StatusCode::GATEWAY_TIMEOUT,
                stored_but_waiting("write concern not met in time", seq, acks, w),
            ))
        }
        Err(WaitError::ShuttingDown { acks }) => {
            let stepped_down = primary.leadership.lock().role() != crate::election::Role::Leader;
            let why = if stepped_down {
                "this node stopped being the primary before the write concern was met: \
                 the message may be rolled back by the next primary"
            } else {
                "primary is shutting down before the write concern was met"
            };
            Err(ApiError::with_body(
                StatusCode::SERVICE_UNAVAILABLE,
                stored_but_waiting(why, seq, acks, w),
            ))
        }
        Err(WaitError::Storage { acks, error }) => {
            warn!(seq, w, acks, %error, "write not made durable on the primary");
            Err(ApiError::with_body(
                StatusCode::SERVICE_UNAVAILABLE,
                stored_but_waiting(
                    &format!(
                        "{error} (the message has seq {seq} but is not on the primary's disk)"
                    ),
                    seq,
                    acks,
                    w,
                ),
            )
            .retry_after(1))
        }
    }
}

/// An atomic write, decided by two-phase commit in a task of its own (a
/// client that hangs up does not stop a decision half-way): 201 committed
/// or 409 aborted, each with every participant's vote.
async fn atomic_write(
    primary: Arc<Primary>,
    message: Arc<str>,
    request_id: Option<Arc<str>>,
    received: tokio::time::Instant,
) -> Response {
    let total = primary.config.total_nodes() as u64;
    let task = tokio::spawn(primary.clone().atomic_write(message.clone()));
    let decided = match task.await {
        Ok(decided) => decided,
        Err(e) => Err(AtomicError::Storage(Arc::from(format!(
            "the atomic write's task failed: {e}"
        )))),
    };
    let (status, seq, response) = match decided {
        Ok(d) if d.outcome == api::Outcome::Committed => (
            StatusCode::CREATED,
            Some(d.seq),
            (
                StatusCode::CREATED,
                Json(api::AtomicReply {
                    seq: d.seq,
                    message: message.to_string(),
                    outcome: d.outcome,
                    votes: d.votes,
                }),
            )
                .into_response(),
        ),
        Ok(d) => (
            StatusCode::CONFLICT,
            Some(d.seq),
            ApiError::with_body(
                StatusCode::CONFLICT,
                ErrorBody {
                    seq: Some(d.seq),
                    outcome: Some(d.outcome),
                    votes: Some(d.votes),
                    ..ErrorBody::new(format!("aborted: {}", d.why))
                },
            )
            .into_response(),
        ),
        // Stopped before a decision (aborted: presumed abort), or a
        // member's commit not yet applied by a majority (the next primary
        // decides).
        Err(e @ (AtomicError::SteppedDown { seq } | AtomicError::Unconfirmed { seq })) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(seq),
            ApiError::with_body(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody {
                    seq: Some(seq),
                    outcome: matches!(e, AtomicError::SteppedDown { .. })
                        .then_some(api::Outcome::Aborted),
                    ..ErrorBody::new(e.to_string())
                },
            )
            .into_response(),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            ApiError::storage(e.to_string())
                .retry_after(1)
                .into_response(),
        ),
    };
    if let Some(seq) = seq {
        primary.journal.record(Happened::Answered {
            seq,
            status: status.as_u16(),
            acks: 0,
        });
    }
    primary.answered.record(Answered {
        seq,
        w: total,
        acks: 0,
        status: status.as_u16(),
        message,
        request_id,
        received,
        answered: tokio::time::Instant::now(),
    });
    response
}

/// The body of a write that was stored but stopped waiting for its `w`.
fn stored_but_waiting(error: &str, seq: u64, acks: u64, w: u64) -> ErrorBody {
    ErrorBody {
        seq: Some(seq),
        acks: Some(acks),
        w: Some(w),
        stored: Some(true),
        ..ErrorBody::new(error)
    }
}
