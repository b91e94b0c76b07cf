//! [`EndpointsController`]: keeps the `Endpoints` and `EndpointSlice`s of every Service with a selector
//! equal to [`compute_endpoints`] / [`compute_endpoint_slices`] of the Service and its pods (`D(S, E)`),
//! as Kubernetes' endpoints and EndpointSlice controllers do.
//!
//! # Guarantees
//! - A Service is reconciled when it changes and whenever a pod it selects — or selected before the
//!   change — is created, changes or is deleted, so its endpoints follow within one reconcile.
//! - Writes are skipped when nothing changed ([`endpoints_equal`], [`endpoint_slices_equal`]); updates
//!   carry the stored `resourceVersion` as a precondition.
//! - Services without a selector (and `ExternalName` ones) are never touched: their Endpoints are managed
//!   by hand (e.g. a glusterfs Endpoints object).
//! - The Endpoints this controller writes carry [`LABEL_ENDPOINTS_MANAGED_BY`]` = `[`ENDPOINTS_CONTROLLER`];
//!   when their Service is deleted, they and the Service's managed EndpointSlices are deleted, and
//!   nothing else. The same sweep runs after every (re-)list of Services, for deletions missed while
//!   the controller was down. That clean-up is reported to the [`ResultHook`] as a reconcile of the
//!   deleted Service.
//! - Events (component `endpoint-controller`): `FailedToUpdateEndpoint` (Warning) when a write fails.

