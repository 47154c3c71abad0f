//! Goodput and latency of the bare append and of replog at each w, measured
//! by one load generator in interleaved rounds, reported as ratios to the
//! bare append of the same round.

use super::load::{self, Length};
use super::procs::{self, Cluster, Proc};
use super::stats::{median, percentile_ms, Errors, Sample};
use crate::cli::BenchArgs;
use std::path::Path;
use std::time::Duration;

/// Issue 9's goal for w=3.
const GOAL_RATIO: f64 = 0.6;
const GOAL_P99_MS: f64 = 5.0;
/// Issue 11's goal for w=3 on disk with group commit.
const DURABLE_GOAL_RATIO: f64 = 0.5;

const SETTLE: Duration = Duration::from_secs(30);

struct Target {
    label: String,
    url: String,
    w: Option<u64>,
    pids: Vec<u32>,
    samples: Vec<Sample>,
    /// A disk cluster's nodes (primary first), whose fsyncs are counted.
    disk_nodes: Vec<String>,
    fsyncs: Vec<Fsyncs>,
}

/// Group commit over one measured load (warm-up included): the primary's
/// figures and the secondaries' summed.
#[derive(Clone, Copy, Default)]
struct Fsyncs {
    seconds: f64,
    primary: (u64, u64),
    secondaries: (u64, u64),
}

/// Every disk node's (fsyncs, entries) counters now.
async fn counters(nodes: &[String]) -> Result<Vec<(u64, u64)>, String> {
    let mut out = Vec::new();
    for url in nodes {
        out.push(procs::fsync_counters(url).await?);
    }
    Ok(out)
}

fn fsyncs_between(before: &[(u64, u64)], after: &[(u64, u64)], seconds: f64) -> Fsyncs {
    let delta: Vec<(u64, u64)> = before
        .iter()
        .zip(after)
        .map(|(b, a)| (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1)))
        .collect();
    let sum = |d: &[(u64, u64)]| d.iter().fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
    Fsyncs {
        seconds,
        primary: delta.first().copied().unwrap_or_default(),
        secondaries: sum(delta.get(1..).unwrap_or_default()),
    }
}

impl Target {
    fn is_bare(&self) -> bool {
        self.w.is_none()
    }
}

