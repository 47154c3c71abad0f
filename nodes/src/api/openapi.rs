//! The OpenAPI 3.1 document, derived from the API types. Both roles serve
//! the same document at `GET /openapi.json`: it describes the cluster's API,
//! and each operation lists the statuses either role can answer (a
//! secondary refuses writes with 405; a primary has no `/replication/*`
//! and answers 404 there).
//!
//! The operations are declared here, next to the types, rather than on the
//! handlers: the two roles have different handlers for the same paths.

// The functions below exist only to carry `#[utoipa::path]`; nothing calls them.
#![allow(dead_code)]

use super::atomic::{
    AtomicHealth, AtomicReply, AtomicState, BallotReport, DecisionRequest, HeldState,
    InDoubtReport, Outcome, OutcomeQuery, OutcomeReport, TransactionReport, Vote, VoteReport,
};
use super::election::{ElectionReport, VoteReply, VoteRequest, VOTE_PATH};
use super::errors::ErrorBody;
use super::faults::{
    CrashAfter, FailAt, FaultPatch, Faults, ParkedReport, ReleaseRequest, Released,
};
use super::health::{
    AnsweredWriteReport, Health, NodeHealth, PrimaryHealth, QuorumReport, SecondaryHealth,
    SecondaryReport, WaitingWriteReport,
};
use super::journal::{Happened, JournalEvent, JournalPage, EVENTS_PATH};
use super::messages::{Created, MessageList, WriteBody, WriteReply};
use super::replication::{AppendRequest, Position, Prev};
use super::storage::{DiskReport, FsyncPolicy, StorageKind};
use super::timing::{Timing, TimingPatch};
use super::{FAULTS_PATH, HEALTH_PATH, MESSAGES_PATH, OPENAPI_PATH, RELEASE_PATH, TIMING_PATH};
use crate::entry::Entry;
use utoipa::openapi::{RefOr, Required};
use utoipa::OpenApi;

pub const CLIENT_TAG: &str = "client";
pub const ADMIN_TAG: &str = "admin";
pub const INTERNAL_TAG: &str = "internal";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "replog",
        description = "A replicated log: one primary, N secondaries, write concern w. \
            Every error is `{\"error\": \"…\"}` plus the fields that explain it.",
    ),
    paths(
        list_messages,
        post_message,
        health,
        events,
        get_faults,
        post_faults,
        delete_faults,
        get_timing,
        post_timing,
        release_parked,
        append,
        heartbeat,
        vote,
        decision,
        outcome,
        openapi_json,
    ),
    components(schemas(
        Entry,
        WriteBody,
        WriteReply,
        Created,
        AtomicReply,
        AtomicState,
        Vote,
        Outcome,
        BallotReport,
        VoteReport,
        DecisionRequest,
        OutcomeQuery,
        OutcomeReport,
        HeldState,
        InDoubtReport,
        TransactionReport,
        AtomicHealth,
        CrashAfter,
        MessageList,
        NodeHealth,
        PrimaryHealth,
        SecondaryHealth,
        QuorumReport,
        WaitingWriteReport,
        AnsweredWriteReport,
        SecondaryReport,
        Health,
        StorageKind,
        FsyncPolicy,
        DiskReport,
        Faults,
        FaultPatch,
        FailAt,
        Timing,
        TimingPatch,
        ReleaseRequest,
        ParkedReport,
        Released,
        AppendRequest,
        Prev,
        Position,
        ElectionReport,
        VoteRequest,
        VoteReply,
        ErrorBody,
        JournalEvent,
        Happened,
        JournalPage,
    )),
    tags(
        (name = CLIENT_TAG, description = "Writing and reading the log, and node health."),
        (name = ADMIN_TAG, description = "Fault injection and live timers (nodes started with `--faults`; otherwise 404)."),
        (name = INTERNAL_TAG, description = "The primary → secondary replication protocol. \
            Internal: only the primary's replicators call it."),
    )
)]
struct ApiDoc;

/// The document as a value (for serving and for tests).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // The primary header is optional, but `#[utoipa::path]` can only make a
    // parameter optional by typing it `Option<_>`, which also makes its
    // schema nullable: a header cannot be null, it is absent.
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            for param in op.parameters.iter_mut().flatten() {
                match param {
                    RefOr::T(param) if param.name == super::PRIMARY_HEADER => {
                        param.required = Required::False;
                    }
                    _ => {}
                }
            }
        }
    }
    doc
}

