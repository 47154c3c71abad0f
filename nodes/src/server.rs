//! Serving a node: the readiness line, signals, and a bounded graceful stop.

use axum::Router;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Prints the line a parent process or test waits for, and flushes it.
pub fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    // If stdout is gone there is nobody to tell; serving still makes sense.
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = out.flush();
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves `router` until a termination signal. `stopping` is set first so
/// that blocked writers answer at once; open connections then get a short
/// grace period, because a client waiting on w must not hold the node hostage.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stopping: watch::Sender<bool>,
) -> std::io::Result<()> {
    let mut stop_rx = stopping.subscribe();
    let graceful = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    // Connection info lets middleware name the peer (auth logs it once).
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(graceful);
    let signal = async move {
        termination_signal().await;
        tracing::info!("shutting down");
        stopping.send_replace(true);
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    tokio::select! {
        result = server => result,
        _ = signal => Ok(()),
    }
}
