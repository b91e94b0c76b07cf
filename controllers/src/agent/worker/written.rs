//! [`Written`]: what the agent remembers of its last status write of a pod.

use k8s_openapi::api::core::v1::PodStatus;

/// The status this agent last wrote for a pod.
pub(super) struct Written {
    /// The resourceVersion the write produced.
    pub(super) resource_version: String,
    /// The status as computed (what the next computation is compared with).
    pub(super) ours: PodStatus,
    /// The status as the server stored it (what a later store copy is compared with).
    stored: StoredStatus,
}

/// The stored status of a [`Written`]: usually exactly ours, and then not kept twice (one
/// `PodStatus` less per running pod).
enum StoredStatus {
    /// The server stored `Written::ours` unchanged.
    Ours,
    /// The server stored this instead (boxed: `Ours`, the usual case, then costs a pointer).
    Other(Option<Box<PodStatus>>),
}

impl Written {
    /// What a status write left: `resource_version` and `stored` from the server's answer,
    /// `ours` as computed.
    pub(super) fn new(
        resource_version: String,
        ours: PodStatus,
        stored: Option<&PodStatus>,
    ) -> Self {
        let stored = if stored == Some(&ours) {
            StoredStatus::Ours
        } else {
            StoredStatus::Other(stored.cloned().map(Box::new))
        };
        Written {
            resource_version,
            ours,
            stored,
        }
    }

    /// The status as the server stored it.
    pub(super) fn stored(&self) -> Option<&PodStatus> {
        match &self.stored {
            StoredStatus::Ours => Some(&self.ours),
            StoredStatus::Other(s) => s.as_deref(),
        }
    }
}
