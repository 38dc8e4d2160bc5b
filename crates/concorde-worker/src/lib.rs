//! The worker runtime: containers and volumes on one machine, behind the [`Runtime`] trait.
//!
//! A **volume** is a directory the runtime owns (an artifact, a cache, a resource's fetched
//! bits, an image rootfs). A **container** runs processes with an image rootfs and volumes
//! mounted at paths. Backends: `runc` (OCI bundles, overlayfs rootfs, cgroup limits, own network
//! namespace) and `host` (processes run directly in per-container directories).

mod error;
mod runtime;

pub use error::WorkerError;
pub use runtime::{
    ContainerHandle, ContainerSpec, ExitStatus, ImageSpec, Limits, Mount, ProcessIo, ProcessSpec, Runtime,
    VolumeHandle, VolumeInfo, VolumeStrategy,
};