#[utoipa::path(
    get,
    path = MESSAGES_PATH,
    tag = CLIENT_TAG,
    summary = "The visible log",
    description = "All visible messages in seq order. A secondary shows only the gap-free \
        prefix: messages received behind a missing seq are held (see `/health`). Atomic \
        writes show once committed; an aborted one never shows (its seq stays a marker), and \
        an entry in doubt (prepared, undecided) hides itself and everything after it.",
    responses((status = 200, description = "The log", body = MessageList)),
)]
fn list_messages() {}

#[utoipa::path(
    post,
    path = MESSAGES_PATH,
    tag = CLIENT_TAG,
    summary = "Append a message",
    description = "Blocks until `w` nodes, the primary included, hold the message \
        (or `timeout_ms` passes). Parallel clients never wait on each other. With \
        `atomic: true` the primary coordinates a two-phase commit across every node instead: \
        201 committed or 409 aborted, each with every participant's vote.",
    params(
        ("x-request-id" = Option<String>, Header,
            description = "Any id of the client's (up to 128 bytes); `/health` shows it with \
                the write while it waits for `w`"),
    ),
    request_body(content = WriteBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored on at least `w` nodes (a `WriteReply`), or an \
            atomic write committed on every node (an `AtomicReply`)", body = Created),
        (status = 400, description = "Not a JSON object, `message` missing or not a string, \
            `w` not a whole number in 1..=nodes (`min`/`max` name the range), bad `timeout_ms`, \
            `atomic` not a boolean, or `atomic` with `w` or `timeout_ms`",
            body = ErrorBody),
        (status = 409, description = "An atomic write aborted: a participant voted NO or did \
            not vote within `--prepare-timeout-ms` (`seq`, `outcome`, `votes`); its seq stays \
            in the log as an aborted marker that is never visible", body = ErrorBody),
        (status = 307, description = "Sent to a member that is not the primary: `Location` is \
            the primary's `/messages`; the body names it (`primary`, `primary_url`, `term`)",
            body = ErrorBody,
            headers(("Location" = String, description = "The primary's `/messages`"))),
        (status = 405, description = "Sent to a secondary: writes go to the primary", body = ErrorBody),
        (status = 413, description = "Body or message over `--max-message-bytes` (`limit_bytes`)",
            body = ErrorBody),
        (status = 503, description = "Read-only without a quorum (`healthy`, `required`), or \
            `storage: …`: the primary's disk refused the write (full, I/O error, read-only; \
            nothing stored) or its fsync failed (`seq`, `acks`, `w`, `stored`), or the primary \
            is shutting down or stepped down (`seq`, `acks`, `w`, `stored`; an atomic write: \
            `seq`, `outcome`), or (members) no primary is known: an election is on (`term`)",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying (read-only and storage errors)"))),
        (status = 504, description = "`timeout_ms` passed before `w` was met; the message stays \
            stored (`seq`, `acks`, `w`, `stored`)", body = ErrorBody),
    ),
)]
fn post_message() {}

#[utoipa::path(
    get,
    path = HEALTH_PATH,
    tag = CLIENT_TAG,
    summary = "Node health",
    description = "A primary reports its quorum, waiting writes and its view of every \
        secondary; a secondary reports its log position and what it holds behind a gap. \
        `role` tells which.",
    responses((status = 200, description = "The node's health", body = NodeHealth)),
)]
fn health() {}

#[utoipa::path(
    get,
    path = EVENTS_PATH,
    tag = CLIENT_TAG,
    summary = "The node's journal",
    description = "What happened to each message on this node, oldest first: appended, \
        shipped, failed, retried, acknowledged, answered (primary); stored, held, released, \
        duplicate (secondary). Ids increase per node process; ask `since` the last one \
        seen. Kept for the last 50,000 events of nodes started with `--journal`.",
    params(("since" = Option<u64>, Query, description = "Only events with a larger id")),
    responses(
        (status = 200, description = "The events after `since`", body = JournalPage),
        (status = 400, description = "`since` is not a whole number", body = ErrorBody),
        (status = 404, description = "The journal is off (start the node with `--journal`)",
            body = ErrorBody),
    ),
)]
fn events() {}

#[utoipa::path(
    get,
    path = FAULTS_PATH,
    tag = ADMIN_TAG,
    summary = "The node's injected faults",
    responses(
        (status = 200, description = "The current fault set", body = Faults),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Fault injection is off (start the node with `--faults`)",
            body = ErrorBody),
    ),
)]
fn get_faults() {}