pub async fn run(args: &BenchArgs, dir: &Path) -> Result<(), String> {
    // Kept alive until the end of the measurement; dropping them kills them.
    let mut local_bare = None;
    let mut local_cluster = None;
    let mut durable_cluster = None;
    let (bare_url, bare_pids, primary_url, primary_pids) = match &args.primary {
        Some(primary) => (args.bare.clone(), Vec::new(), primary.clone(), Vec::new()),
        None => {
            let bare = Proc::bare(dir).await?;
            let cluster = Cluster::start(args.secondaries, &[], dir).await?;
            let urls = (
                Some(bare.url.clone()),
                vec![bare.pid()],
                cluster.primary.url.clone(),
                cluster.pids(),
            );
            eprintln!(
                "bare append server {}, replog primary {} with {} secondaries",
                bare.url, cluster.primary.url, args.secondaries
            );
            local_bare = Some(bare);
            local_cluster = Some(cluster);
            urls
        }
    };
    let mut targets = Vec::new();
    if let Some(url) = bare_url {
        targets.push(Target {
            label: "bare append".into(),
            url,
            w: None,
            pids: bare_pids,
            samples: Vec::new(),
            disk_nodes: Vec::new(),
            fsyncs: Vec::new(),
        });
    }
    for w in &args.w {
        targets.push(Target {
            label: format!("replog w={w}"),
            url: primary_url.clone(),
            w: Some(*w),
            pids: primary_pids.clone(),
            samples: Vec::new(),
            disk_nodes: Vec::new(),
            fsyncs: Vec::new(),
        });
    }
    if (args.durable || args.full) && args.primary.is_none() {
        let data = dir.join("data");
        let cluster = Cluster::start_durable(args.secondaries, dir, &data).await?;
        eprintln!(
            "durable replog primary {} (--data-dir under {}, fsync batch)",
            cluster.primary.url,
            data.display()
        );
        let nodes: Vec<String> = std::iter::once(&cluster.primary)
            .chain(&cluster.secondaries)
            .map(|p| p.url.clone())
            .collect();
        for w in &args.w {
            targets.push(Target {
                label: format!("disk w={w}"),
                url: cluster.primary.url.clone(),
                w: Some(*w),
                pids: cluster.pids(),
                samples: Vec::new(),
                disk_nodes: nodes.clone(),
                fsyncs: Vec::new(),
            });
        }
        durable_cluster = Some(cluster);
    }
    let length = match args.requests {
        Some(n) => Length::Requests(n),
        None => Length::For(Duration::from_millis(args.duration_ms)),
    };
    println!("{}", heading(args, length));
    for round in 1..=args.rounds {
        for target in &mut targets {
            if !target.is_bare() {
                if let Err(e) = procs::settle(&target.url, SETTLE).await {
                    eprintln!("warning: {e}");
                }
            }
            let load = super::load(
                args,
                target.w,
                length,
                Duration::from_millis(args.warmup_ms),
            );
            let before = counters(&target.disk_nodes).await?;
            let started = std::time::Instant::now();
            let sample = load::run(&target.url, &load, &target.pids).await?;
            if !target.disk_nodes.is_empty() {
                let after = counters(&target.disk_nodes).await?;
                let seconds = started.elapsed().as_secs_f64();
                target.fsyncs.push(fsyncs_between(&before, &after, seconds));
            }
            eprintln!(
                "round {round}/{}  {:<12} {:>8.0} writes/s  p50 {}  p99 {}  errors {}",
                args.rounds,
                target.label,
                sample.goodput(),
                ms(percentile_ms(&sample.latencies_us, 0.5)),
                ms(percentile_ms(&sample.latencies_us, 0.99)),
                sample.errors.summary()
            );
            target.samples.push(sample);
        }
    }
    drop(local_bare);
    drop(local_cluster);
    drop(durable_cluster);
    let rows: Vec<Row> = summarize(&targets);
    print_table(&rows);
    print_group_commit(&targets, args.secondaries);
    print_goal(
        &rows,
        "disk w=3",
        DURABLE_GOAL_RATIO,
        "issue 11's goal for w=3 on disk",
    );
    if let Some(failed) = rows.iter().find(|r| r.ok == 0) {
        return Err(format!(
            "{}: every write failed; {}",
            failed.label,
            failed.errors.first_example()
        ));
    }
    Ok(())
}

fn heading(args: &BenchArgs, length: Length) -> String {
    let per = match length {
        Length::For(d) => format!("{:.1} s", d.as_secs_f64()),
        Length::Requests(n) => format!("{n} writes"),
    };
    format!(
        "throughput: {} clients (keep-alive), {}-byte messages, {} round(s) of {per} per target after {:.1} s warm-up{}",
        args.clients,
        args.size,
        args.rounds,
        Duration::from_millis(args.warmup_ms).as_secs_f64(),
        match &args.primary {
            Some(url) => format!(", primary {url}"),
            None => format!(", local cluster: primary + {} secondaries", args.secondaries),
        }
    )
}

/// One target's figures over all rounds.
struct Row {
    label: String,
    ok: u64,
    goodput: f64,
    ratio: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    errors: Errors,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
}

