//! The primary's HTTP API.

use super::{health_view, Primary, WaitError, WriteRequest};
use crate::api_error::{self, ApiError};
use crate::auth::{self, Gate};
use crate::body::read_json_object;
use crate::fault_routes;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use tracing::{info, warn};

/// Room for the JSON around the largest allowed message.
const ENVELOPE_BYTES: usize = 4096;

/// Client routes are open; `/faults` (and any node-to-node route) needs
/// the cluster token when there is one.
pub fn router(primary: Arc<Primary>) -> Router {
    let gate = Gate::new(primary.config.cluster_token.clone(), &primary.config.id);
    let faults = fault_routes::router(
        primary.config.faults_enabled,
        primary.faults.clone(),
        &primary.config.id,
    );
    Router::new()
        .route("/messages", get(list_messages).post(post_message))
        .route("/health", get(health))
        .with_state(primary)
        .merge(auth::protect(faults, gate.as_ref()))
        .fallback(api_error::not_found)
        .method_not_allowed_fallback(api_error::method_not_allowed)
}

async fn list_messages(State(primary): State<Arc<Primary>>) -> Json<Value> {
    Json(json!({ "messages": primary.entries() }))
}

async fn health(State(primary): State<Arc<Primary>>) -> Json<Value> {
    Json(health_view::render(&primary))
}

async fn post_message(
    State(primary): State<Arc<Primary>>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let config = &primary.config;
    // A JSON string can take up to 6 bytes per byte of text (\u00XX), but the
    // usual case is near 1:1; the exact limit is checked on the decoded text.
    let limit = config.max_message_bytes.saturating_add(ENVELOPE_BYTES);
    let body = read_json_object(body, limit).await?;
    let request = WriteRequest::parse(
        &body,
        config.total_nodes(),
        config.default_w,
        config.max_message_bytes,
    )?;
    let healthy = primary.quorum_healthy();
    if healthy < config.quorum {
        return Err(
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "read-only: no quorum")
                .with("healthy", healthy as u64)
                .with("required", config.quorum as u64)
                .retry_after(1),
        );
    }
    let w = request.w;
    let seq = primary.append(request.message.clone());
    info!(seq, w, "appended");
    match primary.wait_for_acks(seq, w, request.timeout).await {
        Ok(acks) => {
            info!(seq, w, acks, "write concern met");
            Ok((
                StatusCode::CREATED,
                Json(json!({ "seq": seq, "message": request.message, "w": w, "acks": acks })),
            ))
        }
        Err(WaitError::TimedOut { acks }) => {
            warn!(
                seq,
                w, acks, "write concern not met in time (message stays stored)"
            );
            Err(
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "write concern not met in time")
                    .with("seq", seq)
                    .with("acks", acks)
                    .with("w", w)
                    .with("stored", true),
            )
        }
        Err(WaitError::ShuttingDown { acks }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "primary is shutting down before the write concern was met",
        )
        .with("seq", seq)
        .with("acks", acks)
        .with("w", w)
        .with("stored", true)),
    }
}
