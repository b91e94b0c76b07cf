//! The write path of the [`FakeClient`]: create, update (replace, status, patch, binding), delete.

use super::{Change, FakeClient, State, Verb, api_err, now_rfc3339};
use crate::client::{ClientError, DeleteParams};
use mock_k8_schemas::watch::EventType;
use mock_k8_schemas::{ApiResource, Status, meta};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;

impl FakeClient {
    pub(super) fn take_failure(st: &mut State, verb: Verb) -> Result<(), ClientError> {
        match st.fail_next.get_mut(&verb).and_then(VecDeque::pop_front) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stamps `obj` with the next revision, stores or removes it and tells the watches.
    pub(super) fn commit(
        &self,
        st: &mut State,
        r: &'static ApiResource,
        event_type: EventType,
        mut obj: Value,
    ) -> Value {
        st.revision += 1;
        meta::set(&mut obj, "resourceVersion", json!(st.revision.to_string()));
        let key = r.key(meta::namespace(&obj), meta::name(&obj));
        if event_type == EventType::Deleted {
            st.objects.remove(&key);
        } else {
            st.objects.insert(key, obj.clone());
        }
        let change = Arc::new(Change {
            revision: st.revision,
            group: r.group,
            plural: r.plural,
            event_type,
            object: obj.clone(),
        });
        st.history.push_back(change.clone());
        while st.history.len() > self.history_limit {
            if let Some(old) = st.history.pop_front() {
                st.oldest_replayable = old.revision;
            }
        }
        let _ = self.tx.send(change);
        obj
    }

    pub(super) fn namespace_of(
        r: &'static ApiResource,
        namespace: Option<&str>,
    ) -> Result<String, ClientError> {
        match (r.namespaced, namespace) {
            (false, _) => Ok(String::new()),
            (true, Some(ns)) if !ns.is_empty() => Ok(ns.to_string()),
            (true, _) => Err(api_err(Status::bad_request(format!(
                "a namespace is required for {}",
                r.plural
            )))),
        }
    }

    pub(super) fn existing(
        st: &State,
        r: &'static ApiResource,
        ns: &str,
        name: &str,
    ) -> Result<Value, ClientError> {
        st.objects
            .get(&r.key(ns, name))
            .cloned()
            .ok_or_else(|| api_err(Status::not_found(r.group, r.plural, name)))
    }

    pub(super) fn do_create(
        &self,
        r: &'static ApiResource,
        namespace: Option<&str>,
        mut obj: Value,
    ) -> Result<Value, ClientError> {
        let mut st = self.lock();
        Self::take_failure(&mut st, Verb::Create)?;
        let ns = Self::namespace_of(r, namespace)?;
        let body_ns = meta::namespace(&obj);
        if r.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(api_err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            )));
        }
        st.uid_counter += 1;
        let n = st.uid_counter;
        if meta::name(&obj).is_empty() {
            match meta::str_field(&obj, "generateName") {
                Some(prefix) => {
                    let name = format!("{prefix}{n:05x}");
                    meta::set(&mut obj, "name", json!(name));
                }
                None => {
                    return Err(api_err(Status::new(
                        422,
                        "Invalid",
                        "metadata.name: Required value: name or generateName is required",
                    )));
                }
            }
        }
        let name = meta::name(&obj).to_string();
        if st.objects.contains_key(&r.key(&ns, &name)) {
            return Err(api_err(Status::already_exists(r.group, r.plural, &name)));
        }
        if r.namespaced {
            meta::set(&mut obj, "namespace", json!(ns));
        }
        meta::set(
            &mut obj,
            "uid",
            json!(format!("00000000-0000-4000-8000-{n:012x}")),
        );
        meta::set(&mut obj, "creationTimestamp", json!(now_rfc3339()));
        meta::set(&mut obj, "generation", json!(1));
        meta::remove(&mut obj, "deletionTimestamp");
        if let Some(o) = obj.as_object_mut() {
            o.insert("apiVersion".into(), json!(r.api_version()));
            o.insert("kind".into(), json!(r.kind));
        }
        Ok(self.commit(&mut st, r, EventType::Added, obj))
    }

    /// A whole-object (or, with `status_only`, status) replacement through [`Self::do_update`],
    /// with the object's `metadata.resourceVersion` as precondition.
    pub(super) fn do_replace(
        &self,
        verb: Verb,
        r: &'static ApiResource,
        namespace: Option<&str>,
        name: &str,
        object: Value,
        status_only: bool,
    ) -> Result<Value, ClientError> {
        let pre = meta::str_field(&object, "resourceVersion").map(str::to_string);
        self.do_update(verb, r, namespace, name, |_| Ok(object), status_only, pre)
    }

    /// The shared update path: precondition, identity, status handling, generation, finalizers.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_update(
        &self,
        verb: Verb,
        r: &'static ApiResource,
        namespace: Option<&str>,
        name: &str,
        f: impl FnOnce(&Value) -> Result<Value, ClientError>,
        status_only: bool,
        precondition: Option<String>,
    ) -> Result<Value, ClientError> {
        let mut st = self.lock();
        Self::take_failure(&mut st, verb)?;
        let ns = Self::namespace_of(r, namespace)?;
        let old = Self::existing(&st, r, &ns, name)?;
        if let Some(rv) = precondition
            && meta::str_field(&old, "resourceVersion") != Some(rv.as_str())
        {
            return Err(api_err(Status::conflict(r.group, r.plural, name)));
        }
        let proposed = f(&old)?;
        let has_status = r.subresources.contains(&"status");
        let mut new = if status_only {
            let mut n = old.clone();
            n["status"] = proposed.get("status").cloned().unwrap_or(Value::Null);
            n
        } else {
            let mut n = proposed;
            if has_status {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(o) = n.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            n
        };
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old.get("metadata").and_then(|m| m.get(field)) {
                Some(v) => meta::set(&mut new, field, v.clone()),
                None => {
                    meta::remove(&mut new, field);
                }
            }
        }
        let generation = old
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let bump = !status_only && old.get("spec") != new.get("spec");
        meta::set(
            &mut new,
            "generation",
            json!(if bump { generation + 1 } else { generation }),
        );
        let finalizers_empty = new
            .get("metadata")
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if meta::str_field(&new, "deletionTimestamp").is_some()
            && finalizers_empty
            && !is_graceful_pod(r, &new)
        {
            return Ok(self.commit(&mut st, r, EventType::Deleted, new));
        }
        Ok(self.commit(&mut st, r, EventType::Modified, new))
    }

    pub(super) fn do_delete(
        &self,
        r: &'static ApiResource,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Value, ClientError> {
        let mut st = self.lock();
        Self::take_failure(&mut st, Verb::Delete)?;
        let ns = Self::namespace_of(r, namespace)?;
        let mut obj = Self::existing(&st, r, &ns, name)?;
        let uid_ok = params
            .precondition_uid
            .as_deref()
            .is_none_or(|u| meta::str_field(&obj, "uid") == Some(u));
        let rv_ok = params
            .precondition_resource_version
            .as_deref()
            .is_none_or(|v| meta::str_field(&obj, "resourceVersion") == Some(v));
        if !uid_ok || !rv_ok {
            return Err(api_err(Status::conflict(r.group, r.plural, name)));
        }
        let has_finalizers = obj
            .get("metadata")
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let bound_pod = r.kind == "Pod"
            && obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
        let grace = params.grace_period_seconds.unwrap_or_else(|| {
            obj.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30)
        });
        if has_finalizers || (bound_pod && grace > 0) {
            if meta::str_field(&obj, "deletionTimestamp").is_some() {
                return Ok(obj);
            }
            meta::set(&mut obj, "deletionTimestamp", json!(now_rfc3339()));
            if bound_pod {
                meta::set(&mut obj, "deletionGracePeriodSeconds", json!(grace.max(0)));
            }
            return Ok(self.commit(&mut st, r, EventType::Modified, obj));
        }
        Ok(self.commit(&mut st, r, EventType::Deleted, obj))
    }

    pub(super) fn do_bind(
        &self,
        r: &'static ApiResource,
        namespace: Option<&str>,
        name: &str,
        sub: &str,
        body: &Value,
    ) -> Result<Value, ClientError> {
        if r.kind != "Pod" || sub != "binding" {
            let mut st = self.lock();
            Self::take_failure(&mut st, Verb::CreateSubresource)?;
            return Err(api_err(Status::new(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({}/{sub})",
                    r.plural
                ),
            )));
        }
        let node = body
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if node.is_empty() {
            return Err(api_err(Status::new(
                422,
                "Invalid",
                format!("Binding \"{name}\" is invalid: target.name: Required value"),
            )));
        }
        self.do_update(
            Verb::CreateSubresource,
            r,
            namespace,
            name,
            |old| {
                let current = old.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
                if !current.is_empty() {
                    let msg = format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{current}\"");
                    return Err(api_err(Status::new(409, "Conflict", msg)));
                }
                let mut new = old.clone();
                new["spec"]["nodeName"] = json!(node);
                Ok(new)
            },
            false,
            None,
        )?;
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )
    }
}

/// A pod bound to a node whose deletion waits for its node agent (grace period > 0).
fn is_graceful_pod(r: &ApiResource, obj: &Value) -> bool {
    r.kind == "Pod"
        && obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        && obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0
}
