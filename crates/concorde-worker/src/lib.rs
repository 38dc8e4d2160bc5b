//! The worker runtime: containers and volumes on one machine, behind the [`Runtime`] trait.
//!
//! A **volume** is a directory the runtime owns (an artifact, a cache, a resource's fetched
//! bits, an image rootfs). A **container** runs processes with an image rootfs and volumes
//! mounted at paths. Backends: [`RuncRuntime`] (OCI bundles, overlayfs rootfs, cgroup limits,
//! own network namespace) and [`HostRuntime`] (processes run directly in per-container
//! directories). [`detect`] picks one.
//!
//! Both keep everything on disk under one work directory (`volumes/`, `containers/`, `runc/`,
//! `.trash/`), so a restarted worker still knows its volumes and containers.

mod backend;
mod cow;
mod detect;
mod error;
mod groups;
mod host;
mod paths;
mod process;
mod runc;
mod runtime;
mod state;
mod tarstream;
mod trash;
mod volumes;

pub use detect::{RuntimeChoice, detect};
pub use error::WorkerError;
pub use host::{DEFAULT_KILL_GRACE, HostRuntime, ROOT_ENV};
pub use runc::{Ipv4Pool, NetworkMode, RuncOptions, RuncRuntime};
pub use runtime::{
    ContainerHandle, ContainerSpec, ExitStatus, ImageSpec, Limits, Mount, ProcessIo, ProcessSpec,
    Runtime, VolumeHandle, VolumeInfo, VolumeStrategy,
};
