//! [`Recorder`]: publishes Kubernetes Events (core/v1 `Event`) about objects, so `kubectl describe`
//! and `kubectl get events` tell what controllers did (Scheduled, FailedScheduling, Started, Killing,
//! NodeNotReady, …).
//!
//! Follows client-go's event recorder (`tools/record`): an Event is named `<object>.<hex nanos>`,
//! lives in the object's namespace (`default` for cluster-scoped objects), and repeats of the same
//! (object, type, reason, message) are folded into one Event whose `count` and `lastTimestamp` are
//! patched, instead of creating a new object each time.
//!
//! # Guarantees
//! - **Bounded**: the fold cache keeps at most [`RecorderConfig::max_cached`] entries (least recently
//!   used evicted; client-go keeps 4096); a repeat after eviction creates a fresh Event.
//! - **Expiring**: a repeat more than [`RecorderConfig::series_window`] after the last one starts a
//!   fresh Event; stored Events are expired by the API server's event TTL (Kubernetes'
//!   `--event-ttl`, 1 h by default).
//!
//! # Errors
//! [`Recorder::publish`] returns the [`ClientError`] of the create or patch; callers usually log it
//! and go on (an Event is never worth failing a reconcile for).

use crate::client::{Client, ClientError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mock_k8_schemas::{ApiResource, meta};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The `type` of an Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something expected happened (`Scheduled`, `Started`).
    Normal,
    /// Something may need attention (`FailedScheduling`, `BackOff`, `NodeNotReady`).
    Warning,
}

impl EventType {
    /// The wire value: `"Normal"` or `"Warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// What happened, in Kubernetes' words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventSpec {
    /// Normal or Warning.
    pub type_: EventType,
    /// A short UpperCamelCase machine reason, e.g. `Scheduled`.
    pub reason: String,
    /// The human-readable message, e.g. `Successfully assigned default/web to node-1`.
    pub message: String,
    /// What the controller did, e.g. `Binding` (the `action` field); optional.
    pub action: Option<String>,
}

impl EventSpec {
    /// A `Normal` event.
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        EventSpec {
            type_: EventType::Normal,
            reason: reason.to_string(),
            message: message.into(),
            action: None,
        }
    }

    /// A `Warning` event.
    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        EventSpec {
            type_: EventType::Warning,
            reason: reason.to_string(),
            message: message.into(),
            action: None,
        }
    }
}

/// The object an Event is about (the Event's `involvedObject`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Regarding {
    /// `apiVersion` of the object, e.g. `v1`.
    pub api_version: String,
    /// `kind`, e.g. `Pod`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`; empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.uid` (kubectl describe matches Events on it), if known.
    pub uid: Option<String>,
    /// A part of the object, e.g. `spec.containers{web}`; optional.
    pub field_path: Option<String>,
}

impl Regarding {
    /// The reference of a JSON object of `resource` (kind and apiVersion come from `resource`).
    pub fn from_value(resource: &ApiResource, obj: &Value) -> Self {
        Regarding {
            api_version: resource.api_version(),
            kind: resource.kind.to_string(),
            name: meta::name(obj).to_string(),
            namespace: meta::namespace(obj).to_string(),
            uid: meta::str_field(obj, "uid").map(str::to_string),
            field_path: None,
        }
    }

    /// The reference of a typed object (a k8s-openapi type such as `Pod`).
    pub fn from_obj<K: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>>(
        obj: &K,
    ) -> Self {
        let m = obj.metadata();
        Regarding {
            api_version: K::API_VERSION.to_string(),
            kind: K::KIND.to_string(),
            name: m.name.clone().unwrap_or_default(),
            namespace: m.namespace.clone().unwrap_or_default(),
            uid: m.uid.clone(),
            field_path: None,
        }
    }

    /// This reference, narrowed to a part of the object (`fieldPath`).
    pub fn with_field_path(mut self, path: &str) -> Self {
        self.field_path = Some(path.to_string());
        self
    }
}

/// Who reports: the Event's `source.component` / `reportingComponent` (e.g. `default-scheduler`,
/// `kubelet`) and `source.host` / `reportingInstance` (e.g. the node name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    /// The component name.
    pub component: String,
    /// The instance (host), if any.
    pub instance: Option<String>,
}

/// Bounds of the fold cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Most (object, type, reason, message) entries remembered (default 4096, as client-go).
    pub max_cached: usize,
    /// A repeat later than this after the previous one starts a new Event (default 10 min, as
    /// client-go's aggregation window).
    pub series_window: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            max_cached: 4096,
            series_window: Duration::from_secs(600),
        }
    }
}

type Key = (Regarding, EventType, String, String);

struct Cached {
    name: String,
    namespace: String,
    count: u64,
    last: Instant,
    seq: u64,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, Cached>,
    lru: BTreeMap<u64, Key>,
    seq: u64,
}

