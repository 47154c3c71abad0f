//! `replog send`, `replog get`, `replog health`: small clients with readable output.

use crate::cli::{GetArgs, HealthArgs, SendArgs};
use crate::controller::engine::writes::votes_words;
use crate::http_client::{self, join, ClientError, WriteTrail};
use replog_node::api::{
    AtomicReply, MessageList, NodeHealth, PrimaryHealth, SecondaryHealth, WriteBody, WriteReply,
    HEALTH_PATH, MESSAGES_PATH,
};
use std::time::Duration;

const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn send(args: SendArgs) -> Result<(), String> {
    if args.atomic {
        return send_atomic(args).await;
    }
    let body = WriteBody {
        message: args.message.clone(),
        w: args.w,
        timeout_ms: args.timeout_ms,
        atomic: None,
    };
    let (reply, trail) = post_write::<WriteReply>(&args, &body).await?;
    let via = via(&trail);
    match reply {
        Ok(reply) => {
            println!(
                "ok: seq {} stored on {} node(s) (w={}){via}: {}",
                reply.seq, reply.acks, reply.w, args.message
            );
            Ok(())
        }
        Err(e) => Err(refused(e, &trail, &via, &args)),
    }
}

/// `replog send --atomic`: a two-phase commit across every node. Prints
/// the outcome and each node's vote; an abort (409) is an error, like any
/// refused write.
async fn send_atomic(args: SendArgs) -> Result<(), String> {
    if args.w.is_some() || args.timeout_ms.is_some() {
        let which = if args.w.is_some() {
            "-w"
        } else {
            "--timeout-ms"
        };
        return Err(format!(
            "--atomic cannot go with {which}: an atomic write is all or nothing on every node, there is no w to wait for"
        ));
    }
    let body = WriteBody {
        message: args.message.clone(),
        w: None,
        timeout_ms: None,
        atomic: Some(true),
    };
    let (reply, trail) = post_write::<AtomicReply>(&args, &body).await?;
    let via = via(&trail);
    match reply {
        Ok(reply) => {
            println!(
                "committed: seq {} on every node (votes: {}){via}: {}",
                reply.seq,
                votes_words(&reply.votes),
                args.message
            );
            Ok(())
        }
        Err(ClientError::Status { code: 409, body }) => {
            let seq = body
                .seq
                .map(|s| format!(" seq {s} is an aborted marker, visible nowhere;"))
                .unwrap_or_default();
            let votes = body
                .votes
                .as_ref()
                .map(|v| format!(" votes: {}", votes_words(v)))
                .unwrap_or_default();
            Err(format!("{} (HTTP 409);{seq}{votes}{via}", body.error))
        }
        Err(e) => Err(refused(e, &trail, &via, &args)),
    }
}

/// Posts `body` to the node `args.primary` names, following redirects and
/// waiting out elections for up to `--within-ms`. No request timeout: the
/// write blocks until it is answered, by design; only finding the primary
/// is bounded. The one URL the user gave redirects, or says an election is
/// on until it knows the new primary.
async fn post_write<T: serde::de::DeserializeOwned>(
    args: &SendArgs,
    body: &WriteBody,
) -> Result<(Result<T, ClientError>, WriteTrail), String> {
    let deadline = std::time::Instant::now() + Duration::from_millis(args.within_ms);
    let client = http_client::client()?;
    let base = args.primary.clone();
    let mut target = move || base.clone();
    let reach = |_: Option<&str>, url: &str| url.to_string();
    Ok(http_client::write::<T>(&client, &mut target, &reach, body, &[], deadline).await)
}

/// " (via the primary at URL)" when the write was redirected.
fn via(trail: &WriteTrail) -> String {
    match trail.redirects.last() {
        Some(primary) => format!(" (via the primary at {primary})"),
        None => String::new(),
    }
}

/// The one line of a write that failed.
fn refused(e: ClientError, trail: &WriteTrail, via: &str, args: &SendArgs) -> String {
    if trail.elections > 0 && e.status() == Some(503) {
        format!(
            "no primary was elected within {} ms ({e}); the message was not stored",
            args.within_ms
        )
    } else {
        format!("{e}{via}")
    }
}

