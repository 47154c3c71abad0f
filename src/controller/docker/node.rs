//! A node's container as the controller sees it: what never changes about
//! it ([`Target`]), what `docker inspect` says now ([`Seen`]), and the
//! dashboard's node ([`Node`]).

use super::super::process::Process;
use replog_node::api::Role;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The nodes' port inside their containers (docker-compose.yml).
pub(super) const NODE_PORT: &str = "7000/tcp";

/// Where docker-compose.yml mounts each node's volume (`REPLOG_DATA_DIR`).
pub(super) const DATA_DIR: &str = "/data";

/// What `docker inspect` says about one container right now.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    /// The container's name: what replog addresses it by.
    pub(super) name: String,
    pub(super) status: String,
    pub(super) exit_code: i64,
    /// The host address of the node's port; none while stopped or cut off.
    pub(super) url: Option<String>,
}

pub(super) fn seen(v: &Value) -> Seen {
    let binding = &v["NetworkSettings"]["Ports"][NODE_PORT][0];
    let url = binding["HostPort"].as_str().map(|port| {
        let host = match binding["HostIp"].as_str().unwrap_or("") {
            // Published on every interface: loopback reaches it.
            "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
            ip if ip.contains(':') => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("http://{host}:{port}")
    });
    Seen {
        name: container_name(v),
        status: v["State"]["Status"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        exit_code: v["State"]["ExitCode"].as_i64().unwrap_or(0),
        url,
    }
}

/// The container's name without Docker's leading `/`.
fn container_name(v: &Value) -> String {
    v["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string()
}

/// What never changes about a node's container.
#[derive(Clone, Debug)]
pub(super) struct Target {
    /// Its name, for every Docker command and `docker logs`: unlike its id
    /// it stays when a wipe removes the container and compose creates it
    /// anew (compose names it `<project>[-_]<service>[-_]1` again).
    pub(super) name: String,
    /// The named volume mounted at [`DATA_DIR`]; a wipe removes it.
    pub(super) volume: Option<String>,
    /// The compose service: the DNS alias the other nodes use.
    pub(super) service: String,
    pub(super) networks: Vec<String>,
}

pub(super) struct Node {
    pub(super) id: String,
    pub(super) role: Role,
    /// A member (`node member`): its role is what its `/health` says.
    pub(super) elects: bool,
    pub(super) url: String,
    pub(super) process: Process,
    /// Actions sent to the worker and not reported back yet; snapshots are
    /// older than those actions, so they are ignored meanwhile.
    pub(super) in_flight: usize,
    /// Bumped by every action: readiness probes of an older generation stop.
    pub(super) generation: Arc<AtomicU64>,
}

impl Node {
    pub(super) fn bump(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// A freshly started container as a node of the dashboard.
pub(super) fn describe(v: &Value) -> (Target, Node, Seen) {
    let env = |key: &str| {
        v["Config"]["Env"].as_array().and_then(|all| {
            all.iter().filter_map(Value::as_str).find_map(|kv| {
                kv.strip_prefix(key)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(str::to_string)
            })
        })
    };
    let service = v["Config"]["Labels"]["com.docker.compose.service"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let cmd = v["Config"]["Cmd"].to_string();
    let target = Target {
        name: container_name(v),
        volume: v["Mounts"].as_array().and_then(|mounts| {
            mounts
                .iter()
                .filter(|m| m["Type"] == "volume" && m["Destination"] == DATA_DIR)
                .find_map(|m| m["Name"].as_str().map(str::to_string))
        }),
        service: service.clone(),
        networks: v["NetworkSettings"]["Networks"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let now = seen(v);
    let node = Node {
        // The primary knows its secondaries by REPLOG_ID.
        id: env("REPLOG_ID").unwrap_or(service),
        role: if cmd.contains("\"primary\"") {
            Role::Primary
        } else {
            Role::Secondary
        },
        elects: cmd.contains("\"member\""),
        url: now.url.clone().unwrap_or_default(),
        process: Process::default(),
        in_flight: 0,
        generation: Arc::new(AtomicU64::new(0)),
    };
    (target, node, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_published_port_becomes_a_loopback_url() {
        let v = |ip: &str| {
            json!({
                "Name": "/abc",
                "State": {"Status": "running", "ExitCode": 0},
                "NetworkSettings": {"Ports": {"7000/tcp": [{"HostIp": ip, "HostPort": "32768"}]}}
            })
        };
        assert_eq!(
            seen(&v("127.0.0.1")).url.as_deref(),
            Some("http://127.0.0.1:32768")
        );
        assert_eq!(
            seen(&v("0.0.0.0")).url.as_deref(),
            Some("http://127.0.0.1:32768")
        );
        assert_eq!(seen(&v("::1")).url.as_deref(), Some("http://[::1]:32768"));
        // Cut off the network or stopped: no binding at all.
        let off = json!({"Name": "/abc", "State": {"Status": "exited", "ExitCode": 137},
                         "NetworkSettings": {"Ports": {}}});
        let s = seen(&off);
        assert_eq!(
            (s.url, s.status.as_str(), s.exit_code),
            (None, "exited", 137)
        );
    }

    /// A wipe removes the volume compose mounted at /data, found by inspect.
    #[test]
    fn the_volume_at_the_data_dir_is_the_one_a_wipe_removes() {
        let v = json!({
            "Id": "abc", "Name": "/proj-s1-1",
            "State": {"Status": "running", "ExitCode": 0},
            "Config": {"Env": ["REPLOG_ID=s1"], "Cmd": ["node", "secondary"],
                       "Labels": {"com.docker.compose.service": "s1"}},
            "Mounts": [
                {"Type": "bind", "Source": "/etc/x", "Destination": "/etc/x"},
                {"Type": "volume", "Name": "proj_s1-data", "Destination": "/data"}
            ],
            "NetworkSettings": {"Ports": {}, "Networks": {"proj_replog": {}}}
        });
        let (target, node, _) = describe(&v);
        assert_eq!(target.name, "proj-s1-1");
        assert_eq!(target.volume.as_deref(), Some("proj_s1-data"));
        assert_eq!((node.id.as_str(), node.role), ("s1", Role::Secondary));
        let mut bare = v.clone();
        bare["Mounts"] = json!([]);
        assert_eq!(describe(&bare).0.volume, None);
    }
}
