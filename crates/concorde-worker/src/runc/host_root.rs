//! [`ImageSpec::HostRoot`](crate::ImageSpec::HostRoot) containers: the worker's own root
//! filesystem, read-only, as the rootfs of trusted built-in scripts (the resource types this
//! binary runs as `concorde resource <type> <action>`), so they find the binary, `git`, `ssh`
//! and `sh` where the host has them.
//!
//! The rootfs is a **non-recursive** bind of the host's `/` at `<container>/rootfs`, made
//! private (no mount events flow either way) and read-only before anything else sees it. An
//! overlay with `/` as its lower layer cannot work (the upper layer would lie inside the lower
//! one), and a recursive bind would drag in every mount of the host, including other
//! containers' rootfs binds. So the container sees the root filesystem only: a path on another
//! mount shows whatever the root filesystem has under that mount point (usually an empty
//! directory). On top of it come runc's `/proc`, `/dev` and `/sys`, a fresh writable tmpfs at
//! `/tmp` (`HOME` and `TMPDIR` point there, so git can write its config and caches), a tmpfs
//! hiding the worker's directory (other containers' volumes) when the root filesystem holds it,
//! the network files, and the step's volumes. runc is told the root is read-only too.
//!
//! **The executable.** A process whose executable is an absolute path that exists on the host
//! but is not visible at that path in the container (the binary lives on another mount, or
//! under the host's `/tmp`, which the container's own `/tmp` hides) gets that one file
//! bind-mounted read-only at its host path. Under `/tmp` runc creates the mount point in the
//! tmpfs. Elsewhere the root filesystem is read-only, so when the path is missing a small
//! tmpfs (a scaffold) goes first at the deepest directory that does exist. That directory's
//! contents on the root filesystem are shadowed by a mount on the host too (that is why the
//! path is missing), so the scaffold hides nothing the host shows. Only the executable is
//! handled: programs it runs by name (`git`, `ssh`, `sh`) and their libraries must be on the
//! root filesystem, as they are on an ordinary install.
//!
//! **Volumes** must be mounted under `/tmp` or another volume, or at a directory that exists
//! on the host's root filesystem: nothing can be created on a read-only root.
//!
//! **Teardown** refuses to delete a container directory whose `rootfs` still shows the host's
//! root, so a failed unmount can never turn into deleting the host.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::statvfs::FsFlags;

use super::BindMount;
use crate::WorkerError;
use crate::state::DEFAULT_PATH;

/// Where a host-root container can write: its own `/tmp`.
const TMP: &str = "/tmp";

/// Paths runc mounts its own filesystems at; the host's files there are never visible.
const KERNEL_DIRS: [&str; 3] = ["/proc", "/dev", "/sys"];

/// The saved shape of a host-root container.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct HostRoot {
    /// Writable tmpfs mounts over the read-only root, outer paths first: `/tmp` and, when the
    /// root filesystem holds it, the worker's directory.
    pub tmpfs: Vec<Tmpfs>,
}

/// A fresh tmpfs mount.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tmpfs {
    pub destination: String,
    /// Mount options (`mode=`, `size=`, flags).
    pub options: Vec<String>,
}

/// The extra mounts one process needs, in order: scaffolds, then binds.
#[derive(Debug, Default)]
pub(crate) struct ProcessMounts {
    pub tmpfs: Vec<Tmpfs>,
    pub binds: Vec<BindMount>,
}

/// Binds the host's `/` read-only at `rootfs` (created here), keeping `/`'s `nosuid`,
/// `nodev` and `noexec`. If making it private or read-only fails it is unmounted again.
pub(crate) fn mount(rootfs: &Path) -> Result<(), WorkerError> {
    std::fs::create_dir(rootfs)?;
    let none = None::<&str>;
    nix::mount::mount(Some("/"), rootfs, none, MsFlags::MS_BIND, none).map_err(io)?;
    let kept = nix::sys::statvfs::statvfs("/")
        .map(|stat| {
            let mut flags = MsFlags::empty();
            for (fs_flag, ms_flag) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            ] {
                if stat.flags().contains(fs_flag) {
                    flags |= ms_flag;
                }
            }
            flags
        })
        .map_err(io);
    let finished = kept.and_then(|kept| {
        nix::mount::mount(none, rootfs, none, MsFlags::MS_PRIVATE, none).map_err(io)?;
        let read_only = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept;
        nix::mount::mount(none, rootfs, none, read_only, none).map_err(io)
    });
    if let Err(err) = finished {
        let _ = nix::mount::umount2(rootfs, MntFlags::MNT_DETACH);
        return Err(err);
    }
    Ok(())
}

