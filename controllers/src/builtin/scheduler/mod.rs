//! [`SchedulerController`]: Kubernetes' default scheduler loop on mock_k8's runtime — binds each pending
//! pod to the node [`schedule`](crate::scheduler::schedule) picks (`f(P, N)`), or marks it
//! `PodScheduled=False` / `Unschedulable` with Kubernetes' `0/N nodes are available: …` message.
//!
//! # Guarantees
//! - **Which pods**: no `spec.nodeName`, `spec.schedulerName` unset, empty or
//!   [`SchedulerConfig::scheduler_name`], not terminating (`deletionTimestamp`), not terminal.
//! - **No overcommit**: a decision and the assumption of its pod happen under one lock over an
//!   incremental cache of every node's counted pods; a pod bound but not yet observed bound is *assumed*
//!   (counted on its node) until the pod watch shows the binding, the binding fails, or
//!   [`SchedulerConfig::assumed_pod_ttl`] passes. Terminal pods are never counted.
//! - **Proof material**: every decision that leads to a binding is recorded in the [`DecisionLog`] — with
//!   the state revision it was based on and the assumed pods it counted — *before* the binding is sent,
//!   and the binding request carries its NKO scheduling proof
//!   ([`SchedulingProof`](crate::scheduler::proof::SchedulingProof), header `X-Nko-Proof`): the node
//!   and pod cache revisions, the pod's version, the assumed pods counted on the nodes its search
//!   processed (with their nodes), the decision summary with its node search. No decision is made
//!   while a cache re-lists (no single revision to name).
//! - **Bounded search** (Kubernetes' `percentageOfNodesToScore`,
//!   [`SchedulerConfig::percentage_of_nodes_to_score`]): each decision walks the name-sorted nodes
//!   from a rotating start index (`nextStartNodeIndex`) until it has found enough feasible nodes,
//!   and picks the best of those; at 5,000 nodes the adaptive default looks for 500. The proof
//!   names the start index and the count, so V repeats exactly that search.
//! - **No busy loop**: an unschedulable pod is retried when a node is added or changes in a way scheduling
//!   reads (labels, taints, `unschedulable`, allocatable, `Ready`), when a bound pod is deleted or
//!   completes (only if pods leaving could help), when the pod itself changes, and otherwise after
//!   [`SchedulerConfig::unschedulable_retry`] (Kubernetes' `podMaxInUnschedulablePodsDuration`, 5 min).
//! - Events (component `default-scheduler`): `Scheduled` ("Successfully assigned ns/pod to node") and
//!   `FailedScheduling` (Warning, the unschedulable message).

mod cache;
mod decisions;
#[cfg(test)]
mod tests;

pub use decisions::{DecisionLog, DecisionRecord};

use super::{Error, drain, resource, until_cancelled};
use crate::client::signing::with_proof;
use crate::client::{Client, ClientError, binding};
use crate::controller::{self, Action, Controller, ResultHook};
use crate::events::{EventSpec, Recorder, Regarding, Reporter};
use crate::informer::{Informers, ScopedInformers};
use crate::reflector::ObjectRef;
use crate::scheduler::DecisionSummary;
use crate::scheduler::proof::{AssumedPod, SchedulingProof};
use crate::scheduler::{Policy, UNSCHEDULABLE_REASON, Unschedulable, pod_key};
use cache::{Feed, Relist, SharedCache, UnschedulableEntry, lock};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use mock_k8_schemas::ApiResource;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a pod waits while the scheduler's caches re-list.
const RELIST_WAIT: Duration = Duration::from_millis(100);

