//! `replog node primary|secondary|member` (and the benchmark's hidden `bare`):
//! flags to config, bind, run.

use crate::cli::{CommonNodeArgs, LeadArgs, MemberArgs, NodeRole, PrimaryArgs, SecondaryArgs};
use replog_node::auth::ClusterToken;
use replog_node::backoff::Backoff;
use replog_node::config::{majority, PrimaryConfig, SecondaryConfig, StorageConfig};
use replog_node::election::Timeouts;
use replog_node::member::MemberConfig;
use std::time::Duration;
use tokio::net::TcpListener;

pub async fn run(role: NodeRole) -> Result<(), String> {
    match role {
        NodeRole::Primary(args) => {
            let listen = listen_or(&args.common, "127.0.0.1:7000");
            let config = primary_config(args)?;
            let listener = bind(&listen).await?;
            replog_node::run_primary(config, listener)
                .await
                .map_err(|e| format!("primary: {e}"))
        }
        NodeRole::Secondary(args) => {
            let listen = listen_or(&args.common, "127.0.0.1:7001");
            let config = secondary_config(args)?;
            let listener = bind(&listen).await?;
            replog_node::run_secondary(config, listener)
                .await
                .map_err(|e| format!("secondary: {e}"))
        }
        NodeRole::Member(args) => {
            let config = member_config(args.clone())?;
            // By default a member listens on the port its own --member URL names.
            let port = own_port(&args).unwrap_or(7000);
            let listener = bind(&listen_or(&args.common, &format!("127.0.0.1:{port}"))).await?;
            replog_node::run_member(config, listener)
                .await
                .map_err(|e| format!("member: {e}"))
        }
        NodeRole::Bare(args) => {
            let listener = bind(&args.listen).await?;
            crate::bench::bare_server::run(listener)
                .await
                .map_err(|e| format!("bare server stopped: {e}"))
        }
    }
}

/// `--listen`, or `default` without it.
fn listen_or(common: &CommonNodeArgs, default: &str) -> String {
    common.listen.clone().unwrap_or_else(|| default.to_string())
}

/// The port of this member's own URL in the member list.
fn own_port(args: &MemberArgs) -> Option<u16> {
    let me = args.members.iter().find(|m| m.id == args.id)?;
    reqwest::Url::parse(&me.url).ok()?.port_or_known_default()
}

async fn bind(listen: &str) -> Result<TcpListener, String> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))
}

pub fn primary_config(args: PrimaryArgs) -> Result<PrimaryConfig, String> {
    let total = args.secondaries.len() + 1;
    let mut config = PrimaryConfig::new(args.id, args.secondaries);
    apply_lead(&mut config, &args.common, &args.lead)?;
    config.quorum = args.quorum.unwrap_or(majority(total));
    config.validate()?;
    Ok(config)
}

/// The flags of a node that leads, into `config`.
fn apply_lead(
    config: &mut PrimaryConfig,
    common: &CommonNodeArgs,
    lead: &LeadArgs,
) -> Result<(), String> {
    config.faults_enabled = common.faults;
    config.journal = common.journal;
    config.cluster_token = cluster_token(common)?;
    config.storage = storage(common);
    if let Some(n) = lead.min_batch_in_flight {
        config.min_batch_in_flight = n;
    }
    if let Some(n) = lead.max_batches_in_flight {
        config.max_batches_in_flight = n.max(1);
    }
    config.max_message_bytes = lead.max_message_bytes;
    config.default_w = lead.default_w;
    config.replication_timeout = Duration::from_millis(lead.replication_timeout_ms);
    config.prepare_timeout = Duration::from_millis(lead.prepare_timeout_ms);
    config.backoff = Backoff {
        base: Duration::from_millis(lead.retry_base_ms),
        cap: Duration::from_millis(lead.retry_cap_ms),
    };
    config.heartbeat = Duration::from_millis(lead.heartbeat_ms);
    config.unhealthy_after = lead.unhealthy_after;
    Ok(())
}

fn member_config(args: MemberArgs) -> Result<MemberConfig, String> {
    let me = args
        .members
        .iter()
        .find(|m| m.id == args.id)
        .ok_or_else(|| {
            format!(
                "--id {:?} is not one of the --member ids: list every member, this one included",
                args.id
            )
        })?
        .clone();
    if args.common.data_dir.is_none() {
        return Err("a member needs --data-dir (or REPLOG_DATA_DIR): its term and vote must survive a restart, or it could vote twice in one term".into());
    }
    let others: Vec<_> = args
        .members
        .iter()
        .filter(|m| m.id != me.id)
        .cloned()
        .collect();
    let mut lead = PrimaryConfig::new(args.id.clone(), others);
    apply_lead(&mut lead, &args.common, &args.lead)?;
    lead.url = Some(me.url.clone());
    lead.validate()?;
    let follow = secondary_config(SecondaryArgs {
        id: args.id,
        common: args.common,
    })?;
    let timeouts = Timeouts {
        min: Duration::from_millis(args.election_timeout_min_ms),
        max: Duration::from_millis(args.election_timeout_max_ms),
    };
    let config = MemberConfig {
        members: args.members,
        timeouts,
        lead,
        follow,
    };
    config.validate()?;
    Ok(config)
}

fn secondary_config(args: SecondaryArgs) -> Result<SecondaryConfig, String> {
    if args.id.trim().is_empty() {
        return Err("--id must not be empty".into());
    }
    Ok(SecondaryConfig {
        cluster_token: cluster_token(&args.common)?,
        storage: storage(&args.common),
        id: args.id,
        faults_enabled: args.common.faults,
        journal: args.common.journal,
    })
}

fn storage(common: &CommonNodeArgs) -> StorageConfig {
    StorageConfig {
        data_dir: common.data_dir.clone(),
        fsync: common.fsync,
    }
}

/// The cluster token, if one was given; an empty or unusable one is refused.
fn cluster_token(common: &CommonNodeArgs) -> Result<Option<ClusterToken>, String> {
    common
        .cluster_token
        .as_deref()
        .map(|t| {
            ClusterToken::new(t)
                .map_err(|e| format!("--cluster-token (or REPLOG_CLUSTER_TOKEN): {e}"))
        })
        .transpose()
}
