//! The load generator: `clients` keep-alive HTTP/1.1 connections, each a
//! task on the one tokio runtime sending `POST` after `POST` (closed loop:
//! a client sends its next request when the previous one is answered). It
//! speaks hyper's connection API directly: no pool lookups, no URL parsing
//! or JSON encoding per request (the body is encoded once), so as little of
//! the shared CPU as possible goes to the client.

use super::stats::{Errors, Sample};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long the measured part of a run lasts.
#[derive(Clone, Copy, Debug)]
pub enum Length {
    For(Duration),
    Requests(u64),
}

/// One run of load against one target.
#[derive(Clone, Debug)]
pub struct Load {
    pub clients: usize,
    /// The request body, JSON-encoded once.
    pub body: Bytes,
    /// Requests before the measured part; not counted.
    pub warmup: Duration,
    pub length: Length,
    /// A request unanswered this long counts as a `timeout` error.
    pub timeout: Duration,
}

/// `POST {"message": "xx…x", "w": w}` (no `w` for the bare server).
pub fn body(size: usize, w: Option<u64>) -> Bytes {
    let message = "x".repeat(size);
    let value = match w {
        Some(w) => serde_json::json!({ "message": message, "w": w }),
        None => serde_json::json!({ "message": message }),
    };
    Bytes::from(value.to_string())
}

/// Where requests go: a plain-HTTP URL split once.
#[derive(Debug)]
struct Endpoint {
    /// host:port, for connecting and for the Host header.
    authority: String,
    path: String,
}

impl Endpoint {
    fn parse(base: &str, path: &str) -> Result<Self, String> {
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("{base}: only plain http:// URLs can be benchmarked"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(format!("{base}: no host in the URL"));
        }
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Endpoint {
            authority,
            path: path.to_string(),
        })
    }
}

type Conn = SendRequest<Full<Bytes>>;

async fn connect(endpoint: &Endpoint) -> Result<Conn, String> {
    let stream = TcpStream::connect(&endpoint.authority)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", endpoint.authority))?;
    // Small requests and answers: never wait to coalesce them.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {}: {e}", endpoint.authority))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes: both are
        // seen (and counted) by the request that hits them.
        let _ = connection.await;
    });
    Ok(sender)
}

/// When requests are measured: after the warm-up, until the end.
struct Plan {
    measure_from: Instant,
    until: Option<Instant>,
    /// Requests mode: measured requests still to start.
    remaining: Option<AtomicU64>,
    timeout: Duration,
}

enum Phase {
    Warmup,
    Measure,
    Done,
}

impl Plan {
    fn phase(&self, now: Instant) -> Phase {
        if now < self.measure_from {
            return Phase::Warmup;
        }
        if self.until.is_some_and(|until| now >= until) {
            return Phase::Done;
        }
        match &self.remaining {
            Some(left) => {
                let taken =
                    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                if taken.is_ok() {
                    Phase::Measure
                } else {
                    Phase::Done
                }
            }
            None => Phase::Measure,
        }
    }
}

/// What one client saw in the measured part.
struct ClientRun {
    ok: u64,
    latencies_us: Vec<u32>,
    errors: Errors,
    last_done: Option<Instant>,
}

