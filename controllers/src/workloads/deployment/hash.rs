//! The `pod-template-hash` of a Deployment's pod template: the suffix of its ReplicaSets' names
//! (`<deployment>-<hash>`) and a label on those sets and their pods, so that sets of different
//! templates never select each other's pods.
//!
//! Kubernetes (`controller.ComputeHash`) hashes a deep print of the template with 32-bit FNV-1a,
//! appends `status.collisionCount` (little-endian) when set, and spells the decimal hash with
//! `rand.SafeEncodeString`'s alphabet (no vowels, no `0`/`1`/`3`, so no words and no look-alike
//! characters). We do the same over the template's canonical JSON (object keys sorted), so the
//! hash is stable across restarts and key orders, though not equal to Kubernetes' own digits.
//! FNV-1a: <http://www.isthe.com/chongo/tech/comp/fnv/>.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// The label Deployments put on their ReplicaSets and pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;
/// `rand.SafeEncodeString`'s alphabet.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// 32-bit FNV-1a of `bytes`, continuing from `hash`.
pub fn fnv1a32(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Writes `v` as JSON with object keys sorted (a canonical form: equal values, equal bytes).
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Spells `n`'s decimal digits in the safe alphabet (one character per digit, as
/// `SafeEncodeString(strconv.FormatUint(n, 10))`).
fn safe_encode(n: u32) -> String {
    n.to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The hash of `template` (without any `pod-template-hash` label) and `collision_count`.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    let mut text = String::new();
    canonical(&serde_json::to_value(&t).unwrap_or(Value::Null), &mut text);
    let mut h = fnv1a32(FNV_OFFSET, text.as_bytes());
    if let Some(c) = collision_count {
        h = fnv1a32(h, &c.to_le_bytes());
    }
    safe_encode(h)
}

/// `true` when `a` and `b` are the same template apart from the `pod-template-hash` label
/// (Kubernetes' `EqualIgnoreHash`): how a Deployment finds the ReplicaSet of its template.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(m) = t.metadata.as_mut()
            && let Some(l) = m.labels.as_mut()
        {
            {
                l.remove(POD_TEMPLATE_HASH);
                if l.is_empty() {
                    m.labels = None;
                }
            }
        }
        serde_json::to_value(t).unwrap_or(Value::Null)
    };
    strip(a) == strip(b)
}
