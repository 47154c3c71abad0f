//! The benchmark's baseline (`replog node bare`, hidden): the least an HTTP
//! JSON append can cost on this machine with this stack (tokio, hyper, axum,
//! serde_json). `POST /messages {"message": …}` appends to a Vec under a
//! mutex and answers `201 {"seq": n}`; no replication, no logging per write.
//! replog's goodput is reported as a ratio of this one's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Deserialize)]
struct Append {
    message: String,
}

type Log = Arc<Mutex<Vec<String>>>;

pub fn router() -> Router {
    let log: Log = Arc::default();
    Router::new()
        .route("/messages", post(append))
        .with_state(log)
}

async fn append(State(log): State<Log>, Json(body): Json<Append>) -> (StatusCode, Json<Value>) {
    let seq = {
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.push(body.message);
        log.len()
    };
    (StatusCode::CREATED, Json(json!({ "seq": seq })))
}

/// Serves until SIGTERM or Ctrl-C, announcing its address like a real node.
pub async fn run(listener: TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "bare append server ready");
    let termination = replog_node::server::Termination::listen();
    replog_node::server::announce(addr);
    replog_node::server::serve(
        listener,
        router(),
        tokio::sync::watch::Sender::new(false),
        termination,
    )
    .await
}
