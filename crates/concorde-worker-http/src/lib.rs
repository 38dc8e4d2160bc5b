//! A worker's containers and volumes over HTTP. [`serve`] exposes a worker's [`Runtime`] (on
//! loopback: the web node reaches it only through the TSA's SSH tunnel), and [`RemoteRuntime`]
//! is a [`Runtime`] that speaks to such a service, so the web node's recording client works the
//! same over the network as over an in-process runtime. The protocol is this crate's own: JSON
//! for specs and errors (`wire.rs`), tar for volume contents, and frames for a process's
//! streams (`frames.rs`). A worker with a peer address (`p2p.rs`) also takes volume streams
//! pushed straight from other workers, each with a one-time ticket the web node asked it for.
//!
//! [`Runtime`]: concorde_worker::Runtime

mod client;
mod compression;
mod frames;
mod p2p;
mod server;
mod wire;

pub use client::RemoteRuntime;
pub use compression::Compression;
pub use p2p::{P2p, peer_router, serve_peers};
pub use server::{router, serve};