use super::{Error, drain, namespace_and_name, resource, until_cancelled};
use crate::client::signing::with_proof;
use crate::client::{Api, Client, ClientError, DeleteParams, ListParams};
use crate::controller::{self, Action, Controller, Outcome, ReconcileResult, ResultHook};
use crate::endpoints::proof::EndpointsProof;
use crate::endpoints::{
    LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MANAGED_BY_CONTROLLER, compute_endpoint_slices,
    compute_endpoints, endpoint_slices_equal, endpoints_equal,
};
use crate::events::{EventSpec, Recorder, Regarding, Reporter};
use crate::informer::{Informers, ScopedInformers};
use crate::reflector::{ObjectRef, Store};
use crate::watcher;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use mock_k8_schemas::{ApiResource, meta};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Label on the Endpoints objects this controller manages (Kubernetes' `endpoints.kubernetes.io/managed-by`).
pub const LABEL_ENDPOINTS_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";

/// Value of [`LABEL_ENDPOINTS_MANAGED_BY`]: this controller (Kubernetes' `endpoint-controller`), also the
/// Events' reporting component.
pub const ENDPOINTS_CONTROLLER: &str = "endpoint-controller";

/// Settings of the [`EndpointsController`] (it has no timers: it only reacts to changes).
#[derive(Debug, Clone, Default)]
pub struct EndpointsConfig {
    /// Concurrency, queue capacity and error backoff of the Service controller.
    pub controller: controller::Config,
}

/// What every reconcile shares.
struct Ctx {
    client: Arc<dyn Client>,
    pods: Store<Pod>,
    recorder: Recorder,
}

/// The endpoints controller.
pub struct EndpointsController {
    client: Arc<dyn Client>,
    config: EndpointsConfig,
    informers: Option<Informers>,
}

/// The services a pod event triggers: those selecting the pod now plus those that selected it before.
struct PodToServices {
    services: Store<Service>,
    previous: Mutex<HashMap<String, Vec<ObjectRef>>>,
}

/// `true` when the service has a selector and it matches `labels`.
fn selects(service: &Service, labels: &BTreeMap<String, String>) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

impl PodToServices {
    fn map(&self, ev: &watcher::Event<Arc<Pod>>) -> Vec<ObjectRef> {
        let (pod, deleted) = match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => (o, false),
            watcher::Event::Delete(o) => (o, true),
            watcher::Event::Init | watcher::Event::InitDone => return Vec::new(),
        };
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let no_labels = BTreeMap::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&no_labels);
        let key = format!("{ns}/{}", pod.metadata.name.as_deref().unwrap_or_default());
        let now: Vec<ObjectRef> = self
            .services
            .by_namespace(ns)
            .iter()
            .filter(|s| selects(s, labels))
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect();
        let mut previous = self.previous.lock().unwrap_or_else(|p| p.into_inner());
        // Only pods some Service selects are remembered (an empty list is the same as none).
        let before = if deleted || now.is_empty() {
            previous.remove(&key).unwrap_or_default()
        } else {
            previous.insert(key, now.clone()).unwrap_or_default()
        };
        let mut out = now;
        for r in before {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}

impl EndpointsController {
    /// An endpoints controller with `config` (nothing runs until [`EndpointsController::run`]).
    pub fn new(client: Arc<dyn Client>, config: EndpointsConfig) -> Self {
        EndpointsController {
            client,
            config,
            informers: None,
        }
    }

    /// Reads pods from `informers` (shared with the other controllers of the process) instead
    /// of watching them itself.
    pub fn with_informers(mut self, informers: Informers) -> Self {
        self.informers = Some(informers);
        self
    }

    /// Watches Services and Pods and keeps endpoints until `shutdown` is cancelled. Every reconcile
    /// result (and every clean-up after a Service deletion) passes through `hook`.
    ///
    /// # Errors
    /// [`Error::ResourceNotServed`] when a needed kind is not in the resource table.
    pub async fn run(
        self,
        hook: Arc<dyn ResultHook>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let services = resource("v1", "Service")?;
        resource("v1", "Pod")?;
        resource("v1", "Endpoints")?;
        resource("discovery.k8s.io/v1", "EndpointSlice")?;

        let informers = ScopedInformers::new(self.informers, self.client.clone(), shutdown.clone());
        let pod_informer = informers.get().pods()?;
        let pod_store = pod_informer.store();
        let controller =
            Controller::<Service>::new(self.client.clone(), services, watcher::Config::default());
        let mapper = Arc::new(PodToServices {
            services: controller.store(),
            previous: Mutex::default(),
        });
        let triggers = pod_informer
            .subscribe()
            .flat_map(move |ev| futures::stream::iter(mapper.map(&ev)));
        let cleanup = tokio::spawn(cleanup_loop(
            self.client.clone(),
            services,
            hook.clone(),
            shutdown.clone(),
        ));
        let ctx = Arc::new(Ctx {
            client: self.client.clone(),
            pods: pod_store,
            recorder: Recorder::new(
                self.client.clone(),
                Reporter {
                    component: ENDPOINTS_CONTROLLER.into(),
                    instance: None,
                },
            ),
        });
        let controller = controller
            .with_config(self.config.controller)
            .with_result_hook(hook)
            .graceful_shutdown_on(shutdown.clone())
            .reconcile_on(triggers);
        drain(
            "endpoints",
            controller.run(reconcile, controller::default_error_policy, ctx),
        )
        .await;
        shutdown.cancelled().await;
        let _ = cleanup.await;
        informers.finish().await;
        Ok(())
    }
}

/// The pods that may back `service`, found through the label index of the first selector pair, and
/// the pod store's revision they are the state of (the endpoints proof names it).
fn candidate_pods(store: &Store<Pod>, service: &Service) -> (Vec<Pod>, u64) {
    let ns = service.metadata.namespace.as_deref().unwrap_or("default");
    let Some((k, v)) = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .and_then(|s| s.iter().next())
    else {
        return (Vec::new(), store.revision());
    };
    let (pods, revision) = store.by_label_at(k, v);
    let pods = pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref().unwrap_or("default") == ns)
        .filter(|p| {
            selects(
                service,
                p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
            )
        })
        .map(|p| p.as_ref().clone())
        .collect();
    (pods, revision)
}