/// Kubernetes' default scheduler name (`spec.schedulerName` of pods it schedules).
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Settings of the [`SchedulerController`].
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The scoring policy (`--scheduler-policy`; default `LeastAllocated`); one of
    /// [`crate::scheduler::policies`], matched case-insensitively.
    pub policy: String,
    /// The pods' `spec.schedulerName` this scheduler serves (default [`DEFAULT_SCHEDULER_NAME`]; pods
    /// with no name are served too). Also the Events' reporting component.
    pub scheduler_name: String,
    /// Fallback retry of an unschedulable pod when nothing changed (default 5 min, Kubernetes'
    /// `podMaxInUnschedulablePodsDuration`).
    pub unschedulable_retry: Duration,
    /// How long a bound pod stays assumed when its binding is never observed (default 15 min, the
    /// kube-scheduler's former `durationToExpireAssumedPod`); observing the binding ends it at once.
    pub assumed_pod_ttl: Duration,
    /// How many decisions the [`DecisionLog`] keeps (default 10,000; the oldest are dropped first).
    pub decision_history: usize,
    /// Kubernetes' `percentageOfNodesToScore` (`--percentage-of-nodes-to-score`): the share of
    /// the nodes, `0..=100`, whose feasibility is enough to stop searching and score (at least
    /// 100 feasible nodes; see [`crate::scheduler::search`]). 0 (default) is Kubernetes' adaptive
    /// default `max(5, 50 − nodes/125)`%; 100 searches and scores every node.
    pub percentage_of_nodes_to_score: u32,
    /// Concurrency, queue capacity and error backoff of the pod controller.
    pub controller: controller::Config,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            policy: Policy::default().name().to_owned(),
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_owned(),
            unschedulable_retry: Duration::from_secs(300),
            assumed_pod_ttl: Duration::from_secs(15 * 60),
            decision_history: 10_000,
            percentage_of_nodes_to_score: crate::scheduler::search::ADAPTIVE_PERCENTAGE,
            controller: controller::Config::default(),
        }
    }
}

/// What every reconcile shares.
struct Ctx {
    client: Arc<dyn Client>,
    pods: &'static ApiResource,
    policy: Policy,
    config: SchedulerConfig,
    cache: SharedCache,
    decisions: DecisionLog,
    recorder: Recorder,
}

/// The scheduler: a controller of pods plus an incremental cache of nodes and their pods.
pub struct SchedulerController {
    client: Arc<dyn Client>,
    config: SchedulerConfig,
    policy: Policy,
    decisions: DecisionLog,
    informers: Option<Informers>,
}

impl SchedulerController {
    /// A scheduler with `config` (nothing runs until [`SchedulerController::run`]).
    ///
    /// # Errors
    /// [`Error::UnknownPolicy`] when `config.policy` names no policy.
    pub fn new(client: Arc<dyn Client>, config: SchedulerConfig) -> Result<Self, Error> {
        let policy = Policy::by_name(&config.policy)
            .map_err(|_| Error::UnknownPolicy(config.policy.clone()))?;
        // Kubernetes: a percentage above 100 acts as 100.
        let mut config = config;
        config.percentage_of_nodes_to_score = config.percentage_of_nodes_to_score.min(100);
        Ok(SchedulerController {
            client,
            decisions: DecisionLog::new(config.decision_history),
            config,
            policy,
            informers: None,
        })
    }

    /// Reads the pods it schedules from `informers` (shared with the other controllers of the
    /// process) instead of watching them itself.
    pub fn with_informers(mut self, informers: Informers) -> Self {
        self.informers = Some(informers);
        self
    }

    /// The log of decisions (a cheap clone sharing the same entries).
    pub fn decisions(&self) -> DecisionLog {
        self.decisions.clone()
    }

    /// Follows nodes and pods (through the shared informers when given, else informers of its
    /// own) and schedules until `shutdown` is cancelled (running reconciles finish
    /// first). Every reconcile result passes through `hook`.
    ///
    /// # Errors
    /// [`Error::ResourceNotServed`] when pods or nodes are not in the resource table.
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let pods = resource("v1", "Pod")?;
        let informers = ScopedInformers::new(self.informers, self.client.clone(), shutdown.clone());
        let pod_informer = informers.get().pods()?;
        let node_informer = informers.get().nodes()?;
        let cache: SharedCache = SharedCache::default();
        let (retry_tx, retry_rx) = futures::channel::mpsc::unbounded::<ObjectRef>();

