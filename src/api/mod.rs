//! The HTTP API: Kubernetes REST semantics over the store.
//! OWNER: helper api.
