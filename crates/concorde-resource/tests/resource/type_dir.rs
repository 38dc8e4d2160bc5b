//! Concourse's resource-type directory layout: exporting the built-ins, running an exported
//! script, and loading types shipped as `rootfs/` or `rootfs.tgz`.

use std::process::{Command, Stdio};

use concorde_resource::type_dir::{
    METADATA_FILE, ResourceMetadata, ResourceTypeDir, TypeRootfs, export_builtin_types,
    parse_metadata, unpack_rootfs_tgz,
};

#[test]
fn exported_builtins_load_back_and_their_scripts_exec_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    // A stand-in for the concorde binary that shows how it was called.
    let binary = tmp.path().join("bin dir/concorde");
    std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
    std::fs::write(&binary, "#!/bin/sh\necho \"args: $*\"\ncat\n").unwrap();
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let types_dir = tmp.path().join("resource-types");
    let exported = export_builtin_types(&types_dir, &binary).unwrap();
    assert_eq!(exported.len(), 4);
    let loaded = ResourceTypeDir::new(&types_dir).load().unwrap();
    let names: Vec<&str> = loaded
        .iter()
        .map(|ty| ty.metadata.type_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["git", "mock", "registry-image", "time"],
        "sorted by name"
    );
    let time = loaded
        .iter()
        .find(|ty| ty.metadata.type_name == "time")
        .unwrap();
    assert!(time.metadata.unique_version_history && !time.metadata.privileged);
    assert_eq!(time.rootfs, TypeRootfs::Dir(types_dir.join("time/rootfs")));
    let raw: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(types_dir.join("git").join(METADATA_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(raw["type"], "git");
    assert_eq!(raw["unique_version_history"], false);

    let script = types_dir.join("git/rootfs/opt/resource/in");
    let mut child = Command::new(&script)
        .arg("/tmp/build/get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"{\"source\":{}}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "args: resource git in /tmp/build/get\n{\"source\":{}}"
    );
}

#[test]
fn loads_tarball_types_skips_strays_and_rejects_broken_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("types");
    let custom = root.join("custom");
    std::fs::create_dir_all(&custom).unwrap();
    std::fs::write(
        custom.join(METADATA_FILE),
        r#"{"type":"custom","version":"1.2.3","privileged":true}"#,
    )
    .unwrap();
    let tgz = custom.join("rootfs.tgz");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&tgz).unwrap(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    let script = b"#!/bin/sh\necho '[]'\n";
    header.set_size(script.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder
        .append_data(&mut header, "opt/resource/check", &script[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    std::fs::create_dir_all(root.join("not-a-type")).unwrap();
    std::fs::write(root.join("README"), "stray file").unwrap();

    let loaded = ResourceTypeDir::new(&root).load().unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded[0].metadata,
        ResourceMetadata {
            type_name: "custom".into(),
            version: "1.2.3".into(),
            privileged: true,
            unique_version_history: false
        }
    );
    assert_eq!(loaded[0].rootfs, TypeRootfs::Tarball(tgz.clone()));
    let unpacked = tmp.path().join("unpacked");
    unpack_rootfs_tgz(&tgz, &unpacked).unwrap();
    let check = Command::new(unpacked.join("opt/resource/check"))
        .output()
        .unwrap();
    assert_eq!(
        check.stdout, b"[]\n",
        "the unpacked script keeps its mode and runs"
    );

    std::fs::remove_file(&tgz).unwrap();
    let err = ResourceTypeDir::new(&root).load().unwrap_err().to_string();
    assert!(err.contains("neither rootfs/ nor rootfs.tgz"), "{err}");
    assert!(
        parse_metadata(br#"{"type":""}"#)
            .unwrap_err()
            .to_string()
            .contains("empty type")
    );
    assert!(
        parse_metadata(b"not json")
            .unwrap_err()
            .to_string()
            .contains("does not parse")
    );
}
