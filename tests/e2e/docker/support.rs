//! What the Docker tests share: the skip rule, a cross-process lock, the test images and clean-up.
//!
//! # Skip rule
//! A Docker test runs when `docker version` reaches a server. Otherwise it prints `SKIPPED …` and
//! passes, unless `MOCK_K8_REQUIRE_DOCKER=1` (CI), which makes it fail.
//!
//! # Images (built locally, nothing is pulled)
//! - [`BUSYBOX_IMAGE`]: Debian's `busybox-static` (`/bin/busybox`, `apt-get install busybox-static`)
//!   in a scratch image, with `sh`, `sleep`, `httpd` … as applets.
//! - the sandbox image: `$MOCK_K8_SANDBOX_IMAGE` when set (e.g. `mock-k8:latest` from
//!   `examples/docker/build-image.sh`), else built from the `mock_k8` binary under test and the
//!   shared libraries it links (`ldd`), so the sandbox runs exactly the `pause` being tested.
//!
//! # Isolation
//! Docker tests hold an exclusive lock on a file in the temp dir (across test processes), so two
//! node networks with the same podCIDR never exist at once and the 2-core CI box is not flooded.
//! Every test uses unique node names and removes its containers and networks when done.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The test image with busybox's applets.
pub const BUSYBOX_IMAGE: &str = "mock-k8-test-busybox:1";

/// Where Debian's busybox-static installs the static binary.
const BUSYBOX_BINARY: &str = "/bin/busybox";

/// `docker` with these args; stdout on success, `Err(stderr)` otherwise.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn engine_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| docker(&["version", "--format", "{{.Server.Version}}"]).is_ok())
}

/// Held while a Docker test runs (see the module docs).
pub struct DockerLock {
    _file: File,
}

/// The lock and the images when a Docker Engine is reachable; `None` (after printing why the test
/// is skipped) when not. Panics when `MOCK_K8_REQUIRE_DOCKER=1` and no engine answers, or when the
/// test images cannot be built.
pub async fn require_docker(test: &str) -> Option<(DockerLock, Images)> {
    if !engine_available() {
        if std::env::var("MOCK_K8_REQUIRE_DOCKER").is_ok_and(|v| v == "1") {
            panic!(
                "{test}: no Docker Engine is reachable, and MOCK_K8_REQUIRE_DOCKER=1 requires one"
            );
        }
        let msg = format!(
            "SKIPPED {test}: no Docker Engine is reachable (set MOCK_K8_REQUIRE_DOCKER=1 to make this a failure)"
        );
        println!("{msg}");
        eprintln!("{msg}");
        return None;
    }
    let lock = tokio::task::spawn_blocking(|| {
        let path = std::env::temp_dir().join("mock-k8-docker-tests.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("open the docker test lock file");
        file.lock().expect("lock the docker test lock file");
        DockerLock { _file: file }
    })
    .await
    .expect("lock task");
    let images = tokio::task::spawn_blocking(Images::build)
        .await
        .expect("image task");
    Some((lock, images))
}

/// The images a Docker test uses.
#[derive(Debug, Clone)]
pub struct Images {
    /// The busybox image (`sh`, `sleep`, `httpd`, …).
    pub busybox: String,
    /// The sandbox image (runs `pause`).
    pub sandbox: String,
}

impl Images {
    fn build() -> Images {
        Images {
            busybox: busybox_image(),
            sandbox: sandbox_image(),
        }
    }
}

fn image_exists(tag: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", tag]).is_ok()
}

fn build(tag: &str, context: &Path) {
    if let Err(e) = docker(&["build", "-q", "-t", tag, &context.display().to_string()]) {
        panic!("docker build of {tag} failed: {e}");
    }
}

fn busybox_image() -> String {
    if image_exists(BUSYBOX_IMAGE) {
        return BUSYBOX_IMAGE.into();
    }
    assert!(
        Path::new(BUSYBOX_BINARY).exists(),
        "{BUSYBOX_BINARY} is missing: install Debian's busybox-static (apt-get install -y busybox-static)"
    );
    let ctx = tempfile::tempdir().expect("tempdir");
    std::fs::copy(BUSYBOX_BINARY, ctx.path().join("busybox")).expect("copy busybox");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/tmp\", \"/www\"]\n",
    )
    .expect("write Dockerfile");
    build(BUSYBOX_IMAGE, ctx.path());
    BUSYBOX_IMAGE.into()
}