pub async fn get(args: GetArgs) -> Result<(), String> {
    let list: MessageList = http_client::get(&join(&args.node, MESSAGES_PATH), READ_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", to_json(&list)?);
        return Ok(());
    }
    if list.messages.is_empty() {
        println!("(no messages)");
    }
    for m in &list.messages {
        println!("{:>6}  {}", m.seq, m.message);
    }
    Ok(())
}

pub async fn health(args: HealthArgs) -> Result<(), String> {
    let health: NodeHealth = http_client::get(&join(&args.primary, HEALTH_PATH), READ_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", to_json(&health)?);
    } else {
        print!("{}", health_table(&health));
    }
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("cannot print the answer as JSON: {e}"))
}

/// Renders a `/health` document as a table.
pub fn health_table(h: &NodeHealth) -> String {
    match h {
        NodeHealth::Primary(p) => primary_table(p),
        NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => secondary_table(s, h.role_name()),
    }
}

/// A member's term and what it rolled back, after its role (members only:
/// the fixed roles' term never moves).
fn election_words(id: &str, e: &replog_node::api::ElectionReport) -> String {
    if !e.elects {
        return String::new();
    }
    let mut out = format!(" term {}", e.term);
    if let Some(primary) = e.primary.as_ref().filter(|p| *p != id) {
        out.push_str(&format!(" (primary {primary})"));
    }
    if e.rolled_back > 0 {
        out.push_str(&format!(", rolled back {}", e.rolled_back));
    }
    out
}

fn primary_table(h: &PrimaryHealth) -> String {
    let q = &h.quorum;
    let mut out = format!(
        "{} (primary{})  last_seq {}  quorum {}/{} (need {})  {}\n",
        h.id,
        election_words(&h.id, &h.election),
        h.last_seq,
        q.healthy,
        q.total,
        q.required,
        if h.read_only { "READ-ONLY" } else { "writable" }
    );
    out.push_str(&format!(
        "{:<10} {:<10} {:>6} {:>6} {:>8} {:>8} {:>10}  {}\n",
        "SECONDARY", "STATE", "ACKED", "LAG", "HB AGO", "RETRIES", "NEXT RETRY", "URL"
    ));
    for s in &h.secondaries {
        out.push_str(&format!(
            "{:<10} {:<10} {:>6} {:>6} {:>8} {:>8} {:>10}  {}\n",
            s.id,
            s.state,
            s.acked_seq,
            s.lag,
            ms(s.last_heartbeat_ms_ago),
            s.pending_retries,
            ms(s.next_retry_in_ms),
            s.url,
        ));
    }
    out.push_str(&atomic_lines(&h.atomic));
    out
}

fn secondary_table(h: &SecondaryHealth, role: &str) -> String {
    let faults = &h.faults;
    let table = format!(
        "{} ({role}{})  last_seq {}\n  held behind a gap: [{}]\n  faults: delay_ms {}, fail_next {} ({}), block {}\n",
        h.id,
        election_words(&h.id, &h.election),
        h.last_seq,
        h.buffered
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        faults.delay_ms,
        faults.fail_next,
        faults.fail_at.as_str(),
        faults.block,
    );
    table + &atomic_lines(&h.atomic)
}

/// Two-phase commit: each entry in doubt in the node's own words, and (on
/// the primary) each atomic write being decided with its votes.
fn atomic_lines(a: &replog_node::api::AtomicHealth) -> String {
    let mut out = String::new();
    for d in &a.in_doubt {
        out.push_str(&format!("  in doubt: {} ({} ms)\n", d.note, d.for_ms));
    }
    for tx in &a.transactions {
        out.push_str(&format!(
            "  deciding #{} ({}): votes {}\n",
            tx.seq,
            tx.phase,
            votes_words(&tx.votes)
        ));
    }
    out
}

fn ms(v: Option<u64>) -> String {
    v.map(|n| format!("{n}ms")).unwrap_or_else(|| "-".into())
}
