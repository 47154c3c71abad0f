//! `replog bench`: write throughput and latency at a chosen w, measured
//! against a running primary or a local cluster started for the purpose
//! (like redis-benchmark). Speed lives here, not in the tests.

use crate::cli::{BenchArgs, UpArgs};
use crate::controller;
use crate::http_client::{self, join};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(args: BenchArgs) -> Result<(), String> {
    let mut local = None;
    let primary = match &args.primary {
        Some(url) => url.clone(),
        None => {
            let up = UpArgs {
                secondaries: args.secondaries,
                ..UpArgs::default()
            };
            let engine = controller::start_engine(&up, "bench").await?;
            let url = engine
                .node_url("p")
                .map_err(|e| format!("local cluster: {e}"))?;
            eprintln!(
                "local cluster: primary {url}, logs in {}",
                engine.state.run_dir
            );
            local = Some(engine);
            url
        }
    };
    let result = measure(&primary, &args).await;
    if let Some(mut engine) = local {
        engine.shutdown();
    }
    result
}

async fn measure(primary: &str, args: &BenchArgs) -> Result<(), String> {
    if args.clients == 0 || args.requests == 0 {
        return Err("--clients and --requests must be at least 1".into());
    }
    let payload = "x".repeat(args.size);
    let next = Arc::new(AtomicU64::new(0));
    let url = join(primary, "/messages");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.clients {
        let (next, url, payload, total, w) = (
            next.clone(),
            url.clone(),
            payload.clone(),
            args.requests,
            args.w,
        );
        tasks.spawn(async move {
            let client = http_client::client()?;
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let request = client
                    .post(&url)
                    .json(&json!({ "message": payload, "w": w }));
                let _: replog_node::api::WriteReply = http_client::send(request)
                    .await
                    .map_err(|e| e.to_string())?;
                latencies.push(t.elapsed());
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut all: Vec<Duration> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.map_err(|e| format!("client task failed: {e}"))??);
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i].as_secs_f64() * 1000.0
    };
    println!(
        "{} writes of {} bytes at w={} from {} clients in {:.2}s: {:.0} writes/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        all.len(),
        args.size,
        args.w,
        args.clients,
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
    );
    Ok(())
}
