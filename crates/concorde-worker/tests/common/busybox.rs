//! Real-runc fixtures: the root and runc check, runtimes with a short kill grace, and a
//! busybox image built from Debian's `busybox-static`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use concorde_worker::{ImageSpec, NetworkMode, RuncOptions, RuncRuntime, Runtime, VolumeStrategy};

use super::{WorkDir, vol};

pub const GRACE: Duration = Duration::from_secs(2);

pub fn require_runc() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the runc tests must run as root (CI does); they do not skip"
    );
    let runc = std::process::Command::new("runc").arg("--version").output();
    assert!(
        runc.is_ok_and(|out| out.status.success()),
        "runc is not installed: apt-get install runc busybox-static iproute2 iptables"
    );
}

pub fn runtime_with(network: NetworkMode) -> (WorkDir, RuncRuntime) {
    require_runc();
    let dir = tempfile::tempdir().unwrap();
    let options = RuncOptions {
        kill_grace: GRACE,
        network,
        ..RuncOptions::default()
    };
    let runtime = RuncRuntime::with_options(dir.path(), options).unwrap();
    (
        WorkDir::new(dir, |path| Box::new(RuncRuntime::new(path).unwrap())),
        runtime,
    )
}

pub fn runtime() -> (WorkDir, RuncRuntime) {
    runtime_with(RuncOptions::default().network)
}

/// Writes a busybox image (`rootfs/` and `metadata.json`) into `dir`.
pub fn write_busybox_image(dir: &Path, metadata: &str) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    let rootfs = dir.join("rootfs");
    for sub in ["bin", "etc", "tmp", "root", "home/alice"] {
        std::fs::create_dir_all(rootfs.join(sub)).unwrap();
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .filter(|applet| *applet != "busybox")
    {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nnogroup:x:65534:\n",
    )
    .unwrap();
    std::os::unix::fs::chown(rootfs.join("home/alice"), Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::write(dir.join("metadata.json"), metadata).unwrap();
}

/// Imports the busybox image as volume `image`.
pub async fn busybox(runtime: &RuncRuntime) -> ImageSpec {
    busybox_with(
        runtime,
        "image",
        r#"{"env": ["IMAGE_VAR=from-image", "PATH=/bin"]}"#,
    )
    .await
}

pub async fn busybox_with(runtime: &RuncRuntime, handle: &str, metadata: &str) -> ImageSpec {
    let source = tempfile::tempdir().unwrap();
    write_busybox_image(source.path(), metadata);
    runtime
        .create_volume(
            &vol(handle),
            VolumeStrategy::Import(source.path().to_owned()),
        )
        .await
        .unwrap();
    ImageSpec::Volume(vol(handle))
}

/// The `net:[inode]` names of the named network namespaces (`ip netns`).
pub fn named_netns_inodes() -> Vec<String> {
    std::fs::read_dir("/var/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::metadata(entry.path()).ok())
        .map(|metadata| format!("net:[{}]", std::os::unix::fs::MetadataExt::ino(&metadata)))
        .collect()
}