/// Medians over rounds; each round's ratio is to that round's bare run.
fn summarize(targets: &[Target]) -> Vec<Row> {
    let bare = targets.iter().find(|t| t.is_bare());
    targets
        .iter()
        .map(|t| {
            let ratios: Vec<f64> = match bare {
                Some(b) => t
                    .samples
                    .iter()
                    .zip(&b.samples)
                    .filter(|(_, b)| b.goodput() > 0.0)
                    .map(|(s, b)| s.goodput() / b.goodput())
                    .collect(),
                None => Vec::new(),
            };
            let mut latencies: Vec<u32> = t
                .samples
                .iter()
                .flat_map(|s| s.latencies_us.iter().copied())
                .collect();
            latencies.sort_unstable();
            let mut errors = Errors::default();
            for s in &t.samples {
                errors.merge(s.errors.clone());
            }
            let cpu = |f: fn(&Sample) -> Option<f64>| {
                median(&t.samples.iter().filter_map(f).collect::<Vec<_>>())
            };
            Row {
                label: t.label.clone(),
                ok: t.samples.iter().map(|s| s.ok).sum(),
                goodput: median(&t.samples.iter().map(Sample::goodput).collect::<Vec<_>>())
                    .unwrap_or(0.0),
                ratio: median(&ratios),
                p50: percentile_ms(&latencies, 0.5),
                p99: percentile_ms(&latencies, 0.99),
                errors,
                client_cpu: cpu(|s| s.client_cpu),
                server_cpu: cpu(|s| s.server_cpu),
            }
        })
        .collect()
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<12} {:>10} {:>7} {:>8} {:>8} {:>7} {:>7}  errors",
        "target", "writes/s", "× bare", "p50 ms", "p99 ms", "cpu cl", "cpu srv"
    );
    for r in rows {
        println!(
            "{:<12} {:>10.0} {:>7} {:>8} {:>8} {:>7} {:>7}  {}",
            r.label,
            r.goodput,
            r.ratio.map_or("-".into(), |x| format!("{x:.2}")),
            ms(r.p50),
            ms(r.p99),
            cores(r.client_cpu),
            cores(r.server_cpu),
            r.errors.summary()
        );
    }
    println!(
        "(writes/s: successful writes per second, median over rounds; × bare: median of each \
         round's ratio; cpu: cores used by the client and by the target's processes)"
    );
    for r in rows {
        for (kind, (n, example)) in &r.errors.by_kind {
            println!("  {} {kind} ×{n}, e.g. {example}", r.label);
        }
    }
    print_goal(rows, "replog w=3", GOAL_RATIO, "goal for w=3");
}

/// Whether the target `label` met `ratio` × bare with 0 errors and p99 ≤ 5 ms.
fn print_goal(rows: &[Row], label: &str, ratio: f64, goal: &str) {
    if let Some(r) = rows.iter().find(|r| r.label == label) {
        let met = r.ratio.is_some_and(|x| x >= ratio)
            && r.errors.total() == 0
            && r.p99.is_some_and(|p| p <= GOAL_P99_MS);
        println!(
            "{goal} (≥ {ratio:.1}× bare, 0 errors, p99 ≤ {GOAL_P99_MS} ms): {} \
             ({}× bare, {} errors, p99 {} ms)",
            if met { "met" } else { "not met" },
            r.ratio.map_or("-".into(), |x| format!("{x:.2}")),
            r.errors.total(),
            ms(r.p99)
        );
    }
}

/// Group commit of each disk target: fsyncs per second and entries per
/// fsync, on the primary and on each secondary (mean), over all rounds.
fn print_group_commit(targets: &[Target], secondaries: usize) {
    let disk: Vec<&Target> = targets.iter().filter(|t| !t.fsyncs.is_empty()).collect();
    if disk.is_empty() {
        return;
    }
    println!(
        "group commit (fsync batch; over each load, warm-up included): fsyncs/s and entries per fsync"
    );
    for t in disk {
        let total = t.fsyncs.iter().fold(Fsyncs::default(), |a, f| Fsyncs {
            seconds: a.seconds + f.seconds,
            primary: (a.primary.0 + f.primary.0, a.primary.1 + f.primary.1),
            secondaries: (
                a.secondaries.0 + f.secondaries.0,
                a.secondaries.1 + f.secondaries.1,
            ),
        });
        let per_node = secondaries.max(1) as f64;
        let rate = |n: u64, nodes: f64| n as f64 / nodes / total.seconds.max(1e-9);
        let per = |(f, e): (u64, u64)| {
            if f == 0 {
                "-".to_string()
            } else {
                format!("{:.1}", e as f64 / f as f64)
            }
        };
        println!(
            "  {:<12} primary {:>7.0} fsyncs/s, {:>6} entries/fsync; secondaries {:>7.0} fsyncs/s each, {:>6} entries/fsync",
            t.label,
            rate(total.primary.0, 1.0),
            per(total.primary),
            rate(total.secondaries.0, per_node),
            per(total.secondaries)
        );
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn cores(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}