        let feed = {
            // The informers' objects, not a watch and a decoded copy of our own. The cache
            // drains its subscriptions in this task alone (short in-memory updates), so it keeps
            // observing bindings however full the pod queue is: the queue's key subscription
            // never makes the informer wait.
            let node_events = node_informer.subscribe().map(Feed::Node);
            let pod_events = pod_informer.subscribe().map(Feed::Pod);
            let mut events = futures::stream::select(node_events, pod_events).boxed();
            let cache = cache.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut relist = Relist::default();
                until_cancelled(&shutdown, async {
                    while let Some(ev) = events.next().await {
                        cache::apply(&cache, &mut relist, ev, &retry_tx);
                    }
                })
                .await;
            })
        };
        // Decide nothing before both caches hold a complete list (else nodes look empty).
        until_cancelled(&shutdown, async {
            while !lock(&cache).is_ready() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if !shutdown.is_cancelled() {
            let ctx = Arc::new(Ctx {
                client: self.client.clone(),
                pods,
                recorder: Recorder::new(
                    self.client.clone(),
                    Reporter {
                        component: self.config.scheduler_name.clone(),
                        instance: None,
                    },
                ),
                policy: self.policy,
                config: self.config.clone(),
                cache,
                decisions: self.decisions,
            });
            let controller = Controller::<Pod>::for_shared(self.client, &pod_informer)
                .with_config(self.config.controller)
                .with_result_hook(hook)
                .graceful_shutdown_on(shutdown.clone())
                .reconcile_on(retry_rx);
            drain(
                "scheduler",
                controller.run(reconcile, controller::default_error_policy, ctx),
            )
            .await;
        }
        shutdown.cancelled().await;
        let _ = feed.await;
        informers.finish().await;
        Ok(())
    }
}

/// `true` when this scheduler must place `pod`.
fn wants_scheduling(pod: &Pod, scheduler_name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let unbound = spec.node_name.as_deref().is_none_or(str::is_empty);
    let ours = spec
        .scheduler_name
        .as_deref()
        .is_none_or(|n| n.is_empty() || n == scheduler_name);
    unbound
        && ours
        && pod.metadata.deletion_timestamp.is_none()
        && !crate::scheduler::node_info::is_terminal(pod)
}

async fn reconcile(pod: Arc<Pod>, ctx: Arc<Ctx>) -> Result<Action, ClientError> {
    let key = pod_key(&pod);
    if !wants_scheduling(&pod, &ctx.config.scheduler_name) {
        lock(&ctx.cache).clear_unschedulable(&key);
        return Ok(Action::await_change());
    }
    let now = tokio::time::Instant::now();
    let (result, revision, state) = {
        let mut c = lock(&ctx.cache);
        c.expire(now);
        if c.is_counted(&key) {
            // Already bound (the cache saw it) or our binding is in flight.
            return Ok(Action::await_change());
        }
        let Some(revisions) = c.revisions() else {
            // A re-list is in progress: no single state to decide on (and prove) yet.
            return Ok(Action::requeue(RELIST_WAIT));
        };
        let r = c.schedule_and_assume(
            &pod,
            &ctx.policy,
            ctx.config.percentage_of_nodes_to_score,
            now + ctx.config.assumed_pod_ttl,
        );
        (r, c.revision(), revisions)
    };
    match result {
        Ok((decided, assumed)) => {
            let state = (revision, (state, assumed));
            bind(&pod, &key, decided.summary, state, &ctx).await
        }
        Err(unschedulable) => mark_unschedulable(&pod, key, &unschedulable, &ctx).await,
    }
}

/// The scheduling proof `π = G(P, N, d)` of `decision` (`nko/SPEC.md` §8.1).
fn proof_of(
    pod: &Pod,
    decision: &DecisionSummary,
    ((nodes_revision, pods_revision), assumed): ProofState,
) -> SchedulingProof {
    SchedulingProof {
        kind: mock_k8_nko::proof::kinds::SCHEDULING.to_owned(),
        version: 1,
        pod_uid: pod.metadata.uid.clone(),
        pod_resource_version: pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        nodes_revision,
        pods_revision,
        assumed,
        decision: DecisionSummary {
            // Carried once, in `assumed` (with the nodes): V restores it from there.
            assumed_pods: Vec::new(),
            ..decision.clone()
        },
    }
}

/// The cache revisions (nodes, pods) and the assumed pods a decision was made on.
type ProofState = ((u64, u64), Vec<AssumedPod>);