async fn reconcile(service: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ClientError> {
    if ctx.pods.wait_until_ready().await.is_err() {
        return Ok(Action::await_change()); // shutting down
    }
    let (pods, pods_revision) = candidate_pods(&ctx.pods, &service);
    let Some(mut desired) = compute_endpoints(&service, &pods) else {
        return Ok(Action::await_change()); // no selector: not ours
    };
    desired
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(
            LABEL_ENDPOINTS_MANAGED_BY.into(),
            ENDPOINTS_CONTROLLER.into(),
        );
    let slices = compute_endpoint_slices(&service, &pods).unwrap_or_default();
    let proof = EndpointsProof::new(&service, pods_revision).to_bytes();
    let result = async {
        with_proof(proof, sync_endpoints(&ctx.client, desired)).await?;
        sync_slices(&ctx.client, &service, slices).await
    }
    .await;
    if let Err(e) = &result {
        let ns = service.metadata.namespace.as_deref().unwrap_or("default");
        let name = service.metadata.name.as_deref().unwrap_or("");
        let ev = EventSpec::warning(
            "FailedToUpdateEndpoint",
            format!("Failed to update endpoint {ns}/{name}: {e}"),
        );
        if let Err(err) = ctx
            .recorder
            .publish(&Regarding::from_obj(service.as_ref()), &ev)
            .await
        {
            tracing::debug!(error = %err, "event not recorded");
        }
    }
    result.map(|()| Action::await_change())
}

/// Creates or replaces the Endpoints when they differ from `desired`.
async fn sync_endpoints(
    client: &Arc<dyn Client>,
    mut desired: Endpoints,
) -> Result<(), ClientError> {
    let (ns, name) = namespace_and_name(&desired.metadata);
    let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
    match api.get_opt(&name).await? {
        None => api.create(&desired).await.map(drop),
        Some(existing) if endpoints_equal(&existing, &desired) => Ok(()),
        Some(existing) => {
            let labels = desired.metadata.labels.take();
            desired.metadata = existing.metadata;
            desired.metadata.labels = labels;
            api.replace(&name, &desired).await.map(drop)
        }
    }
}

/// The label selector of the slices this controller manages for Service `name`.
fn slice_selector(name: &str) -> String {
    format!("{LABEL_SERVICE_NAME}={name},{LABEL_MANAGED_BY}={MANAGED_BY_CONTROLLER}")
}

/// Creates, replaces and deletes the Service's managed slices so they equal `desired`.
async fn sync_slices(
    client: &Arc<dyn Client>,
    service: &Service,
    desired: Vec<EndpointSlice>,
) -> Result<(), ClientError> {
    let ns = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or("");
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let params = ListParams {
        label_selector: Some(slice_selector(name)),
        field_selector: None,
    };
    let mut existing: HashMap<String, EndpointSlice> = api
        .list(&params)
        .await?
        .items
        .into_iter()
        .map(|s| (s.metadata.name.clone().unwrap_or_default(), s))
        .collect();
    for mut slice in desired {
        let slice_name = slice.metadata.name.clone().unwrap_or_default();
        match existing.remove(&slice_name) {
            None => {
                api.create(&slice).await?;
            }
            Some(old) if endpoint_slices_equal(&old, &slice) => {}
            Some(old) => {
                slice.metadata.resource_version = old.metadata.resource_version;
                slice.metadata.uid = old.metadata.uid;
                slice.metadata.creation_timestamp = old.metadata.creation_timestamp;
                api.replace(&slice_name, &slice).await?;
            }
        }
    }
    for stale in existing.into_keys() {
        ignore_not_found(api.delete(&stale, &DeleteParams::default()).await)?;
    }
    Ok(())
}

fn ignore_not_found<T>(r: Result<T, ClientError>) -> Result<(), ClientError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the managed Endpoints and EndpointSlices of the deleted Service `ns/name`.
async fn cleanup(client: &Arc<dyn Client>, ns: &str, name: &str) -> Result<(), ClientError> {
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), ns);
    if let Some(ep) = endpoints.get_opt(name).await? {
        let managed = ep
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_ENDPOINTS_MANAGED_BY))
            .is_some_and(|v| v == ENDPOINTS_CONTROLLER);
        if managed {
            let params = DeleteParams {
                precondition_uid: ep.metadata.uid.clone(),
                ..DeleteParams::default()
            };
            ignore_not_found(endpoints.delete(name, &params).await)?;
        }
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let params = ListParams {
        label_selector: Some(slice_selector(name)),
        field_selector: None,
    };
    for s in slices.list(&params).await?.items {
        let slice_name = s.metadata.name.unwrap_or_default();
        ignore_not_found(slices.delete(&slice_name, &DeleteParams::default()).await)?;
    }
    Ok(())
}

