//! The OCI runtime `config.json` for one process of a container.
//!
//! Unprivileged containers get Docker's default capabilities (none at all for a non-root
//! user), masked and read-only kernel paths, a read-only `/sys` and only the default devices.
//! Privileged ones get every capability, every device and a writable `/sys`. Resource limits
//! (rlimits) are the worker's own: raising them can be refused even to root.

use serde_json::{Value, json};

use super::RuncContainer;
use super::host_root::{ProcessMounts, Tmpfs};
use super::user::ResolvedUser;

/// Every capability runc 1.1 knows, indexed by its number.
const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Capabilities of an unprivileged root process (Docker's default set).
const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The worker's own capability bounding set: a container cannot be given more, and runc
/// fails outright if asked to (a worker in a restricted sandbox lacks some).
pub(crate) fn worker_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("CapBnd:"))?;
            u64::from_str_radix(line.trim_start_matches("CapBnd:").trim(), 16).ok()
        })
        .unwrap_or(u64::MAX)
}

const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// One process to start.
#[derive(Debug)]
pub(crate) struct ProcessConfig {
    /// `args[0]` is the executable, looked up on the env's `PATH` inside the container.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ResolvedUser,
    /// What a host-root container needs to show this process's executable.
    pub host_mounts: ProcessMounts,
}

/// The whole `config.json`.
pub(crate) fn config(
    container: &RuncContainer,
    process: &ProcessConfig,
    cgroups_path: &str,
    bounding: u64,
) -> Value {
    let capabilities: Vec<&str> = ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|&(bit, name)| {
            bounding >> bit & 1 == 1
                && (container.privileged || DEFAULT_CAPABILITIES.contains(name))
        })
        .map(|(_, name)| *name)
        .collect();
    // As with Docker, a non-root user only keeps capabilities in the bounding set, so setuid
    // binaries still work but the process itself has none.
    let effective: &[&str] = if process.user.uid == 0 {
        &capabilities
    } else {
        &[]
    };
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if let Some(network) = &container.network {
        namespaces.push(json!({"type": "network", "path": network.netns_path()}));
    }
    let mut resources = json!({
        "devices": [{"allow": container.privileged, "access": "rwm"}],
    });
    if let Some(limit) = container.memory_bytes {
        // Swap equal to the limit means no swap on top of it (memsw counts both).
        resources["memory"] = json!({"limit": limit, "swap": limit});
    }
    if let Some(shares) = container.cpu_shares {
        resources["cpu"] = json!({"shares": shares});
    }
    let mut linux = json!({
        "cgroupsPath": cgroups_path,
        "resources": resources,
        "namespaces": namespaces,
    });
    if !container.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {
                "uid": process.user.uid,
                "gid": process.user.gid,
                "additionalGids": process.user.additional_gids,
            },
            "args": process.args,
            "env": process.env,
            "cwd": process.cwd,
            "capabilities": {
                "bounding": capabilities,
                "effective": effective,
                "permitted": effective,
                "inheritable": effective,
            },
            "noNewPrivileges": false,
        },
        "root": {"path": container.rootfs, "readonly": container.host_root.is_some()},
        "hostname": container.hostname,
        "mounts": mounts(container, &process.host_mounts),
        "linux": linux,
    })
}

/// runc mounts in this order, so a mount point inside another mount comes after it: the
/// kernel filesystems, a host root's tmpfs mounts and the executable, `/etc` files, volumes.
fn mounts(container: &RuncContainer, host_mounts: &ProcessMounts) -> Vec<Value> {
    let sys_options: &[&str] = if container.privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ];
    let tmpfs_mounts = container
        .host_root
        .iter()
        .flat_map(|host_root| &host_root.tmpfs);
    for tmpfs in tmpfs_mounts.chain(&host_mounts.tmpfs) {
        let Tmpfs {
            destination,
            options,
        } = tmpfs;
        mounts.push(json!({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": options}));
    }
    for bind in &host_mounts.binds {
        // Not recursive: the executable alone, read-only.
        mounts.push(json!({"destination": bind.destination, "type": "bind", "source": bind.source, "options": ["bind", "ro", "nosuid", "nodev"]}));
    }
    for file in &container.etc_files {
        mounts.push(json!({"destination": file.destination, "type": "bind", "source": file.source, "options": ["rbind", "ro"]}));
    }
    for mount in &container.mounts {
        let mode = if mount.read_only { "ro" } else { "rw" };
        mounts.push(json!({"destination": mount.destination, "type": "bind", "source": mount.source, "options": ["rbind", mode]}));
    }
    mounts
}
