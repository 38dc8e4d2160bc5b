//! registry-image against a real registry on loopback: check digests, get an image as
//! `rootfs/` + `metadata.json` with whiteouts applied, push layouts back (single images and an
//! index), Docker schema 2 manifests, and Basic auth.

use std::path::Path;

use serde_json::{Value, json};

use crate::registry_fixture::{
    PASSWORD, TestRegistry, USER, add_marker_image, build_busybox_layout, layout_descriptor,
    skopeo_push, tool,
};
use crate::support::{context, run};

fn source(registry: &TestRegistry, repository: &str, tag: &str) -> Value {
    json!({"repository": format!("{}/{repository}", registry.addr), "tag": tag, "insecure": true})
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn check_in_and_out_against_a_real_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(&tmp.path().join("registry"), false);
    let layout = build_busybox_layout(tmp.path());
    let pushed_digest = layout_descriptor(&layout, "latest")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    skopeo_push(
        &layout,
        "latest",
        &format!("{}/busybox:latest", registry.addr),
        None,
        None,
    );
    let ctx = context(tmp.path());

    let versions = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": source(&registry, "busybox", "latest")}),
    )
    .json();
    assert_eq!(
        versions,
        json!([{"digest": pushed_digest, "tag": "latest"}])
    );
    let missing = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": source(&registry, "busybox", "nope")}),
    );
    assert_eq!(missing.json(), json!([]), "a missing tag has no versions");

    let dest = tmp.path().join("get");
    let request = json!({"source": source(&registry, "busybox", "latest"), "version": versions[0]});
    let output = run(&ctx, "registry-image", "in", Some(&dest), &request).json();
    assert_eq!(output["version"], versions[0]);
    let rootfs = dest.join("rootfs");
    let echoed = tool(
        rootfs.join("bin/busybox").to_str().unwrap(),
        &["echo", "from the image"],
    );
    assert_eq!(echoed, "from the image\n", "the unpacked busybox runs");
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(
        !rootfs.join("etc/motd").exists(),
        "a whiteout removed etc/motd"
    );
    assert!(
        !rootfs.join("data/a.txt").exists(),
        "a whiteout removed data/a.txt"
    );
    assert_eq!(read(&rootfs.join("data/b.txt")), "b");
    assert!(
        !rootfs.join("opt/old.txt").exists(),
        "an opaque directory hid opt/old.txt"
    );
    assert_eq!(read(&rootfs.join("opt/new.txt")), "new");
    let metadata: Value = serde_json::from_str(&read(&dest.join("metadata.json"))).unwrap();
    assert_eq!(
        metadata,
        json!({"env": ["PATH=/bin", "GREETING=hello"], "user": "nobody"})
    );
    assert_eq!(read(&dest.join("digest")), pushed_digest);
    assert_eq!(read(&dest.join("tag")), "latest");
    assert_eq!(
        read(&dest.join("repository")),
        format!("{}/busybox", registry.addr)
    );
    assert!(
        !dest.join(".concorde-layers").exists(),
        "downloaded layers are cleaned up"
    );

    // format: oci gives a layout tarball, which out pushes back under another tag.
    let oci = tmp.path().join("put/fetched");
    let request = json!({"source": source(&registry, "busybox", "latest"), "version": versions[0], "params": {"format": "oci"}});
    run(&ctx, "registry-image", "in", Some(&oci), &request).json();
    assert!(!oci.join("rootfs").exists());
    let put_dir = tmp.path().join("put");
    std::fs::write(put_dir.join("tags"), "v1 v1.0\n").unwrap();
    let put = json!({"source": source(&registry, "copy", "latest"), "params": {"image": "fetched/image.tar", "additional_tags": "tags"}});
    let output = run(&ctx, "registry-image", "out", Some(&put_dir), &put).json();
    assert_eq!(
        output["version"],
        json!({"digest": pushed_digest, "tag": "latest"}),
        "same manifest, same digest"
    );
    for tag in ["latest", "v1", "v1.0"] {
        let check = run(
            &ctx,
            "registry-image",
            "check",
            None,
            &json!({"source": source(&registry, "copy", tag)}),
        )
        .json();
        assert_eq!(check[0]["digest"], pushed_digest.as_str(), "tag {tag}");
    }

    // A new image under the same tag is a new version.
    add_marker_image(tmp.path(), &layout, "latest2", "amd64");
    std::fs::write(put_dir.join("tags"), "").unwrap();
    std::os::unix::fs::symlink(&layout, put_dir.join("layout")).unwrap();
    let put =
        json!({"source": source(&registry, "copy", "latest2"), "params": {"image": "layout"}});
    let second = run(&ctx, "registry-image", "out", Some(&put_dir), &put).json();
    assert_eq!(
        second["version"]["digest"],
        layout_descriptor(&layout, "latest2")["digest"]
    );
}