#[utoipa::path(
    post,
    path = FAULTS_PATH,
    tag = ADMIN_TAG,
    summary = "Merge faults into the set",
    description = "Fields left out keep their value. `block` cuts the node off from all \
        node-to-node traffic both ways (its client API stays up); `delay_ms` delays every \
        replication request it sends or receives (heartbeats stay undelayed); `fail_next` \
        fails the next replication requests it receives (secondaries only).",
    request_body(content = FaultPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The fault set after the merge", body = Faults),
        (status = 400, description = "Not a valid patch (unknown field, wrong type, negative \
            number), or `fail_next` on a primary (it receives no replication requests)",
            body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Fault injection is off (start the node with `--faults`)",
            body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
    ),
)]
fn post_faults() {}

#[utoipa::path(
    delete,
    path = FAULTS_PATH,
    tag = ADMIN_TAG,
    summary = "Clear every fault",
    responses(
        (status = 200, description = "The cleared fault set", body = Faults),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Fault injection is off (start the node with `--faults`)",
            body = ErrorBody),
    ),
)]
fn delete_faults() {}

#[utoipa::path(
    get,
    path = TIMING_PATH,
    tag = ADMIN_TAG,
    summary = "The primary's timers now in use",
    responses(
        (status = 200, description = "The timers", body = Timing),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Admin endpoints are off (start the node with `--faults`), \
            or the node is a secondary (it keeps no timers)", body = ErrorBody),
    ),
)]
fn get_timing() {}

#[utoipa::path(
    post,
    path = TIMING_PATH,
    tag = ADMIN_TAG,
    summary = "Change the primary's timers, live",
    description = "Fields left out keep their value. Applies at once, without a restart: \
        the next heartbeat comes one new period from now; the next delivery, retry and \
        missed heartbeat use the new timeout, backoff and threshold. Durations are 1 to \
        3600000 ms, `unhealthy_after` 1 to 1000, and `retry_base_ms` at most `retry_cap_ms`; \
        otherwise nothing changes. The controller's slow motion posts these.",
    request_body(content = TimingPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The timers after the change", body = Timing),
        (status = 400, description = "Not a valid patch (unknown field, wrong type), or a \
            value out of its range (the error names the field and the range)", body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Admin endpoints are off (start the node with `--faults`), \
            or the node is a secondary (it keeps no timers)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
    ),
)]
fn post_timing() {}

#[utoipa::path(
    post,
    path = RELEASE_PATH,
    tag = ADMIN_TAG,
    summary = "Step mode: let parked requests go",
    description = "With the `hold` fault, the primary parks every node-to-node request it \
        would send (batches, heartbeats; `/health` lists them under `parked`). `{}` releases \
        the oldest, `{\"id\": N}` that one, `{\"all\": true}` all of them. Turning `hold` \
        off or clearing the faults releases everything.",
    request_body(content = ReleaseRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What was released, oldest first", body = Released),
        (status = 400, description = "Not a valid request (unknown field, both id and all)",
            body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Nothing parked (or no such id), a secondary (it parks \
            nothing), or fault injection is off", body = ErrorBody),
        (status = 413, description = "Body over 4 KiB", body = ErrorBody),
    ),
)]
fn release_parked() {}

#[utoipa::path(
    post,
    path = super::replication::APPEND_PATH,
    tag = INTERNAL_TAG,
    summary = "Store a batch of entries (internal)",
    description = "Secondaries only. Seqs already held are ignored; seqs after a gap are \
        held until it fills. Subject to the secondary's faults: `delay_ms` delays the answer. \
        Every replog primary also sends `x-replog-term`, `x-replog-leader`, \
        `x-replog-leader-url`, `x-replog-log` (its log as term runs, `TERM@SEQ,…;LAST`) and \
        `x-replog-commit`: on the first request of a new term's primary, a node cuts the \
        entries its log does not share with the primary's (into `DATA_DIR/rollback/`).",
    params(
        ("x-replog-primary" = u64, Header,
            description = "The sending primary's log identity; a new one makes the secondary start over"),
    ),
    request_body(content = AppendRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The secondary's position once what it stored is durable \
            (fsynced, with a data directory)", body = Position),
        (status = 400, description = "Not a valid batch (seqs start at 1), or a malformed \
            `x-replog-primary`", body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Sent to a primary", body = ErrorBody),
        (status = 409, description = "The sender's term (`x-replog-term`) is older than this \
            node's (`term`): a newer primary was elected, the sender must step down; or the \
            entry before the batch (`prev`) is here in another term: the node matches its log \
            again on the next request", body = ErrorBody),
        (status = 413, description = "Body over 64 MiB", body = ErrorBody),
        (status = 500, description = "Injected failure (`fail_next`); after store it carries `last_seq`",
            body = ErrorBody),
        (status = 503, description = "Blocked by fault injection, or `storage: …`: the \
            secondary's disk refused the entries (retried by the primary)", body = ErrorBody),
    ),
)]
fn append() {}