/// Publishes Events through a [`Client`]; cheap to clone and share.
#[derive(Clone)]
pub struct Recorder {
    client: Arc<dyn Client>,
    reporter: Reporter,
    config: RecorderConfig,
    cache: Arc<Mutex<Cache>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("reporter", &self.reporter)
            .field("config", &self.config)
            .finish()
    }
}

fn events_resource() -> Option<&'static ApiResource> {
    mock_k8_schemas::resource::by_kind("v1", "Event")
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// What to do for one publish, decided under the cache lock.
enum Plan {
    Create {
        name: String,
        namespace: String,
    },
    Bump {
        name: String,
        namespace: String,
        count: u64,
    },
}

impl Recorder {
    /// A recorder reporting as `reporter`, with the default bounds.
    pub fn new(client: Arc<dyn Client>, reporter: Reporter) -> Self {
        Recorder::with_config(client, reporter, RecorderConfig::default())
    }

    /// A recorder with explicit bounds.
    pub fn with_config(
        client: Arc<dyn Client>,
        reporter: Reporter,
        config: RecorderConfig,
    ) -> Self {
        Recorder {
            client,
            reporter,
            config,
            cache: Arc::default(),
        }
    }

    fn plan(&self, key: Key) -> Plan {
        let now = Instant::now();
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.seq += 1;
        let seq = c.seq;
        let window = self.config.series_window;
        let plan = match c.entries.get_mut(&key) {
            Some(e) if now.duration_since(e.last) <= window => {
                e.count += 1;
                e.last = now;
                let old_seq = std::mem::replace(&mut e.seq, seq);
                let plan = Plan::Bump {
                    name: e.name.clone(),
                    namespace: e.namespace.clone(),
                    count: e.count,
                };
                c.lru.remove(&old_seq);
                plan
            }
            _ => {
                let namespace = if key.0.namespace.is_empty() {
                    "default".to_string()
                } else {
                    key.0.namespace.clone()
                };
                let nanos = jiff::Timestamp::now().as_nanosecond();
                let name = format!("{}.{:x}{:x}", key.0.name, nanos.max(0), seq);
                if let Some(old) = c.entries.insert(
                    key.clone(),
                    Cached {
                        name: name.clone(),
                        namespace: namespace.clone(),
                        count: 1,
                        last: now,
                        seq,
                    },
                ) {
                    c.lru.remove(&old.seq);
                }
                Plan::Create { name, namespace }
            }
        };
        c.lru.insert(seq, key);
        while c.entries.len() > self.config.max_cached.max(1) {
            let Some((_, oldest)) = c.lru.pop_first() else {
                break;
            };
            c.entries.remove(&oldest);
        }
        plan
    }

    fn body(&self, regarding: &Regarding, ev: &EventSpec, name: &str, namespace: &str) -> Value {
        let now = now_rfc3339();
        let mut involved = json!({"apiVersion": regarding.api_version, "kind": regarding.kind, "name": regarding.name});
        if !regarding.namespace.is_empty() {
            involved["namespace"] = json!(regarding.namespace);
        }
        if let Some(uid) = &regarding.uid {
            involved["uid"] = json!(uid);
        }
        if let Some(fp) = &regarding.field_path {
            involved["fieldPath"] = json!(fp);
        }
        let mut source = json!({"component": self.reporter.component});
        if let Some(host) = &self.reporter.instance {
            source["host"] = json!(host);
        }
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": ev.reason,
            "message": ev.message,
            "type": ev.type_.as_str(),
            "action": ev.action,
            "source": source,
            "reportingComponent": self.reporter.component,
            "reportingInstance": self.reporter.instance.clone().unwrap_or_default(),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        })
    }

    /// Records `ev` about `regarding`: creates an Event, or bumps the `count` and `lastTimestamp` of
    /// the Event recorded for the same (object, type, reason, message) within the series window.
    ///
    /// # Errors
    /// The [`ClientError`] of the create or patch (a bump whose Event has expired on the server
    /// falls back to a create).
    pub async fn publish(&self, regarding: &Regarding, ev: &EventSpec) -> Result<(), ClientError> {
        let Some(events) = events_resource() else {
            return Err(ClientError::api(mock_k8_schemas::Status::new(
                404,
                "NotFound",
                "events are not served",
            )));
        };
        let key = (
            regarding.clone(),
            ev.type_,
            ev.reason.clone(),
            ev.message.clone(),
        );
        match self.plan(key) {
            Plan::Create { name, namespace } => {
                self.client
                    .create(
                        events,
                        Some(&namespace),
                        self.body(regarding, ev, &name, &namespace),
                    )
                    .await?;
            }
            Plan::Bump {
                name,
                namespace,
                count,
            } => {
                let patch =
                    json!({"count": count, "lastTimestamp": now_rfc3339(), "message": ev.message});
                match self
                    .client
                    .patch(events, Some(&namespace), &name, None, patch)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        let mut body = self.body(regarding, ev, &name, &namespace);
                        body["count"] = json!(count);
                        self.client.create(events, Some(&namespace), body).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