/// Sends the binding of `decision` with its proof; `state` is the highest revision either cache
/// had applied and the proof's revisions and assumed pods.
async fn bind(
    pod: &Pod,
    key: &str,
    decision: DecisionSummary,
    (revision, state): (u64, ProofState),
    ctx: &Ctx,
) -> Result<Action, ClientError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let node = decision.node.clone();
    let proof = proof_of(pod, &decision, state).to_bytes();
    ctx.decisions.record(DecisionRecord {
        pod: ObjectRef::from_obj(pod),
        pod_uid: pod.metadata.uid.clone(),
        pod_resource_version: pod.metadata.resource_version.clone(),
        state_revision: revision,
        decision: Arc::new(decision),
    });
    let res = with_proof(
        proof,
        ctx.client.create_subresource(
            ctx.pods,
            Some(ns),
            name,
            "binding",
            binding(ns, name, &node),
        ),
    )
    .await;
    match res {
        Ok(_) => {
            lock(&ctx.cache).clear_unschedulable(key);
            let msg = format!("Successfully assigned {ns}/{name} to {node}");
            publish(ctx, pod, EventSpec::normal("Scheduled", msg)).await;
            Ok(Action::await_change())
        }
        Err(e) => {
            lock(&ctx.cache).forget(key);
            ctx.decisions.remove(key);
            if e.is_conflict() || e.is_not_found() {
                // Bound by someone else meanwhile, or deleted: the watch brings the truth.
                tracing::debug!(pod = %key, error = %e, "binding refused");
                Ok(Action::await_change())
            } else {
                Err(e)
            }
        }
    }
}

async fn mark_unschedulable(
    pod: &Pod,
    key: String,
    why: &Unschedulable,
    ctx: &Ctx,
) -> Result<Action, ClientError> {
    let message = why.message();
    let retry = Action::requeue(ctx.config.unschedulable_retry);
    let previous = lock(&ctx.cache).unschedulable(&key).cloned();
    let self_triggered = previous.as_ref().is_some_and(|p| {
        p.message == message
            && p.written_rv.is_some()
            && p.written_rv == pod.metadata.resource_version
    });
    let mut entry = UnschedulableEntry {
        oref: ObjectRef::from_obj(pod),
        resolvable: why.resolvable,
        message: message.clone(),
        written_rv: previous.and_then(|p| p.written_rv),
    };
    if self_triggered {
        lock(&ctx.cache).set_unschedulable(key, entry);
        return Ok(retry);
    }
    // Record first: a cluster change arriving during the write must still retry this pod.
    lock(&ctx.cache).set_unschedulable(key.clone(), entry.clone());
    if let Some(rv) = write_condition(pod, &message, ctx).await? {
        entry.written_rv = Some(rv);
        lock(&ctx.cache).set_unschedulable(key, entry);
    }
    publish(ctx, pod, EventSpec::warning("FailedScheduling", message)).await;
    Ok(retry)
}

/// Sets `PodScheduled=False`, reason `Unschedulable`, `message` on the pod's current status (read, then
/// replaced with its resourceVersion as precondition: a merge patch would replace the whole list).
/// Returns the resourceVersion written, `None` when the condition was already so (or the pod is gone).
async fn write_condition(
    pod: &Pod,
    message: &str,
    ctx: &Ctx,
) -> Result<Option<String>, ClientError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let current = match ctx.client.get(ctx.pods, Some(ns), name).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut current: Pod =
        serde_json::from_value(current).map_err(|e| ClientError::Decode(e.to_string()))?;
    let status = current.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let existing = conditions.iter().position(|c| c.type_ == "PodScheduled");
    if let Some(i) = existing {
        let c = &conditions[i];
        if c.status == "False"
            && c.reason.as_deref() == Some(UNSCHEDULABLE_REASON)
            && c.message.as_deref() == Some(message)
        {
            return Ok(None);
        }
    }
    let now = Time(super::Clock::new().now());
    let transition = existing
        .and_then(|i| {
            let c = &conditions[i];
            (c.status == "False").then(|| c.last_transition_time.clone())
        })
        .flatten()
        .unwrap_or_else(|| now.clone());
    let condition = PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some(UNSCHEDULABLE_REASON.into()),
        message: Some(message.to_owned()),
        last_transition_time: Some(transition),
        ..Default::default()
    };
    match existing {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
    let body = serde_json::to_value(&current).map_err(|e| ClientError::Decode(e.to_string()))?;
    let written = ctx
        .client
        .replace_status(ctx.pods, Some(ns), name, body)
        .await?;
    Ok(mock_k8_schemas::meta::str_field(&written, "resourceVersion").map(str::to_owned))
}

async fn publish(ctx: &Ctx, pod: &Pod, ev: EventSpec) {
    if let Err(e) = ctx.recorder.publish(&Regarding::from_obj(pod), &ev).await {
        tracing::debug!(error = %e, reason = %ev.reason, "event not recorded");
    }
}