#[utoipa::path(
    get,
    path = super::replication::HEARTBEAT_PATH,
    tag = INTERNAL_TAG,
    summary = "Heartbeat (internal)",
    description = "Secondaries only: answers the secondary's position.",
    params(
        ("x-replog-primary" = u64, Header,
            description = "The sending primary's log identity; a new one makes the secondary start over"),
    ),
    responses(
        (status = 200, description = "The secondary's position", body = Position),
        (status = 400, description = "A malformed `x-replog-primary`", body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Sent to a primary", body = ErrorBody),
        (status = 409, description = "The sender's term is older than this node's (`term`)",
            body = ErrorBody),
        (status = 503, description = "Blocked by fault injection", body = ErrorBody),
    ),
)]
fn heartbeat() {}

#[utoipa::path(
    post,
    path = VOTE_PATH,
    tag = INTERNAL_TAG,
    summary = "Ask for a vote (internal)",
    description = "Members only (`replog node member`; 404 elsewhere). A candidate asks for \
        this member's vote in `term`, with its last entry. Granted at most once per term, and \
        only to a candidate whose log is at least as up to date (later last term, or the same \
        term and at least as long). The term and vote are on disk before the answer leaves.",
    request_body(content = VoteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The vote, with the voter's term and why it was refused",
            body = VoteReply),
        (status = 400, description = "Not a vote request, or not from a member", body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Sent to a node that does not elect (a fixed role)",
            body = ErrorBody),
        (status = 503, description = "Blocked by fault injection, or `storage: …`: the vote \
            could not be made durable", body = ErrorBody),
    ),
)]
fn vote() {}

#[utoipa::path(
    post,
    path = super::atomic::DECISION_PATH,
    tag = INTERNAL_TAG,
    summary = "GlobalCommit / GlobalAbort (internal)",
    description = "Secondaries only: the coordinator's decision on an atomic entry, sent once \
        it is recorded, and again whenever the participant's answers still list the entry \
        among its `votes`. The participant records it durably: committed, the entry (and \
        everything that waited behind it) becomes visible; aborted, it stays a marker. A \
        decision for an entry already decided, or not held, changes nothing.",
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The participant's position after the decision", body = Position),
        (status = 400, description = "Not a decision", body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Sent to a primary", body = ErrorBody),
        (status = 409, description = "The sender's term is older than this node's (`term`)",
            body = ErrorBody),
        (status = 503, description = "Blocked by fault injection, or `storage: …`: the \
            decision could not be recorded", body = ErrorBody),
    ),
)]
fn decision() {}

#[utoipa::path(
    post,
    path = super::atomic::OUTCOME_PATH,
    tag = INTERNAL_TAG,
    summary = "What a member holds of atomic entries (internal)",
    description = "Members only, asked by a newly elected primary for the atomic entries it \
        holds undecided: each seq with this member's state (absent: an ordinary entry, or not \
        held). The primary commits what anyone holds committed, aborts what anyone holds \
        aborted, and presumes abort once a majority holds it undecided or not at all.",
    request_body(content = OutcomeQuery, content_type = "application/json"),
    responses(
        (status = 200, description = "This member's state of each seq", body = OutcomeReport),
        (status = 400, description = "Not a query", body = ErrorBody),
        (status = 401, description = "The node runs with a cluster token and the request's \
            `Authorization: Bearer <token>` is missing or wrong", body = ErrorBody),
        (status = 404, description = "Sent to a primary", body = ErrorBody),
        (status = 409, description = "The sender's term is older than this node's (`term`)",
            body = ErrorBody),
        (status = 503, description = "Blocked by fault injection", body = ErrorBody),
    ),
)]
fn outcome() {}

#[utoipa::path(
    get,
    path = OPENAPI_PATH,
    tag = CLIENT_TAG,
    summary = "This document",
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
fn openapi_json() {}

