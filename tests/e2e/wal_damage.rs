//! A damaged Raft log (`<data dir>/raft/wal/*.wal`): a record cut short at the end is a torn
//! write, repaired at start-up for good (the server keeps starting afterwards, with every object);
//! damage that committed entries follow is refused with the byte offset, never silently dropped.

use crate::support::{Server, pod};
use reqwest::StatusCode;
use std::path::{Path, PathBuf};

/// The log's last segment file and the length of its records (the file is zero-padded past them).
fn last_segment(data_dir: &Path) -> (PathBuf, u64) {
    let dir = data_dir.join("raft").join("wal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    let last = files.pop().expect("a log segment");
    let bytes = std::fs::read(&last).expect("read segment");
    let used = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    (last, used as u64)
}

fn open_segment(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

async fn create_pods(server: &Server, from: usize, to: usize) {
    for i in from..to {
        server
            .create(
                "/api/v1/namespaces/default/pods",
                &pod(&format!("p{i}"), &[], "nginx"),
            )
            .await;
    }
}

async fn assert_pods(server: &Server, to: usize) {
    for i in 0..to {
        let (status, body) = server
            .get(&format!("/api/v1/namespaces/default/pods/p{i}"))
            .await;
        assert_eq!(status, StatusCode::OK, "pod p{i}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_should_repair_a_cut_last_record_for_good() {
    let mut server = Server::start_with(&["--api-only"]).await;
    create_pods(&server, 0, 10).await;
    assert!(server.stop().await.success(), "{}", server.log_tail(30));
    let (segment, used) = last_segment(server.data_dir());
    // Cut the last record short, as a crash in the middle of its write would.
    let f = open_segment(&segment);
    f.set_len(used - 30).expect("cut");
    drop(f);

    server.restart(&["--api-only"]).await;
    assert_pods(&server, 10).await;
    create_pods(&server, 10, 13).await;
    assert!(server.stop().await.success(), "{}", server.log_tail(30));
    // The second start used to fail ("entry N+2 follows N") and lose the acknowledged creates.
    server.restart(&["--api-only"]).await;
    assert_pods(&server, 13).await;
    create_pods(&server, 13, 14).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_should_refuse_damage_that_committed_entries_follow() {
    let mut server = Server::start_with(&["--api-only"]).await;
    create_pods(&server, 0, 20).await;
    assert!(server.stop().await.success(), "{}", server.log_tail(30));
    let (segment, used) = last_segment(server.data_dir());
    let f = open_segment(&segment);
    let at = used / 2;
    std::os::unix::fs::FileExt::write_all_at(&f, b"\xde\xad\xbe\xef\xde\xad\xbe\xef", at)
        .expect("damage");
    drop(f);

    let status = server
        .try_restart(&["--api-only"])
        .await
        .expect_err("a log damaged before committed entries must not be served");
    assert!(!status.success());
    let log = server.log();
    assert!(
        log.contains("is damaged at byte") && log.contains("but the committed entry"),
        "the refusal names the damage:\n{}",
        server.log_tail(20)
    );
    assert!(!log.contains("panicked"), "{}", server.log_tail(20));
}