#[test]
fn docker_schema_2_manifests_and_indexes_resolve_to_the_platform_image() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(&tmp.path().join("registry"), false);
    let layout = build_busybox_layout(tmp.path());
    skopeo_push(
        &layout,
        "latest",
        &format!("{}/docker:latest", registry.addr),
        Some("v2s2"),
        None,
    );
    let ctx = context(tmp.path());
    let versions = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": source(&registry, "docker", "latest")}),
    )
    .json();
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/docker:latest", registry.addr),
        ],
    );
    assert!(
        raw.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "skopeo converted to schema 2: {raw}"
    );
    let dest = tmp.path().join("docker-get");
    run(
        &ctx,
        "registry-image",
        "in",
        Some(&dest),
        &json!({"source": source(&registry, "docker", "latest"), "version": versions[0]}),
    )
    .json();
    assert!(dest.join("rootfs/bin/busybox").is_file());

    // An index over two marker images, pushed by out from a layout whose index.json names it.
    add_marker_image(tmp.path(), &layout, "amd", "amd64");
    add_marker_image(tmp.path(), &layout, "arm", "arm64");
    let mut entries = Vec::new();
    for (name, arch) in [("arm", "arm64"), ("amd", "amd64")] {
        let mut entry = layout_descriptor(&layout, name);
        entry.as_object_mut().unwrap().remove("annotations");
        entry["platform"] = json!({"os": "linux", "architecture": arch});
        entries.push(entry);
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})).unwrap();
    let index_digest = format!("sha256:{}", sha256_hex(&index));
    std::fs::write(
        layout
            .join("blobs/sha256")
            .join(&index_digest["sha256:".len()..]),
        &index,
    )
    .unwrap();
    let multi = tmp.path().join("put/multi");
    std::fs::create_dir_all(&multi).unwrap();
    std::os::unix::fs::symlink(layout.join("blobs"), multi.join("blobs")).unwrap();
    std::fs::write(
        multi.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index.len()}]});
    std::fs::write(multi.join("index.json"), top.to_string()).unwrap();
    let put = json!({"source": source(&registry, "multi", "latest"), "params": {"image": "multi"}});
    let output = run(
        &ctx,
        "registry-image",
        "out",
        Some(&tmp.path().join("put")),
        &put,
    )
    .json();
    assert_eq!(output["version"]["digest"], index_digest.as_str());
    let version = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": source(&registry, "multi", "latest")}),
    )
    .json()[0]
        .clone();
    assert_eq!(
        version["digest"],
        index_digest.as_str(),
        "check reports the index digest"
    );
    let amd = tmp.path().join("amd-get");
    run(
        &ctx,
        "registry-image",
        "in",
        Some(&amd),
        &json!({"source": source(&registry, "multi", "latest"), "version": version}),
    )
    .json();
    assert_eq!(
        read(&amd.join("rootfs/arch")),
        "amd64",
        "linux/amd64 is the default platform"
    );
    let mut arm_source = source(&registry, "multi", "latest");
    arm_source["platform"] = json!({"architecture": "arm64"});
    let arm = tmp.path().join("arm-get");
    run(
        &ctx,
        "registry-image",
        "in",
        Some(&arm),
        &json!({"source": arm_source, "version": version}),
    )
    .json();
    assert_eq!(read(&arm.join("rootfs/arch")), "arm64");
}

#[test]
fn basic_auth_is_answered_with_the_source_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(&tmp.path().join("registry"), true);
    let layout = build_busybox_layout(tmp.path());
    skopeo_push(
        &layout,
        "latest",
        &format!("{}/private:latest", registry.addr),
        None,
        Some(&format!("{USER}:{PASSWORD}")),
    );
    let ctx = context(tmp.path());
    let anonymous = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": source(&registry, "private", "latest")}),
    );
    anonymous.assert_failed_with("username and password");
    let mut with_creds = source(&registry, "private", "latest");
    with_creds["username"] = json!(USER);
    with_creds["password"] = json!(PASSWORD);
    let versions = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": with_creds}),
    )
    .json();
    let dest = tmp.path().join("get");
    run(
        &ctx,
        "registry-image",
        "in",
        Some(&dest),
        &json!({"source": with_creds, "version": versions[0], "params": {"format": "oci"}}),
    )
    .json();
    let mut copy = with_creds.clone();
    copy["repository"] = json!(format!("{}/private-copy", registry.addr));
    let output = run(
        &ctx,
        "registry-image",
        "out",
        Some(tmp.path()),
        &json!({"source": copy, "params": {"image": "get/image.tar"}}),
    )
    .json();
    assert_eq!(output["version"]["digest"], versions[0]["digest"]);
    let mut wrong = with_creds;
    wrong["password"] = json!("wrong");
    run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": wrong}),
    )
    .assert_failed_with("401");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn bearer_tokens_are_fetched_from_the_challenge_realm() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(&tmp.path().join("registry"), false);
    let layout = build_busybox_layout(tmp.path());
    skopeo_push(
        &layout,
        "latest",
        &format!("{}/guarded:latest", registry.addr),
        None,
        None,
    );
    let proxy = crate::bearer_proxy::BearerProxy::start(&registry.addr);
    let ctx = context(tmp.path());
    let guarded = json!({"repository": format!("{}/guarded", proxy.addr), "insecure": true, "username": USER, "password": PASSWORD});
    let versions = run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": guarded}),
    )
    .json();
    let expected = layout_descriptor(&layout, "latest")["digest"].clone();
    assert_eq!(versions[0]["digest"], expected);
    assert_eq!(
        proxy
            .token_queries
            .lock()
            .unwrap()
            .first()
            .map(String::as_str),
        Some("service=concorde-test&scope=repository%3Aguarded%3Apull"),
        "the token request carries the challenge's service and scope"
    );
    let dest = tmp.path().join("put/image");
    run(
        &ctx,
        "registry-image",
        "in",
        Some(&dest),
        &json!({"source": guarded, "version": versions[0], "params": {"format": "oci"}}),
    )
    .json();
    let mut copy = guarded.clone();
    copy["repository"] = json!(format!("{}/guarded-copy", proxy.addr));
    let output = run(
        &ctx,
        "registry-image",
        "out",
        Some(&tmp.path().join("put")),
        &json!({"source": copy, "params": {"image": "image/image.tar"}}),
    )
    .json();
    assert_eq!(
        output["version"]["digest"], expected,
        "pushed through the proxy, uploads included"
    );
    let mut wrong = guarded;
    wrong["password"] = json!("wrong");
    run(
        &ctx,
        "registry-image",
        "check",
        None,
        &json!({"source": wrong}),
    )
    .assert_failed_with("401");
}
