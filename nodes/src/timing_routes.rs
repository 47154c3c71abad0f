//! `GET/POST /timing`: the primary's live timers. An admin route like
//! `/faults`: only with `--faults` (404 otherwise, as if it did not exist)
//! and behind the cluster token when there is one.
//!
//! A secondary keeps no timers (it answers heartbeats and batches when
//! they come), so it answers 404 saying so: nothing there to slow down.

use crate::api::{Timing, TimingPatch, TIMING_PATH};
use crate::api_error::ApiError;
use crate::body::read_json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;

#[derive(Clone)]
struct TimingControl {
    enabled: bool,
    node_id: String,
    /// `None` on a secondary.
    timing: Option<watch::Sender<Timing>>,
}

impl TimingControl {
    fn check(&self) -> Result<&watch::Sender<Timing>, ApiError> {
        if !self.enabled {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "admin endpoints are off on this node (start it with --faults)",
            ));
        }
        self.timing.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "{} is a secondary: it keeps no timers (heartbeats, timeouts and retries \
                     are the primary's); set them on the primary",
                    self.node_id
                ),
            )
        })
    }
}

/// `timing` is the primary's; a secondary passes `None`.
pub fn router(enabled: bool, node_id: &str, timing: Option<watch::Sender<Timing>>) -> Router {
    let control = TimingControl {
        enabled,
        node_id: node_id.to_string(),
        timing,
    };
    Router::new()
        .route(TIMING_PATH, get(show).post(merge))
        .with_state(control)
}

async fn show(State(c): State<TimingControl>) -> Result<Json<Timing>, ApiError> {
    Ok(Json(*c.check()?.borrow()))
}

async fn merge(State(c): State<TimingControl>, body: Body) -> Result<Json<Timing>, ApiError> {
    let timing = c.check()?;
    let patch: TimingPatch = read_json(body, 64 * 1024).await?;
    let now = timing.borrow().merged(patch);
    now.validate()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    timing.send_replace(now);
    tracing::info!(node = %c.node_id, "timing set: {now}");
    Ok(Json(now))
}
