//! `mock_k8 verify --data-dir DIR --from-checkpoint` (`nko/SPEC.md` §9): a stopped member's
//! history verifies from its signed checkpoint (signature and state commitment against the stored
//! objects); a stored object changed behind the checkpoint's back fails at its revision, and the
//! flag is refused without `--data-dir`.

use crate::nko::{copy_dir, flip, running_pod, verify};
use crate::orchestrator::Cluster;
use mock_k8::store::backend::Space;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_from_checkpoint_should_accept_a_stopped_member_and_fail_on_a_changed_object() {
    let mut c = Cluster::start(&[]).await;
    running_pod(&c, "cp-1", None).await;
    c.server.stop().await;
    let dir = c.server.data_dir().to_path_buf();
    let (ok, out, err) = verify(&["--data-dir", dir.to_str().unwrap(), "--from-checkpoint"]);
    assert!(ok, "verify --from-checkpoint: {out}\n{err}");
    assert!(
        out.contains("1 checkpoint(s)")
            && out.contains("stored state matches")
            && out.contains("verified 0 transitions (none after revision"),
        "{out}"
    );
    // The full replay still passes on the same directory.
    let (ok, out, err) = verify(&["--data-dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}\n{err}");

    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("object");
    copy_dir(&dir, &copy);
    flip(&copy, Space::State, b"o/core/pods/default/cp-1", 20);
    let (ok, out, err) = verify(&["--data-dir", copy.to_str().unwrap(), "--from-checkpoint"]);
    assert!(!ok, "a changed object must fail from the checkpoint: {out}");
    assert!(
        err.contains("checkpoint state does not match the objects"),
        "{err}"
    );

    let (ok, _, err) = verify(&["--server", "http://127.0.0.1:1", "--from-checkpoint"]);
    assert!(!ok);
    assert!(err.contains("--data-dir"), "{err}");
}