/// Fails while `rootfs` still shows the host's root directory, after trying to unmount it a few
/// times (a bind may have been stacked twice): the caller must not delete what is under it.
pub(crate) fn ensure_released(rootfs: &Path) -> Result<(), WorkerError> {
    for _ in 0..4 {
        if !is_host_root(rootfs) {
            return Ok(());
        }
        let _ = nix::mount::umount2(rootfs, MntFlags::MNT_DETACH);
    }
    if is_host_root(rootfs) {
        return Err(WorkerError::Runtime(format!(
            "{} still shows the host's root filesystem after unmounting; not deleting it",
            rootfs.display()
        )));
    }
    Ok(())
}

/// Whether `path` is the host's root directory (the same inode on the same device).
fn is_host_root(path: &Path) -> bool {
    match (std::fs::symlink_metadata(path), std::fs::metadata("/")) {
        (Ok(path), Ok(root)) => path.dev() == root.dev() && path.ino() == root.ino(),
        _ => false,
    }
}

/// The environment of a host-root container, before the spec's: the worker's `PATH`, and a
/// writable home and temporary directory.
pub(crate) fn env() -> Vec<String> {
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
    vec![
        format!("PATH={path}"),
        format!("HOME={TMP}"),
        format!("TMPDIR={TMP}"),
    ]
}

impl HostRoot {
    /// The tmpfs mounts of a container over `rootfs`: `/tmp`, and a mask over `work_dir`
    /// (whose `volumes/` hold other containers' data) when the root filesystem shows it.
    pub(crate) fn new(rootfs: &Path, work_dir: &Path) -> HostRoot {
        let mut tmpfs = vec![Tmpfs {
            destination: TMP.to_owned(),
            options: options(&["nosuid", "nodev", "mode=1777"]),
        }];
        if !work_dir.starts_with(TMP)
            && let (Some(destination), Lookup::Found(found)) =
                (work_dir.to_str(), lookup(rootfs, work_dir))
            && found.is_dir()
        {
            tmpfs.push(Tmpfs {
                destination: destination.to_owned(),
                options: scaffold_options(),
            });
        }
        HostRoot { tmpfs }
    }

    /// Whether `path` lies in one of the container's writable tmpfs mounts.
    fn in_tmpfs(&self, path: &Path) -> bool {
        self.tmpfs
            .iter()
            .any(|tmpfs| path.starts_with(&tmpfs.destination))
    }

    /// Refuses volume mounts runc could not create a mount point for: on the read-only root
    /// a destination must exist as a directory, unless it lies in a tmpfs or an earlier
    /// writable volume (`mounts` are outer paths first).
    pub(crate) fn check_mounts(
        &self,
        rootfs: &Path,
        mounts: &[BindMount],
    ) -> Result<(), WorkerError> {
        for (n, mount) in mounts.iter().enumerate() {
            let destination = Path::new(&mount.destination);
            let in_volume = mounts[..n]
                .iter()
                .any(|outer| !outer.read_only && destination.starts_with(&outer.destination));
            let exists =
                matches!(lookup(rootfs, destination), Lookup::Found(found) if found.is_dir());
            if !(self.in_tmpfs(destination) || in_volume || exists) {
                return Err(WorkerError::InvalidPath(format!(
                    "mount path {} is neither under {TMP} nor a directory on the host's root \
                     filesystem, which a host-root container sees read-only",
                    mount.destination
                )));
            }
        }
        Ok(())
    }

    /// Whether the host file behind each `/etc` file is there to be mounted over; a missing
    /// one cannot be created on the read-only root, so it is left out.
    pub(crate) fn can_cover(rootfs: &Path, destination: &str) -> bool {
        matches!(lookup(rootfs, Path::new(destination)), Lookup::Found(found) if found.is_file())
    }

