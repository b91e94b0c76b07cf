//! Table-driven tests of the node-lifecycle decisions. Times are seconds after `T0`
//! (2025-01-01T00:00:00Z); the comment on each row shows the arithmetic.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodCondition, PodSpec, PodStatus, Taint,
    Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;

const GRACE: Duration = DEFAULT_NODE_MONITOR_GRACE_PERIOD;

/// `T0 + secs`.
fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_735_689_600 + secs).unwrap()
}

/// A node created at T0 whose Ready condition is `status` (heartbeat `hb`, transition at T0), or none.
fn node(ready: Option<(&str, Option<i64>)>, taints: Vec<Taint>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some("n1".into()),
            creation_timestamp: Some(Time(t(0))),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: Some(taints),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            conditions: ready.map(|(status, hb)| {
                vec![NodeCondition {
                    type_: "Ready".into(),
                    status: status.into(),
                    reason: Some("KubeletReady".into()),
                    last_heartbeat_time: hb.map(|s| Time(t(s))),
                    last_transition_time: Some(Time(t(0))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
    }
}

fn lease(renew: i64) -> Lease {
    Lease {
        spec: Some(LeaseSpec {
            renew_time: Some(MicroTime(t(renew))),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn taint(key: &str, effect: &str, added: Option<i64>) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        value: None,
        time_added: added.map(|s| Time(t(s))),
    }
}

fn toleration(key: Option<&str>, op: &str, effect: Option<&str>, secs: Option<i64>) -> Toleration {
    Toleration {
        key: key.map(Into::into),
        operator: Some(op.into()),
        effect: effect.map(Into::into),
        toleration_seconds: secs,
        value: None,
    }
}

fn pod_with(tolerations: Vec<Toleration>) -> Pod {
    Pod {
        spec: Some(PodSpec {
            tolerations: Some(tolerations),
            ..Default::default()
        }),
        ..Default::default()
    }
}

use ConditionStatus::{False as F, True as T, Unknown as U};

#[test]
fn evaluate_node_should_turn_unknown_after_grace() {
    // (ready condition (status, heartbeat), lease renew, now, expected ready, stale, since, reason)
    #[allow(clippy::type_complexity)]
    let rows: [(
        Option<(&str, Option<i64>)>,
        Option<i64>,
        i64,
        ConditionStatus,
        bool,
        i64,
        Option<&str>,
    ); 8] = [
        // lease renewed at 100, 100 + 40 = 140 ≥ 130 → fresh; kubelet's True kept, since T0.
        (
            Some(("True", Some(10))),
            Some(100),
            130,
            T,
            false,
            0,
            Some("KubeletReady"),
        ),
        // 100 + 40 = 140, not < 140 (strict) → still fresh at exactly the grace boundary.
        (
            Some(("True", Some(10))),
            Some(100),
            140,
            T,
            false,
            0,
            Some("KubeletReady"),
        ),
        // 100 + 40 = 140 < 141 → stale: Unknown since now (141).
        (
            Some(("True", Some(10))),
            Some(100),
            141,
            U,
            true,
            141,
            Some(REASON_NODE_STATUS_UNKNOWN),
        ),
        // no lease; heartbeat 50 + 40 = 90 < 95 → stale.
        (
            Some(("True", Some(50))),
            None,
            95,
            U,
            true,
            95,
            Some(REASON_NODE_STATUS_UNKNOWN),
        ),
        // lease stale (0 + 40 < 60) but the condition heartbeat 55 + 40 = 95 ≥ 60 → fresh (max of both).
        (
            Some(("False", Some(55))),
            Some(0),
            60,
            F,
            false,
            0,
            Some("KubeletReady"),
        ),
        // already Unknown and stale: since stays at the old transition (T0).
        (
            Some(("Unknown", Some(0))),
            None,
            500,
            U,
            true,
            0,
            Some(REASON_NODE_STATUS_UNKNOWN),
        ),
        // never posted status: creation 0 + 40 = 40 < 41 → NodeStatusNeverUpdated.
        (
            None,
            None,
            41,
            U,
            true,
            41,
            Some(REASON_NODE_STATUS_NEVER_UPDATED),
        ),
        // never posted, within grace (0 + 40 ≥ 30): Unknown, not stale, since creation.
        (None, None, 30, U, false, 0, None),
    ];
    for (i, (ready, renew, now, want, stale, since, reason)) in rows.into_iter().enumerate() {
        let n = node(ready, vec![]);
        let l = renew.map(lease);
        let h = evaluate_node(&n, l.as_ref(), t(now), GRACE);
        assert_eq!(
            (h.ready, h.stale, h.since, h.reason.as_deref()),
            (want, stale, t(since), reason),
            "row {i}"
        );
        if h.reason.as_deref() == Some(REASON_NODE_STATUS_UNKNOWN) {
            assert_eq!(h.message.as_deref(), Some(MESSAGE_NODE_STATUS_UNKNOWN));
        }
    }
}

#[test]
fn unknown_node_conditions_should_mark_monitored_conditions() {
    let n = node(Some(("True", Some(10))), vec![]);
    let cs = unknown_node_conditions(&n, t(60)).unwrap();
    assert_eq!(cs.len(), 4);
    let ready = &cs[0];
    assert_eq!(
        (
            ready.status.as_str(),
            ready.reason.as_deref(),
            ready.message.as_deref()
        ),
        (
            "Unknown",
            Some("NodeStatusUnknown"),
            Some("Kubelet stopped posting node status.")
        )
    );
    assert_eq!(ready.last_transition_time, Some(Time(t(60))));
    assert_eq!(ready.last_heartbeat_time, Some(Time(t(10))));
    assert!(
        cs[1..]
            .iter()
            .all(|c| c.reason.as_deref() == Some("NodeStatusNeverUpdated"))
    );
    let mut unknown = n.clone();
    unknown.status.as_mut().unwrap().conditions = Some(cs);
    assert_eq!(unknown_node_conditions(&unknown, t(90)), None);
}

#[test]
fn desired_taints_should_follow_ready_status() {
    let custom = taint("dedicated", "NoSchedule", None);
    let unreach_ns = taint(TAINT_UNREACHABLE, "NoSchedule", None);
    let unreach_ne = taint(TAINT_UNREACHABLE, "NoExecute", Some(50));
    let not_ready_ne = taint(TAINT_NOT_READY, "NoExecute", Some(20));
    let prefer = taint(TAINT_UNREACHABLE, "PreferNoSchedule", None);
    let health = |ready| NodeHealth {
        ready,
        since: t(0),
        reason: None,
        message: None,
        last_heartbeat: None,
        stale: false,
    };
    let now = 100;
    // (current taints, ready, expected taints)
    let rows: Vec<(Vec<Taint>, ConditionStatus, Vec<Taint>)> = vec![
        // Unknown: both unreachable taints added; NoExecute stamped now (100).
        (
            vec![custom.clone()],
            U,
            vec![
                custom.clone(),
                taint(TAINT_UNREACHABLE, "NoSchedule", None),
                taint(TAINT_UNREACHABLE, "NoExecute", Some(now)),
            ],
        ),
        // Unknown again: existing taints kept, timeAdded 50 does not move.
        (
            vec![unreach_ns.clone(), custom.clone(), unreach_ne.clone()],
            U,
            vec![unreach_ns.clone(), custom.clone(), unreach_ne.clone()],
        ),
        // Unknown from not-ready: not-ready removed, unreachable added.
        (
            vec![not_ready_ne.clone()],
            U,
            vec![
                taint(TAINT_UNREACHABLE, "NoSchedule", None),
                taint(TAINT_UNREACHABLE, "NoExecute", Some(now)),
            ],
        ),
        // False: not-ready taints, unreachable removed; PreferNoSchedule is not ours to remove.
        (
            vec![unreach_ne.clone(), prefer.clone()],
            F,
            vec![
                prefer.clone(),
                taint(TAINT_NOT_READY, "NoSchedule", None),
                taint(TAINT_NOT_READY, "NoExecute", Some(now)),
            ],
        ),
        // True: every managed taint removed, others untouched.
        (
            vec![unreach_ns, custom.clone(), unreach_ne, not_ready_ne],
            T,
            vec![custom],
        ),
    ];
    for (i, (current, ready, want)) in rows.into_iter().enumerate() {
        let n = node(None, current);
        assert_eq!(desired_taints(&n, &health(ready), t(now)), want, "row {i}");
    }
}

#[test]
fn tolerates_should_match_kubernetes_rules() {
    let unreachable = taint(TAINT_UNREACHABLE, "NoExecute", None);
    let mut valued = taint("gpu", "NoSchedule", None);
    valued.value = Some("a100".into());
    let equal = |v: &str| Toleration {
        key: Some("gpu".into()),
        operator: Some("Equal".into()),
        value: Some(v.into()),
        ..Default::default()
    };
    let rows: [(Toleration, &Taint, bool); 7] = [
        (
            toleration(Some(TAINT_UNREACHABLE), "Exists", Some("NoExecute"), None),
            &unreachable,
            true,
        ),
        // empty effect matches every effect
        (
            toleration(Some(TAINT_UNREACHABLE), "Exists", None, None),
            &unreachable,
            true,
        ),
        (
            toleration(Some(TAINT_UNREACHABLE), "Exists", Some("NoSchedule"), None),
            &unreachable,
            false,
        ),
        // empty key + Exists tolerates everything
        (toleration(None, "Exists", None, None), &unreachable, true),
        (
            toleration(Some(TAINT_NOT_READY), "Exists", None, None),
            &unreachable,
            false,
        ),
        (equal("a100"), &valued, true),
        (equal("h100"), &valued, false),
    ];
    for (i, (tol, taint, want)) in rows.into_iter().enumerate() {
        assert_eq!(tolerates(&tol, taint), want, "row {i}");
    }
}

#[test]
fn eviction_deadline_should_follow_toleration_seconds() {
    let unreach = |added| taint(TAINT_UNREACHABLE, "NoExecute", added);
    let tol300 = toleration(
        Some(TAINT_UNREACHABLE),
        "Exists",
        Some("NoExecute"),
        Some(300),
    );
    let tol60 = toleration(None, "Exists", None, Some(60));
    let forever = toleration(Some(TAINT_UNREACHABLE), "Exists", Some("NoExecute"), None);
    let now = 100;
    // (tolerations, taints, expected)
    let rows: Vec<(Vec<Toleration>, Vec<Taint>, Eviction)> = vec![
        // no taints at all → never
        (vec![], vec![], Eviction::Never),
        // NoSchedule only → never (it does not evict)
        (
            vec![],
            vec![taint(TAINT_UNREACHABLE, "NoSchedule", None)],
            Eviction::Never,
        ),
        // untolerated NoExecute → now
        (vec![], vec![unreach(Some(90))], Eviction::Now),
        // added 90 + 300 s = 390 > 100 → at 390
        (
            vec![tol300.clone()],
            vec![unreach(Some(90))],
            Eviction::At(t(390)),
        ),
        // added -250 + 300 = 50 ≤ 100 → now
        (
            vec![tol300.clone()],
            vec![unreach(Some(-250))],
            Eviction::Now,
        ),
        // no timeAdded: counts from now, 100 + 300 = 400
        (
            vec![tol300.clone()],
            vec![unreach(None)],
            Eviction::At(t(400)),
        ),
        // tolerated forever (no tolerationSeconds) → never
        (
            vec![forever.clone()],
            vec![unreach(Some(0))],
            Eviction::Never,
        ),
        // first matching toleration wins (Kubernetes): tol60 listed first → 90 + 60 = 150
        (
            vec![tol60.clone(), tol300.clone()],
            vec![unreach(Some(90))],
            Eviction::At(t(150)),
        ),
        // two taints: min(90 + 300 = 390, 95 + 60 = 155) = 155
        (
            vec![tol300, tol60.clone()],
            vec![
                unreach(Some(90)),
                taint(TAINT_NOT_READY, "NoExecute", Some(95)),
            ],
            Eviction::At(t(155)),
        ),
        // one tolerated forever, another not at all → now
        (
            vec![forever],
            vec![
                unreach(Some(90)),
                taint("maintenance", "NoExecute", Some(0)),
            ],
            Eviction::Now,
        ),
        // tolerationSeconds 0 → evicted at timeAdded (90 ≤ 100) → now
        (
            vec![toleration(None, "Exists", None, Some(0))],
            vec![unreach(Some(90))],
            Eviction::Now,
        ),
    ];
    for (i, (tols, taints, want)) in rows.into_iter().enumerate() {
        assert_eq!(
            eviction_deadline(&pod_with(tols), &taints, t(now)),
            want,
            "row {i}"
        );
    }
}

#[test]
fn default_tolerations_should_add_missing_ones_only() {
    let nr = |s| toleration(Some(TAINT_NOT_READY), "Exists", Some("NoExecute"), Some(s));
    let ur = |s| {
        toleration(
            Some(TAINT_UNREACHABLE),
            "Exists",
            Some("NoExecute"),
            Some(s),
        )
    };
    let custom = toleration(Some("dedicated"), "Exists", Some("NoSchedule"), None);
    let rows: Vec<(Vec<Toleration>, Vec<Toleration>)> = vec![
        // nothing tolerated → both added with the flag values (300, 120)
        (vec![], vec![nr(300), ur(120)]),
        // a NoSchedule toleration does not count → both added after it
        (vec![custom.clone()], vec![custom, nr(300), ur(120)]),
        // already tolerates unreachable (10 s) → only not-ready added
        (vec![ur(10)], vec![ur(10), nr(300)]),
        // empty key + empty effect tolerates everything → nothing added
        (
            vec![toleration(None, "Exists", None, None)],
            vec![toleration(None, "Exists", None, None)],
        ),
    ];
    for (i, (have, want)) in rows.into_iter().enumerate() {
        assert_eq!(
            default_tolerations(&pod_with(have), 300, 120),
            want,
            "row {i}"
        );
    }
}

#[test]
fn pod_ready_condition_for_unknown_node_should_mark_not_ready() {
    let pod = |phase: &str, ready: Option<&str>| Pod {
        status: Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready.map(|s| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: s.into(),
                    last_transition_time: Some(Time(t(0))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let c = pod_ready_condition_for_unknown_node(&pod("Running", Some("True")), t(70)).unwrap();
    assert_eq!((c.type_.as_str(), c.status.as_str()), ("Ready", "False"));
    assert_eq!(c.last_transition_time, Some(Time(t(70))));
    assert_eq!(
        pod_ready_condition_for_unknown_node(&pod("Running", Some("False")), t(70)),
        None
    );
    assert_eq!(
        pod_ready_condition_for_unknown_node(&pod("Succeeded", Some("True")), t(70)),
        None
    );
    assert_eq!(
        pod_ready_condition_for_unknown_node(&pod("Pending", None), t(70)),
        None
    );
}