/// Cleans up after `ns/name` and reports it to the hook as a reconcile of the deleted Service.
async fn cleanup_reported(
    client: &Arc<dyn Client>,
    services: &'static ApiResource,
    hook: &Arc<dyn ResultHook>,
    ns: &str,
    name: &str,
    resource_version: Option<&str>,
) {
    let outcome = match cleanup(client, ns, name).await {
        Ok(()) => Outcome::Reconciled(Action::await_change()),
        Err(e) => {
            tracing::warn!(service = %format!("{ns}/{name}"), error = %e, "endpoints clean-up failed");
            Outcome::Failed {
                error: e.to_string(),
                requeue_after: None,
            }
        }
    };
    let object = ObjectRef::new(name).within(ns);
    hook.on_result(&ReconcileResult {
        resource: services,
        object: &object,
        resource_version,
        outcome: &outcome,
    });
}

/// Watches Services: cleans up after each deletion, and after each complete (re-)list sweeps managed
/// Endpoints and slices whose Service no longer exists.
async fn cleanup_loop(
    client: Arc<dyn Client>,
    services: &'static ApiResource,
    hook: Arc<dyn ResultHook>,
    shutdown: CancellationToken,
) {
    let mut events = watcher::watcher(client.clone(), services, watcher::Config::default()).boxed();
    let mut listing: Option<HashSet<(String, String)>> = None;
    until_cancelled(&shutdown, async {
        while let Some(ev) = events.next().await {
            match ev {
                Ok(watcher::Event::Delete(svc)) => {
                    let rv = meta::str_field(&svc, "resourceVersion");
                    cleanup_reported(
                        &client,
                        services,
                        &hook,
                        meta::namespace(&svc),
                        meta::name(&svc),
                        rv,
                    )
                    .await;
                }
                Ok(watcher::Event::Init) => listing = Some(HashSet::new()),
                Ok(watcher::Event::InitApply(svc)) => {
                    if let Some(l) = listing.as_mut() {
                        l.insert((
                            meta::namespace(&svc).to_owned(),
                            meta::name(&svc).to_owned(),
                        ));
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    if let Some(live) = listing.take() {
                        sweep(&client, services, &hook, &live).await;
                    }
                }
                Ok(watcher::Event::Apply(_)) => {}
                Err(e) => tracing::debug!(error = %e, "endpoints: service watch error (retrying)"),
            }
        }
    })
    .await;
}

/// Cleans up after every Service that has managed Endpoints but is not in `live`.
async fn sweep(
    client: &Arc<dyn Client>,
    services: &'static ApiResource,
    hook: &Arc<dyn ResultHook>,
    live: &HashSet<(String, String)>,
) {
    let endpoints: Api<Endpoints> = Api::all(client.clone());
    let params = ListParams {
        label_selector: Some(format!(
            "{LABEL_ENDPOINTS_MANAGED_BY}={ENDPOINTS_CONTROLLER}"
        )),
        field_selector: None,
    };
    let orphans = match endpoints.list(&params).await {
        Ok(list) => list.items,
        Err(e) => {
            tracing::warn!(error = %e, "endpoints sweep: list failed");
            return;
        }
    };
    for ep in orphans {
        let ns = ep.metadata.namespace.unwrap_or_default();
        let name = ep.metadata.name.unwrap_or_default();
        if !live.contains(&(ns.clone(), name.clone())) {
            cleanup_reported(client, services, hook, &ns, &name, None).await;
        }
    }
}

#[cfg(test)]
#[path = "endpoints_tests.rs"]
mod tests;