/// `GET /openapi.json`, on both roles. Rendered once: the document never changes.
pub async fn serve() -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    static JSON: std::sync::LazyLock<Result<String, String>> =
        std::sync::LazyLock::new(|| document().to_json().map_err(|e| e.to_string()));
    match &*JSON {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response(),
        // Cannot happen for a derived document, but is answered, not panicked on.
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(ErrorBody::new(format!(
                "cannot render the OpenAPI document: {e}"
            ))),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{APPEND_PATH, HEARTBEAT_PATH};
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::to_value(document()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lists_every_route_with_its_methods_and_error_statuses() {
        let doc = doc();
        let ops = |path: &str| -> Vec<String> {
            let mut methods: Vec<String> = doc["paths"][path]
                .as_object()
                .map(|item| item.keys().cloned().collect())
                .unwrap_or_default();
            methods.sort();
            methods
        };
        assert_eq!(ops(MESSAGES_PATH), ["get", "post"]);
        assert_eq!(ops(HEALTH_PATH), ["get"]);
        assert_eq!(ops(FAULTS_PATH), ["delete", "get", "post"]);
        assert_eq!(ops(TIMING_PATH), ["get", "post"]);
        assert_eq!(ops(APPEND_PATH), ["post"]);
        assert_eq!(ops(HEARTBEAT_PATH), ["get"]);
        assert_eq!(ops(OPENAPI_PATH), ["get"]);
        assert_eq!(ops(EVENTS_PATH), ["get"]);
        assert_eq!(ops(RELEASE_PATH), ["post"]);
        assert_eq!(ops(VOTE_PATH), ["post"]);
        assert_eq!(ops(crate::api::DECISION_PATH), ["post"]);
        assert_eq!(ops(crate::api::OUTCOME_PATH), ["post"]);
        let statuses = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            statuses(MESSAGES_PATH, "post"),
            ["201", "307", "400", "405", "409", "413", "503", "504"]
        );
        assert_eq!(
            statuses(FAULTS_PATH, "post"),
            ["200", "400", "401", "404", "413"]
        );
        assert_eq!(
            statuses(TIMING_PATH, "post"),
            ["200", "400", "401", "404", "413"]
        );
        // Every route the cluster token guards says so.
        for (path, method) in [
            (FAULTS_PATH, "get"),
            (FAULTS_PATH, "delete"),
            (TIMING_PATH, "get"),
            (TIMING_PATH, "post"),
            (APPEND_PATH, "post"),
            (HEARTBEAT_PATH, "get"),
        ] {
            assert!(
                statuses(path, method).contains(&"401".to_string()),
                "{path} {method}"
            );
        }
        assert!(!statuses(MESSAGES_PATH, "post").contains(&"401".to_string()));
        for (path, method) in [
            (MESSAGES_PATH, "post"),
            (FAULTS_PATH, "post"),
            (TIMING_PATH, "post"),
        ] {
            let error = &doc["paths"][path][method]["responses"]["400"]["content"]
                ["application/json"]["schema"]["$ref"];
            assert_eq!(error, "#/components/schemas/ErrorBody", "{path}");
        }
    }

    #[test]
    fn schemas_say_what_the_json_is() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["Health"]["enum"],
            serde_json::json!(["healthy", "suspected", "unhealthy"])
        );
        assert_eq!(
            schemas["FailAt"]["enum"],
            serde_json::json!(["before_store", "after_store"])
        );
        let report = &schemas["SecondaryReport"];
        assert_eq!(report["properties"]["acked_seq"]["format"], "int64");
        // Always present, null when unknown.
        assert_eq!(
            report["properties"]["next_retry_in_ms"]["type"],
            serde_json::json!(["integer", "null"])
        );
        let required = report["required"].as_array().cloned().unwrap_or_default();
        assert!(required.contains(&"next_retry_in_ms".into()), "{report}");
        assert_eq!(schemas["FaultPatch"]["additionalProperties"], false);
        assert_eq!(schemas["TimingPatch"]["additionalProperties"], false);
        // Either role's /health, told apart by `role`.
        let roles: Vec<&Value> = schemas["NodeHealth"]["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| &v["allOf"][1]["properties"]["role"]["enum"][0])
            .collect();
        assert_eq!(
            roles,
            [
                &Value::from("primary"),
                &Value::from("secondary"),
                &Value::from("candidate")
            ]
        );
    }
}
