//! A real Docker registry (Debian's `docker-registry`) on a free loopback port with its storage
//! in a temp dir, and images built from `busybox-static` with umoci and pushed with skopeo.
//! Missing tools fail the tests: CI installs `docker-registry skopeo umoci busybox-static`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user and password of the registry started with auth; the hash is bcrypt of `s3cret`.
pub const USER: &str = "concorde";
pub const PASSWORD: &str = "s3cret";
const HTPASSWD: &str = "concorde:$2y$04$cBQmMQGrYEPCMkfQigVzueNU39NStx2J6BkhbjKaMdSRH.FwJ79Xu\n";

/// A running registry, killed (by its own pid) when dropped.
pub struct TestRegistry {
    pub addr: String,
    child: Child,
}

impl TestRegistry {
    /// Starts a registry storing under `dir`; with `auth`, it demands Basic credentials.
    pub fn start(dir: &Path, auth: bool) -> TestRegistry {
        require_tools();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        std::fs::create_dir_all(dir).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.join("storage").display()
        );
        if auth {
            std::fs::write(dir.join("htpasswd"), HTPASSWD).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: concorde-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let registry = TestRegistry { addr, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&registry.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not listen: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        // Only our own child, by its handle; a failure means it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_tools() {
    for tool in ["docker-registry", "umoci", "skopeo"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .unwrap()
            .status
            .success();
        assert!(
            found,
            "{tool} is missing: apt-get install docker-registry skopeo umoci busybox-static"
        );
    }
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
}

/// Runs a tool and fails the test with its stderr when it fails.
pub fn tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds an OCI layout at `layout` whose tag `latest` is busybox plus files exercising
/// whiteouts and opaque directories; returns the manifest digest of `latest`.
pub fn build_busybox_layout(work: &Path) -> PathBuf {
    let layout = work.join("layout");
    let image = format!("{}:latest", layout.display());
    tool("umoci", &["init", "--layout", layout.to_str().unwrap()]);
    tool("umoci", &["new", "--image", &image]);
    let bin = work.join("layer-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
    tool(
        "umoci",
        &["insert", "--image", &image, bin.to_str().unwrap(), "/bin"],
    );
    let files = work.join("layer-files");
    for (name, contents) in [
        ("etc/motd", "hello"),
        ("data/a.txt", "a"),
        ("data/b.txt", "b"),
        ("opt/old.txt", "old"),
    ] {
        std::fs::create_dir_all(files.join(name).parent().unwrap()).unwrap();
        std::fs::write(files.join(name), contents).unwrap();
    }
    tool(
        "umoci",
        &["insert", "--image", &image, files.to_str().unwrap(), "/"],
    );
    tool(
        "umoci",
        &["insert", "--image", &image, "--whiteout", "/etc/motd"],
    );
    tool(
        "umoci",
        &["insert", "--image", &image, "--whiteout", "/data/a.txt"],
    );
    let opt = work.join("layer-opt");
    std::fs::create_dir_all(&opt).unwrap();
    std::fs::write(opt.join("new.txt"), "new").unwrap();
    tool(
        "umoci",
        &[
            "insert",
            "--image",
            &image,
            "--opaque",
            opt.to_str().unwrap(),
            "/opt",
        ],
    );
    tool(
        "umoci",
        &[
            "config",
            "--image",
            &image,
            "--config.env",
            "PATH=/bin",
            "--config.env",
            "GREETING=hello",
            "--config.user",
            "nobody",
        ],
    );
    layout
}

/// Adds tag `name` to `layout`: a one-layer image holding `/arch` with `contents`.
pub fn add_marker_image(work: &Path, layout: &Path, name: &str, contents: &str) {
    let image = format!("{}:{name}", layout.display());
    tool("umoci", &["new", "--image", &image]);
    let dir = work.join(format!("layer-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("arch"), contents).unwrap();
    tool(
        "umoci",
        &[
            "insert",
            "--image",
            &image,
            dir.join("arch").to_str().unwrap(),
            "/arch",
        ],
    );
}

/// The descriptor of tag `name` in a layout's `index.json`.
pub fn layout_descriptor(layout: &Path, name: &str) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("layout has no tag {name}"))
}

/// Pushes tag `name` of `layout` to `registry/repository:tag` with skopeo, optionally
/// converting to Docker schema 2 (`v2s2`).
pub fn skopeo_push(
    layout: &Path,
    name: &str,
    destination: &str,
    format: Option<&str>,
    creds: Option<&str>,
) {
    let source = format!("oci:{}:{name}", layout.display());
    let destination = format!("docker://{destination}");
    let mut args = vec!["copy", "--insecure-policy", "--dest-tls-verify=false"];
    if let Some(format) = format {
        args.extend(["--format", format]);
    }
    if let Some(creds) = creds {
        args.extend(["--dest-creds", creds]);
    }
    args.extend([source.as_str(), destination.as_str()]);
    tool("skopeo", &args);
}
