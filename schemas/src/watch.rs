//! Watch events: the lines of a watch stream (`{"type":"ADDED","object":{...}}`), as Kubernetes'
//! `metav1.WatchEvent` defines them.

use serde::{Deserialize, Serialize};

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The object was created (or, in an initial listing, exists).
    Added,
    /// The object changed.
    Modified,
    /// The object was removed (or stopped matching the watch's selectors).
    Deleted,
    /// A progress marker carrying only `metadata.resourceVersion`.
    Bookmark,
    /// The stream failed; the object is a `Status` (e.g. 410 Expired).
    Error,
}

impl EventType {
    /// The wire name, e.g. `"ADDED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// One watch event with a typed or untyped object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchEvent<T = serde_json::Value> {
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The object after the change (before it, for DELETED), a bookmark stub, or a `Status`.
    pub object: T,
}

/// Writes one watch event line (JSON followed by `\n`) from an already serialized object, without
/// re-parsing it: the hot path of every watch stream.
pub fn event_line(event_type: EventType, object_json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object_json.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(event_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object_json);
    out.extend_from_slice(b"}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_line_should_parse_back_as_a_watch_event() {
        let line = event_line(EventType::Modified, br#"{"kind":"Pod"}"#);
        let ev: WatchEvent = serde_json::from_slice(&line).expect("valid json");
        assert_eq!(ev.event_type, EventType::Modified);
        assert_eq!(ev.object["kind"], "Pod");
        assert_eq!(line.last(), Some(&b'\n'));
    }
}
