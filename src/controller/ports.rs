//! Picking loopback ports for nodes that may be restarted on the same port.
//!
//! Ports come from below the kernel's ephemeral range (32768+ by default):
//! `bind(…:0)` and outgoing connections never take those, so the port of a
//! killed node is still free when it restarts, even with other programs
//! (or parallel tests) busy on the machine.

use std::hash::{BuildHasher, Hasher};

const FIRST: u16 = 20_000;
const COUNT: u16 = 12_000;

fn random() -> u64 {
    // RandomState is seeded randomly per instance: no extra crate needed.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A loopback port that is free now, outside the ephemeral range.
pub fn pick_free_port() -> Result<u16, String> {
    for _ in 0..500 {
        let port = FIRST + (random() % COUNT as u64) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free loopback port found in 20000..32000".into())
}
