use super::hash::{equal_ignore_hash, fnv1a32, template_hash};
use super::rollout::{
    SetCounts, fenceposts, new_set_target, old_sets_scale_down, proportional_scale, scaled_value,
};
use super::status::{self, NEW_RS_AVAILABLE, RS_UPDATED, TIMED_OUT};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

#[test]
fn fenceposts_should_round_surge_up_and_unavailability_down() {
    assert_eq!(fenceposts(Some(&pct("25%")), Some(&pct("25%")), 10), (3, 2));
    assert_eq!(fenceposts(Some(&pct("25%")), Some(&pct("25%")), 3), (1, 0));
    assert_eq!(fenceposts(Some(&pct("25%")), Some(&pct("25%")), 1), (1, 0));
    assert_eq!(
        fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 5),
        (0, 1),
        "never both 0"
    );
    assert_eq!(
        fenceposts(Some(&IntOrString::Int(2)), Some(&IntOrString::Int(9)), 5),
        (2, 5),
        "capped at replicas"
    );
    assert_eq!(scaled_value(Some(&pct("33%")), 1000, true), 330);
    assert_eq!(scaled_value(Some(&pct("1%")), 50, true), 1);
    assert_eq!(scaled_value(Some(&pct("1%")), 50, false), 0);
    assert_eq!(scaled_value(Some(&pct("bad")), 50, false), 0);
}

#[test]
fn new_set_should_grow_within_the_surge() {
    assert_eq!(new_set_target(10, 3, 10, 0), 3);
    assert_eq!(new_set_target(10, 3, 13, 3), 3, "at max total");
    assert_eq!(new_set_target(10, 3, 11, 3), 5);
    assert_eq!(new_set_target(10, 3, 10, 9), 10, "never past replicas");
    assert_eq!(
        new_set_target(3, 0, 3, 0),
        0,
        "no surge: old sets must shrink first"
    );
}

#[test]
fn old_sets_should_shrink_within_the_availability_budget() {
    let s = |replicas, available| SetCounts {
        replicas,
        available,
    };
    // 10 replicas, maxUnavailable 2: new set 3 (none available), old 10 available.
    assert_eq!(old_sets_scale_down(10, 2, s(3, 0), &[s(10, 10)]), vec![8]);
    // Unhealthy old pods go first, without touching availability.
    assert_eq!(old_sets_scale_down(10, 0, s(3, 3), &[s(10, 7)]), vec![7]);
    // An unavailable old pod may go even when availability is at the minimum …
    assert_eq!(old_sets_scale_down(4, 1, s(1, 0), &[s(4, 3)]), vec![3]);
    // … but nothing else: the new set's unready pod uses up the budget.
    assert_eq!(old_sets_scale_down(4, 0, s(1, 0), &[s(4, 4)]), vec![4]);
    // Oldest first across several old sets.
    assert_eq!(
        old_sets_scale_down(6, 2, s(6, 6), &[s(2, 2), s(3, 3)]),
        vec![0, 0]
    );
    assert_eq!(
        old_sets_scale_down(6, 1, s(2, 2), &[s(2, 2), s(3, 3)]),
        vec![0, 3]
    );
}

#[test]
fn proportional_scaling_should_keep_shares_and_hit_the_target() {
    assert_eq!(proportional_scale(&[5, 5], 20), vec![10, 10]);
    assert_eq!(proportional_scale(&[3, 7], 15), vec![5, 10]);
    let down = proportional_scale(&[3, 7], 5);
    assert_eq!(down.iter().sum::<i32>(), 5);
    assert!(down.iter().all(|n| *n >= 0));
    assert_eq!(proportional_scale(&[0, 0], 4), vec![4, 0]);
}

fn template(image: &str) -> PodTemplateSpec {
    serde_json::from_value(json!({"metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{"name": "c", "image": image}]}}))
    .expect("template")
}

#[test]
fn hash_should_be_stable_and_ignore_its_own_label() {
    assert_eq!(
        fnv1a32(0x811c_9dc5, b"a"),
        0xe40c_292c,
        "FNV-1a test vector"
    );
    let a = template("nginx:1");
    let h = template_hash(&a, None);
    assert_eq!(h, template_hash(&a, None));
    assert!(
        h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{h}"
    );
    assert_ne!(h, template_hash(&template("nginx:2"), None));
    assert_ne!(
        h,
        template_hash(&a, Some(1)),
        "collisionCount changes the hash"
    );
    let mut labelled = a.clone();
    labelled
        .metadata
        .as_mut()
        .and_then(|m| m.labels.as_mut())
        .map(|l| l.insert("pod-template-hash".into(), h.clone()));
    assert_eq!(template_hash(&labelled, None), h);
    assert!(equal_ignore_hash(&labelled, &a));
    assert!(!equal_ignore_hash(&labelled, &template("nginx:2")));
}

fn deployment(status: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({"metadata": {"name": "web", "generation": 2},
        "spec": {"replicas": 3, "progressDeadlineSeconds": 60, "selector": {"matchLabels": {"app": "w"}},
            "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        "status": status}))
    .expect("deployment")
}

#[test]
fn progress_should_report_progress_completion_and_timeouts() {
    let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("t");
    let t_late: Timestamp = "2026-01-01T00:05:00Z".parse().expect("t");
    let d = deployment(
        json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated",
            "lastUpdateTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
    );
    let mut more: DeploymentStatus = serde_json::from_value(
        json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2,
        "conditions": d.status.as_ref().and_then(|s| s.conditions.clone())}),
    )
    .expect("status");
    status::progress(&d, &mut more, Some("web-abc"), t0);
    let c = status::get_condition(Some(&more), "Progressing").expect("cond");
    assert_eq!(c.reason.as_deref(), Some(RS_UPDATED));
    let mut stuck = d.status.clone().expect("status");
    status::progress(&d, &mut stuck, Some("web-abc"), t_late);
    let c = status::get_condition(Some(&stuck), "Progressing").expect("cond");
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some(TIMED_OUT))
    );
    let mut done: DeploymentStatus = serde_json::from_value(json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})).expect("s");
    status::progress(&d, &mut done, Some("web-abc"), t0);
    assert!(status::is_complete(&d, &done));
    let c = status::get_condition(Some(&done), "Progressing").expect("cond");
    assert_eq!(c.reason.as_deref(), Some(NEW_RS_AVAILABLE));
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"web-abc\" has successfully progressed.")
    );
}
