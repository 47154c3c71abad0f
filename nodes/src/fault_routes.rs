//! `GET/POST/DELETE /faults`, the same on both roles. Without `--faults`
//! they answer 404, as if they did not exist.

use crate::api::{FaultPatch, Faults, ReleaseRequest, Released, FAULTS_PATH, RELEASE_PATH};
use crate::api_error::ApiError;
use crate::body::read_json;
use crate::faults::FaultSet;
use crate::parking::{Parking, Release};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

#[derive(Clone)]
struct FaultControl {
    enabled: bool,
    set: Arc<FaultSet>,
    node_id: String,
    /// Whether replication requests reach this node (`fail_next` needs them).
    receives_replication: bool,
    /// Where the node parks the requests it sends in step mode (`hold`);
    /// only a primary sends any.
    parking: Option<Arc<Parking>>,
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
    parking: Option<Arc<Parking>>,
) -> Router {
    let control = FaultControl {
        enabled,
        set,
        node_id: node_id.to_string(),
        receives_replication,
        parking,
    };
    Router::new()
        .route(FAULTS_PATH, get(show).post(merge).delete(clear))
        .route(RELEASE_PATH, post(release))
        .with_state(control)
}

/// `POST /faults/release`: lets parked requests go (`{"id": N}`,
/// `{"all": true}`, or `{}` for the oldest).
async fn release(State(c): State<FaultControl>, body: Body) -> Result<Json<Released>, ApiError> {
    c.check()?;
    let request: ReleaseRequest = read_json(body, 4096).await?;
    let Some(parking) = &c.parking else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "{} parks nothing: only a primary sends node-to-node requests",
                c.node_id
            ),
        ));
    };
    let which = match (request.id, request.all) {
        (Some(_), true) => {
            return Err(ApiError::bad_request("give id or all, not both"));
        }
        (Some(id), false) => Release::Id(id),
        (None, true) => Release::All,
        (None, false) => Release::Oldest,
    };
    let released = parking.release(which);
    if released.is_empty() {
        let why = match which {
            Release::Id(id) => format!("no parked request has id {id}"),
            _ => "nothing is parked (hold the node first: POST /faults {\"hold\": true})".into(),
        };
        return Err(ApiError::new(StatusCode::NOT_FOUND, why));
    }
    Ok(Json(Released { released }))
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
    if patch.hold == Some(true) && c.parking.is_none() {
        return Err(ApiError::bad_request(format!(
            "hold parks the node-to-node requests a node sends, and {} (a secondary) sends none; \
             hold the primary",
            c.node_id
        )));
    }
    if patch.crash_after.is_some() && c.parking.is_none() {
        return Err(ApiError::bad_request(format!(
            "crash_after ends a coordinator of atomic writes, and {} (a secondary) coordinates none; \
             set it on the primary",
            c.node_id
        )));
    }
    if patch.vote == Some(crate::api::Vote::No) && !c.receives_replication {
        return Err(ApiError::bad_request(format!(
            "vote applies to a participant of atomic writes, and {} (the primary) is their coordinator; \
             set it on a secondary",
            c.node_id
        )));
    }
    if let Some((field, _)) = receive_only.iter().find(|(_, set)| *set) {
        if !c.receives_replication {
            return Err(ApiError::bad_request(format!(
                "{field} applies to replication requests a node receives, and {} (the primary) receives none; \
                 use block or delay_ms here, or {field} on a secondary",
                c.node_id
            )));
        }
    }
    let unhold = patch.hold == Some(false);
    let now = c.set.merge(patch);
    if unhold {
        // Leaving step mode lets everything parked go.
        if let Some(parking) = &c.parking {
            parking.release(Release::All);
        }
    }
    tracing::info!(node = %c.node_id, "faults set: {now}");
    Ok(Json(now))
}

async fn clear(State(c): State<FaultControl>) -> Result<Json<Faults>, ApiError> {
    c.check()?;
    tracing::info!(node = %c.node_id, "faults cleared");
    let cleared = c.set.clear();
    if let Some(parking) = &c.parking {
        parking.release(Release::All);
    }
    Ok(Json(cleared))
}
