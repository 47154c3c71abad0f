//! `GET/POST/DELETE /faults`, the same on both roles. Without `--faults`
//! they answer 404, as if they did not exist.

use crate::api::{FaultPatch, Faults, FAULTS_PATH};
use crate::api_error::ApiError;
use crate::body::read_json;
use crate::faults::FaultSet;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

#[derive(Clone)]
struct FaultControl {
    enabled: bool,
    set: Arc<FaultSet>,
    node_id: String,
    /// Whether replication requests reach this node (`fail_next` needs them).
    receives_replication: bool,
}

impl FaultControl {
    fn check(&self) -> Result<(), ApiError> {
        if self.enabled {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "fault injection is off on this node (start it with --faults)",
            ))
        }
    }
}

pub fn router(
    enabled: bool,
    set: Arc<FaultSet>,
    node_id: &str,
    receives_replication: bool,
) -> Router {
    let control = FaultControl {
        enabled,
        set,
        node_id: node_id.to_string(),
        receives_replication,
    };
    Router::new()
        .route(FAULTS_PATH, get(show).post(merge).delete(clear))
        .with_state(control)
}

async fn show(State(c): State<FaultControl>) -> Result<Json<Faults>, ApiError> {
    c.check()?;
    Ok(Json(c.set.snapshot()))
}

async fn merge(State(c): State<FaultControl>, body: Body) -> Result<Json<Faults>, ApiError> {
    c.check()?;
    let patch: FaultPatch = read_json(body, 64 * 1024).await?;
    let receive_only = [
        ("fail_next", patch.fail_next.is_some_and(|n| n > 0)),
        ("lose_seq", patch.lose_seq.is_some_and(|n| n > 0)),
    ];
    if let Some((field, _)) = receive_only.iter().find(|(_, set)| *set) {
        if !c.receives_replication {
            return Err(ApiError::bad_request(format!(
                "{field} applies to replication requests a node receives, and {} (the primary) receives none; \
                 use block or delay_ms here, or {field} on a secondary",
                c.node_id
            )));
        }
    }
    let now = c.set.merge(patch);
    tracing::info!(node = %c.node_id, "faults set: {now}");
    Ok(Json(now))
}

async fn clear(State(c): State<FaultControl>) -> Result<Json<Faults>, ApiError> {
    c.check()?;
    tracing::info!(node = %c.node_id, "faults cleared");
    Ok(Json(c.set.clear()))
}
