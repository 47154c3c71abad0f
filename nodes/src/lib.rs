//! replog's node library: the primary and secondary roles of a replicated
//! log, their HTTP API, replication, health and fault injection.

pub mod api;
pub mod api_error;
pub mod auth;
pub mod background;
pub mod backoff;
pub mod base_url;
pub mod body;
pub mod calendar;
pub mod config;
pub mod crash;
pub mod election;
pub mod entry;
pub mod fault_routes;
pub mod faults;
pub mod group_commit;
pub mod health;
pub mod journal;
pub mod leadership;
pub mod member;
pub mod parking;
pub mod participant;
pub mod parts;
pub mod primary;
pub mod progress;
pub mod quorum;
pub mod replicator;
pub mod rto;
pub mod secondary;
pub mod secondary_log;
pub mod server;
pub mod store;
pub mod timing_routes;
pub mod two_phase;
pub mod wal;

#[cfg(test)]
mod test_dir;

use std::sync::Arc;
use tokio::net::TcpListener;

/// Runs a primary on `listener` until a termination signal.
pub async fn run_primary(
    config: config::PrimaryConfig,
    listener: TcpListener,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let primary = primary::Primary::new(config).map_err(std::io::Error::other)?;
    primary.start_replication().await;
    tracing::info!(id = %primary.config.id, %addr, secondaries = primary.config.secondaries.len(), quorum = primary.config.quorum, "primary ready");
    let termination = server::Termination::listen();
    server::announce(addr);
    let stopping = primary.stopping.clone();
    server::serve(
        listener,
        primary::router(Arc::clone(&primary)),
        stopping,
        termination,
    )
    .await
}

/// Runs a member (automatic failover) on `listener` until a termination
/// signal.
pub async fn run_member(
    config: member::MemberConfig,
    listener: TcpListener,
) -> std::io::Result<()> {
    let member = member::Member::new(config).map_err(std::io::Error::other)?;
    member::serve(member, listener).await
}

/// Runs a secondary on `listener` until a termination signal.
pub async fn run_secondary(
    config: config::SecondaryConfig,
    listener: TcpListener,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let id = config.id.clone();
    let node = secondary::Secondary::new(config).map_err(std::io::Error::other)?;
    tracing::info!(%id, %addr, "secondary ready");
    let termination = server::Termination::listen();
    server::announce(addr);
    server::serve(
        listener,
        secondary::router(node),
        tokio::sync::watch::Sender::new(false),
        termination,
    )
    .await
}
