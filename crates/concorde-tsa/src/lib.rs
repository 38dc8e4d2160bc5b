//! The TSA: the SSH server in the web node through which workers on other machines register
//! and are reached, and the worker's side of it. A worker dials the TSA, proves its key,
//! forwards its loopback-only service through the connection and runs `forward-worker`; the TSA
//! registers it with the forwarded address and keeps it alive while the connection and its
//! heartbeats last. Any web node then reaches the worker's containers and volumes at that
//! address.

mod beacon;
mod commands;
mod forwards;
mod keys;
mod server;
mod tuning;

pub use beacon::{Beacon, BeaconConfig, BeaconError, Ended};
pub use commands::DEFAULT_HEARTBEAT;
pub use keys::{KeyError, KeyType, generate_key, load_private_key, load_public_keys};
pub use server::{TsaConfig, run_tsa};
