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

/// Ctrl-C and SIGTERM, listened for from the moment it is made: a signal
/// that arrives before anyone awaits [`Termination::recv`] is kept, not
/// lost (nor left to the default action, which kills the process
/// ungracefully). Make it before announcing readiness: a parent may send
/// SIGTERM as soon as it reads the readiness line.
pub struct Termination {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Termination {
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Termination {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Termination {}
    }

    /// Resolves on the next Ctrl-C or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(s) => {
                        s.recv().await;
                    }
                    // Could not listen: never resolves, the other one may.
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.interrupt) => {}
                _ = next(&mut self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM arriving from now on.
pub async fn termination_signal() {
    Termination::listen().recv().await
}

/// Serves `router` until a termination signal. `stopping` is set first so
/// that blocked writers answer at once; open connections then get a short
/// grace period, because a client waiting on w must not hold the node hostage.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stopping: watch::Sender<bool>,
    mut termination: Termination,
) -> std::io::Result<()> {
    let mut stop_rx = stopping.subscribe();
    let graceful = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    // Connection info lets middleware name the peer (auth logs it once).
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(graceful);
    let signal = async move {
        termination.recv().await;
        tracing::info!("shutting down");
        stopping.send_replace(true);
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    tokio::select! {
        result = server => result,
        _ = signal => Ok(()),
    }
}