/// Runs `load` against `base` + `/messages`. `server_pids` are the processes
/// serving it (for their CPU use), if they are local.
pub async fn run(base: &str, load: &Load, server_pids: &[u32]) -> Result<Sample, String> {
    if load.clients == 0 {
        return Err("--clients must be at least 1".into());
    }
    let endpoint = Arc::new(Endpoint::parse(base, "/messages")?);
    // Every connection is open before the clock starts.
    let mut connections = Vec::with_capacity(load.clients);
    for _ in 0..load.clients {
        connections.push(connect(&endpoint).await?);
    }
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let plan = Arc::new(Plan {
        measure_from,
        until: match load.length {
            Length::For(d) => Some(measure_from + d),
            Length::Requests(_) => None,
        },
        remaining: match load.length {
            Length::For(_) => None,
            Length::Requests(n) => Some(AtomicU64::new(n)),
        },
        timeout: load.timeout,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for conn in connections {
        let (endpoint, plan, body) = (endpoint.clone(), plan.clone(), load.body.clone());
        tasks.spawn(client(conn, endpoint, plan, body));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = Cpu::now(server_pids);
    let mut sample = Sample::default();
    let mut last_done = measure_from;
    while let Some(joined) = tasks.join_next().await {
        let run = joined.map_err(|e| format!("client task failed: {e}"))?;
        sample.ok += run.ok;
        sample.latencies_us.extend(run.latencies_us);
        sample.errors.merge(run.errors);
        last_done = last_done.max(run.last_done.unwrap_or(measure_from));
    }
    let cpu_after = Cpu::now(server_pids);
    sample.elapsed = last_done.saturating_duration_since(measure_from);
    let wall = Instant::now()
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    if wall > 0.0 {
        sample.client_cpu = Some((cpu_after.client - cpu_before.client) / wall);
        sample.server_cpu = match (cpu_before.servers, cpu_after.servers) {
            (Some(before), Some(after)) => Some((after - before) / wall),
            _ => None,
        };
    }
    sample.latencies_us.sort_unstable();
    Ok(sample)
}

async fn client(
    mut conn: Conn,
    endpoint: Arc<Endpoint>,
    plan: Arc<Plan>,
    body: Bytes,
) -> ClientRun {
    let mut run = ClientRun {
        ok: 0,
        latencies_us: Vec::new(),
        errors: Errors::default(),
        last_done: None,
    };
    let mut broken = false;
    loop {
        let started = Instant::now();
        let measured = match plan.phase(started) {
            Phase::Warmup => false,
            Phase::Measure => true,
            Phase::Done => break,
        };
        if broken {
            match connect(&endpoint).await {
                Ok(fresh) => {
                    conn = fresh;
                    broken = false;
                }
                Err(e) => {
                    if measured {
                        run.errors.add("connect", e);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let outcome = tokio::time::timeout(plan.timeout, post(&mut conn, &endpoint, &body)).await;
        let done = Instant::now();
        let failure = match outcome {
            Ok(Ok((StatusCode::CREATED, reply))) if looks_like_a_seq(&reply) => None,
            Ok(Ok((status, reply))) => Some((
                format!("HTTP {}", status.as_u16()),
                String::from_utf8_lossy(&reply).trim().to_string(),
            )),
            Ok(Err(e)) => {
                broken = true;
                Some(("connection".to_string(), e))
            }
            Err(_) => {
                broken = true;
                Some((
                    "timeout".to_string(),
                    format!("no answer within {:?}", plan.timeout),
                ))
            }
        };
        if !measured {
            continue;
        }
        match failure {
            None => {
                run.ok += 1;
                let us = done.saturating_duration_since(started).as_micros();
                run.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Some((kind, detail)) => run.errors.add(&kind, detail),
        }
        run.last_done = Some(done);
    }
    run
}

async fn post(
    conn: &mut Conn,
    endpoint: &Endpoint,
    body: &Bytes,
) -> Result<(StatusCode, Bytes), String> {
    conn.ready().await.map_err(|e| e.to_string())?;
    let request = Request::post(endpoint.path.as_str())
        .header(HOST, endpoint.authority.as_str())
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .map_err(|e| e.to_string())?;
    let response = conn
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let reply = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, reply))
}

/// A successful write answers `{"seq": n, …}`; checked without parsing.
fn looks_like_a_seq(reply: &[u8]) -> bool {
    reply.windows(6).any(|w| w == b"\"seq\":")
}

/// CPU seconds used so far by this process and by the servers.
struct Cpu {
    client: f64,
    servers: Option<f64>,
}

impl Cpu {
    fn now(server_pids: &[u32]) -> Self {
        let servers = if server_pids.is_empty() {
            None
        } else {
            server_pids
                .iter()
                .map(|pid| super::procs::cpu_seconds(*pid))
                .sum::<Option<f64>>()
        };
        Cpu {
            client: own_cpu_seconds(),
            servers,
        }
    }
}

fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_or_explain() {
        let e = Endpoint::parse("http://127.0.0.1:7000/", "/messages");
        assert_eq!(e.map(|e| e.authority), Ok("127.0.0.1:7000".to_string()));
        let e = Endpoint::parse("http://localhost", "/messages").map(|e| e.authority);
        assert_eq!(e, Ok("localhost:80".to_string()));
        assert!(Endpoint::parse("https://x:1", "/messages").is_err());
        assert!(Endpoint::parse("http:///", "/messages").is_err());
    }

    #[test]
    fn a_seq_reply_is_recognised() {
        assert!(looks_like_a_seq(br#"{"seq":12,"w":1}"#));
        assert!(!looks_like_a_seq(br#"{"error":"nope"}"#));
    }
}