/// The shared libraries `binary` loads, as absolute paths (from `ldd`).
fn linked_libraries(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("run ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
        .map(PathBuf::from)
        .collect()
}

fn sandbox_image() -> String {
    if let Ok(image) = std::env::var("MOCK_K8_SANDBOX_IMAGE") {
        return image;
    }
    binary_image()
}

/// The image of the `mock_k8` binary under test and its shared libraries (entrypoint
/// `/mock_k8`, command `pause`), tagged after the binary's mtime and size.
fn binary_image() -> String {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_mock_k8"));
    let meta = std::fs::metadata(&binary).expect("stat mock_k8");
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let tag = format!("mock-k8-test-pause:{:x}-{:x}", stamp, meta.len());
    if image_exists(&tag) {
        return tag;
    }
    let ctx = tempfile::tempdir().expect("tempdir");
    let root = ctx.path().join("rootfs");
    std::fs::create_dir_all(root.join("tmp")).expect("mkdir");
    std::fs::copy(&binary, root.join("mock_k8")).expect("copy mock_k8");
    for lib in linked_libraries(&binary) {
        let dest = root.join(lib.strip_prefix("/").unwrap_or(&lib));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir lib dir");
        std::fs::copy(&lib, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", lib.display()));
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/mock_k8\"]\nCMD [\"pause\"]\n",
    )
    .expect("write Dockerfile");
    build(&tag, ctx.path());
    // Older builds of the test sandbox image are garbage now (about 100 MB each).
    remove_other_tags("mock-k8-test-pause", &tag);
    tag
}

/// Removes every image of `repository` but `keep` (older builds of a test image).
fn remove_other_tags(repository: &str, keep: &str) {
    if let Ok(tags) = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", repository]) {
        for old in tags.lines().filter(|t| *t != keep) {
            let _ = docker(&["rmi", old]);
        }
    }
}

/// The image the cluster failure tests run members and agents from: the binary image (the
/// `mock_k8` binary under test and its shared libraries, entrypoint `/mock_k8`) with the seed's
/// environment (`MOCK_K8_API_ADDR=0.0.0.0:8080`, `MOCK_K8_DATA_DIR=/app/data`) and `run` as the
/// default command, as `examples/docker/build-image.sh` builds it for users. Built locally on top
/// of the binary image (nothing is pulled); tagged after it, so it is rebuilt with the binary.
pub fn member_image() -> String {
    let sandbox = binary_image();
    let tag = match sandbox.split_once(':') {
        Some((_, version)) => format!("mock-k8-test-member:{version}"),
        None => "mock-k8-test-member:latest".to_string(),
    };
    if image_exists(&tag) {
        return tag;
    }
    let ctx = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {sandbox}\nWORKDIR /app/data\nWORKDIR /app\n\
             ENV MOCK_K8_API_ADDR=0.0.0.0:8080 MOCK_K8_DATA_DIR=/app/data\n\
             EXPOSE 8080\nENTRYPOINT [\"/mock_k8\"]\nCMD [\"run\"]\n"
        ),
    )
    .expect("write Dockerfile");
    build(&tag, ctx.path());
    remove_other_tags("mock-k8-test-member", &tag);
    tag
}

/// A name nobody else uses: `<prefix>-<pid>-<random hex>`.
pub fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 3];
    getrandom::fill(&mut bytes).expect("random bytes");
    format!(
        "{prefix}-{}-{:02x}{:02x}{:02x}",
        std::process::id(),
        bytes[0],
        bytes[1],
        bytes[2]
    )
}

/// Removes every container and the network of node `node` (best effort). A create the engine
/// was still processing when the agent was killed can land after a pass, so passes repeat until
/// one finds nothing (at most 5).
pub fn remove_node_objects(node: &str) {
    let filter = format!("label=mock-k8.io/node={node}");
    for _ in 0..5 {
        let ids = docker(&["ps", "-aq", "--filter", &filter]).unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            break;
        }
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(ids);
        let _ = docker(&args);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let _ = docker(&["network", "rm", &format!("mock-k8-{node}")]);
}

/// The containers (running or not) of node `node` with this role (`sandbox` / `container`) and
/// pod name, as `docker ps` IDs.
pub fn containers_of(node: &str, role: &str, pod: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "ps".to_string(),
        "-aq".into(),
        "--filter".into(),
        format!("label=mock-k8.io/node={node}"),
        "--filter".into(),
        format!("label=mock-k8.io/role={role}"),
    ];
    if let Some(pod) = pod {
        args.push("--filter".into());
        args.push(format!("label=io.kubernetes.pod.name={pod}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&args)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