    /// The mounts that show the executable `path` at its host path (see the module docs).
    /// Nothing when it is already visible, relative, not on the host, or under a kernel
    /// filesystem or a volume (`volumes`: their destinations), where the host's file is not
    /// what the process means.
    pub(crate) fn executable_mounts(
        &self,
        rootfs: &Path,
        volumes: &[BindMount],
        path: &str,
    ) -> Result<ProcessMounts, WorkerError> {
        let none = ProcessMounts::default();
        if !path.starts_with('/') {
            return Ok(none);
        }
        let Ok(host) = std::fs::canonicalize(path) else {
            return Ok(none);
        };
        let Ok(host_file) = std::fs::metadata(&host) else {
            return Ok(none);
        };
        let hidden = KERNEL_DIRS
            .iter()
            .map(Path::new)
            .chain(volumes.iter().map(|volume| Path::new(&volume.destination)))
            .any(|dir| host.starts_with(dir));
        let Some(destination) = host.to_str().map(str::to_owned) else {
            return Ok(none);
        };
        if hidden || !host_file.is_file() {
            return Ok(none);
        }
        let bind = BindMount {
            source: host.clone(),
            destination,
            read_only: true,
        };
        if self.in_tmpfs(&host) {
            return Ok(ProcessMounts {
                tmpfs: Vec::new(),
                binds: vec![bind],
            });
        }
        let scaffold = match lookup(rootfs, &host) {
            Lookup::Found(found)
                if found.dev() == host_file.dev() && found.ino() == host_file.ino() =>
            {
                return Ok(none);
            }
            Lookup::Found(found) if found.is_file() => None,
            Lookup::Found(_) => host.parent().map(Path::to_owned),
            Lookup::Missing { deepest_dir } => Some(deepest_dir),
        };
        let mut tmpfs = Vec::new();
        if let Some(dir) = scaffold {
            match dir.to_str() {
                Some(dir) if dir != "/" => tmpfs.push(Tmpfs {
                    destination: dir.to_owned(),
                    options: scaffold_options(),
                }),
                _ => {
                    return Err(WorkerError::ProcessStart {
                        path: path.to_owned(),
                        reason: "it cannot be shown at its host path in a host-root container"
                            .to_owned(),
                    });
                }
            }
        }
        Ok(ProcessMounts {
            tmpfs,
            binds: vec![bind],
        })
    }
}

/// What an absolute path is in the container's view of the host root through `rootfs`.
#[derive(Debug)]
enum Lookup {
    /// It exists (not followed if a symlink).
    Found(std::fs::Metadata),
    /// It does not, or a directory on the way is missing or a symlink: the deepest real
    /// directory on the way that exists.
    Missing { deepest_dir: PathBuf },
}

/// Looks `path` up under `rootfs` one component at a time, never following a symlink (which
/// would resolve against the host rather than the view).
fn lookup(rootfs: &Path, path: &Path) -> Lookup {
    let mut reached = PathBuf::from("/");
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Lookup::Missing {
                    deepest_dir: reached,
                };
            }
        }
    }
    let Some((last, dirs)) = parts.split_last() else {
        return match std::fs::symlink_metadata(rootfs) {
            Ok(found) => Lookup::Found(found),
            Err(_) => Lookup::Missing {
                deepest_dir: reached,
            },
        };
    };
    for part in dirs {
        let next = reached.join(part);
        match std::fs::symlink_metadata(in_view(rootfs, &next)) {
            Ok(found) if found.is_dir() => reached = next,
            _ => {
                return Lookup::Missing {
                    deepest_dir: reached,
                };
            }
        }
    }
    match std::fs::symlink_metadata(in_view(rootfs, &reached.join(last))) {
        Ok(found) => Lookup::Found(found),
        Err(_) => Lookup::Missing {
            deepest_dir: reached,
        },
    }
}

/// `path` (absolute) under `rootfs`.
fn in_view(rootfs: &Path, path: &Path) -> PathBuf {
    rootfs.join(path.strip_prefix("/").unwrap_or(path))
}

/// A small writable tmpfs: a scaffold for mount points, or a mask.
fn scaffold_options() -> Vec<String> {
    options(&["nosuid", "nodev", "mode=755", "size=1m"])
}

fn options(list: &[&str]) -> Vec<String> {
    list.iter().map(|option| (*option).to_owned()).collect()
}

fn io(err: nix::errno::Errno) -> WorkerError {
    WorkerError::Io(err.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    #[test]
    fn lookup_walks_without_following_symlinks() {
        let view = tempfile::tempdir().unwrap();
        let root = view.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/tool"), "x").unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();

        let found = |path: &str| match lookup(root, Path::new(path)) {
            Lookup::Found(found) => Ok(found.is_file()),
            Lookup::Missing { deepest_dir } => Err(deepest_dir),
        };
        assert_eq!(found("/usr/bin/tool"), Ok(true));
        assert_eq!(found("/usr/bin"), Ok(false));
        assert_eq!(found("/"), Ok(false));
        assert_eq!(found("/usr/lib/x/y"), Err(PathBuf::from("/usr")));
        assert_eq!(found("/usr/bin/tool/x"), Err(PathBuf::from("/usr/bin")));
        // The symlink would lead to the host's /usr; the view stops at it.
        assert_eq!(found("/escape/usr/bin"), Err(PathBuf::from("/")));
        assert_eq!(found("/usr/../etc"), Err(PathBuf::from("/")));
    }
}
