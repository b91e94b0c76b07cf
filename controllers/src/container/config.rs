//! MockDocker's behaviour as data: the runtime config file and the pod annotations that shape each
//! container, in the spirit of kwok's stages (a selector, delays with jitter, the outcome).
//!
//! # Precedence (highest first)
//! 1. per-container annotation `mock-k8.io/<field>.<container>` (e.g. `mock-k8.io/exit-code.app`),
//! 2. pod-wide annotation `mock-k8.io/<field>`,
//! 3. the first [`ImageRule`] of the config whose `image` pattern matches the container's image,
//! 4. the config's defaults.
//!
//! # Annotations
//! | annotation | meaning | default |
//! |---|---|---|
//! | `mock-k8.io/start-delay-ms` | ms from `start` to `Running` | config `start_delay_ms` |
//! | `mock-k8.io/start-jitter-ms` | up to this many ms added at random to the start delay | config `start_jitter_ms` |
//! | `mock-k8.io/exit-after-ms` | the process exits this many ms after it started running | init: `init_exit_after_ms`; app: never |
//! | `mock-k8.io/exit-code` | its exit code (0–255) when it exits by itself | 0 (137 with `oom-killed`) |
//! | `mock-k8.io/oom-killed` | `true`: the exit is reported as `OOMKilled` | false |
//! | `mock-k8.io/stop-delay-ms` | ms the process takes to honour SIGTERM; beyond the grace period it is killed (137) | config `stop_delay_ms` |
//! | `mock-k8.io/image-pull-error` | `true` or a message: every pull of the pod's images fails | none |
//!
//! Every field but `image-pull-error` also takes the per-container form `<annotation>.<container>`.
//! Values that do not parse are ignored (logged at `warn`), so a typo never breaks a pod.
//! Because every instance of a container gets the same behaviour, an exit code ≠ 0 after a duration
//! under `restartPolicy: Always` is a crash loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ContainerKind;

/// Prefix of every MockDocker annotation.
pub const ANNOTATION_PREFIX: &str = "mock-k8.io/";

/// The runtime config file (`--runtime-config FILE`, YAML or JSON). Every field is optional.
///
/// ```yaml
/// start_delay_ms: 100
/// start_jitter_ms: 100
/// rules:
///   - image: "busybox*"        # glob: `*` any run of characters, `?` one character
///     exit_after_ms: 2000
///     exit_code: 1              # a crash loop under restartPolicy Always
///   - image: "registry.invalid/*"
///     image_pull_error: "manifest unknown"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockDockerConfig {
    /// Milliseconds from `start` to `Running`, before jitter.
    pub start_delay_ms: u64,
    /// Up to this many milliseconds added uniformly at random to each start delay.
    pub start_jitter_ms: u64,
    /// Milliseconds an init container runs before it exits (with code 0 unless told otherwise).
    pub init_exit_after_ms: u64,
    /// Milliseconds an image pull takes.
    pub pull_delay_ms: u64,
    /// Milliseconds a process takes to exit after SIGTERM.
    pub stop_delay_ms: u64,
    /// Capacity of the event channel (events a slow subscriber may fall behind before it lags).
    pub events_capacity: usize,
    /// Seed for the jitter, for reproducible runs; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Per-image rules; the first whose pattern matches wins.
    pub rules: Vec<ImageRule>,
}

impl Default for MockDockerConfig {
    fn default() -> Self {
        MockDockerConfig {
            start_delay_ms: 100,
            start_jitter_ms: 100,
            init_exit_after_ms: 0,
            pull_delay_ms: 0,
            stop_delay_ms: 0,
            events_capacity: 1024,
            seed: None,
            rules: Vec::new(),
        }
    }
}

/// Behaviour for containers whose image matches `image`. Unset fields fall through to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageRule {
    /// Image pattern: exact (`nginx:1.27`) or a glob with `*` and `?` (`busybox*`).
    pub image: String,
    /// Milliseconds from `start` to `Running`.
    pub start_delay_ms: Option<u64>,
    /// Random extra start delay, up to this many milliseconds.
    pub start_jitter_ms: Option<u64>,
    /// The process exits this many milliseconds after it started running.
    pub exit_after_ms: Option<u64>,
    /// Exit code (0–255) of that exit.
    pub exit_code: Option<i32>,
    /// Report the exit as `OOMKilled` (exit code 137 unless `exit_code` says otherwise).
    pub oom_killed: Option<bool>,
    /// Milliseconds the process takes to exit after SIGTERM.
    pub stop_delay_ms: Option<u64>,
    /// Every pull of a matching image fails with this message.
    pub image_pull_error: Option<String>,
}

/// Why the runtime config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read runtime config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML/JSON for [`MockDockerConfig`].
    #[error("invalid runtime config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A value is out of range (an exit code outside 0–255, an empty image pattern).
    #[error("invalid runtime config: {0}")]
    Invalid(String),
}

/// The resolved behaviour of one container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// Time from `start` to `Running`, before jitter.
    pub start_delay: Duration,
    /// Maximum random extra start delay.
    pub start_jitter: Duration,
    /// The process exits by itself this long after it started running; `None`: runs until stopped.
    pub exit_after: Option<Duration>,
    /// The exit code of that exit.
    pub exit_code: i32,
    /// Report that exit as `OOMKilled`.
    pub oom_killed: bool,
    /// Time the process takes to exit after SIGTERM.
    pub stop_delay: Duration,
}

impl MockDockerConfig {
    /// Loads and validates a config file (YAML; JSON is accepted as YAML).
    ///
    /// # Errors
    /// [`ConfigError::Read`], [`ConfigError::Parse`] (unknown fields are rejected), [`ConfigError::Invalid`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<MockDockerConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        MockDockerConfig::from_yaml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates a config from YAML or JSON text.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] (with an empty path), [`ConfigError::Invalid`].
    pub fn from_yaml(text: &str) -> Result<MockDockerConfig, ConfigError> {
        let config: MockDockerConfig = if text.trim().is_empty() {
            MockDockerConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
                path: PathBuf::new(),
                message: e.to_string(),
            })?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges: exit codes in 0–255, non-empty image patterns, `events_capacity` ≥ 1.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the offending rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.events_capacity == 0 {
            return Err(ConfigError::Invalid(
                "events_capacity must be at least 1".into(),
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.image.is_empty() {
                return Err(ConfigError::Invalid(format!("rules[{i}].image is empty")));
            }
            if let Some(code) = rule.exit_code
                && !(0..=255).contains(&code)
            {
                return Err(ConfigError::Invalid(format!(
                    "rules[{i}].exit_code {code} is outside 0-255"
                )));
            }
        }
        Ok(())
    }

    /// The first rule whose pattern matches `image`.
    pub fn rule_for(&self, image: &str) -> Option<&ImageRule> {
        self.rules.iter().find(|r| glob_match(&r.image, image))
    }

    /// Resolves the behaviour of container `container` (image `image`) of a pod with `annotations`,
    /// by the precedence in the module docs.
    pub fn behaviour(
        &self,
        kind: ContainerKind,
        container: &str,
        image: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Behaviour {
        let rule = self.rule_for(image);
        let ann = |field: &str| annotation(annotations, field, container);
        let ms = |field: &str, from_rule: Option<u64>| {
            ann(field)
                .and_then(|v| parse_or_warn::<u64>(field, &v))
                .or(from_rule)
        };
        let oom_killed = ann("oom-killed")
            .and_then(|v| parse_or_warn::<bool>("oom-killed", &v))
            .or(rule.and_then(|r| r.oom_killed))
            .unwrap_or(false);
        let exit_code = ann("exit-code")
            .and_then(|v| parse_or_warn::<i32>("exit-code", &v))
            .filter(|c| (0..=255).contains(c))
            .or(rule.and_then(|r| r.exit_code))
            .unwrap_or(if oom_killed { 137 } else { 0 });
        let default_exit = match kind {
            ContainerKind::Init => Some(self.init_exit_after_ms),
            ContainerKind::App => None,
        };
        Behaviour {
            start_delay: Duration::from_millis(
                ms("start-delay-ms", rule.and_then(|r| r.start_delay_ms))
                    .unwrap_or(self.start_delay_ms),
            ),
            start_jitter: Duration::from_millis(
                ms("start-jitter-ms", rule.and_then(|r| r.start_jitter_ms))
                    .unwrap_or(self.start_jitter_ms),
            ),
            exit_after: ms("exit-after-ms", rule.and_then(|r| r.exit_after_ms))
                .or(default_exit)
                .map(Duration::from_millis),
            exit_code,
            oom_killed,
            stop_delay: Duration::from_millis(
                ms("stop-delay-ms", rule.and_then(|r| r.stop_delay_ms))
                    .unwrap_or(self.stop_delay_ms),
            ),
        }
    }

    /// The simulated pull failure for `image` in a pod with `annotations`, if any: the annotation
    /// `mock-k8.io/image-pull-error` (`true` → a generic message, `false` → none, else the message),
    /// then the matching rule's `image_pull_error`.
    pub fn pull_error(
        &self,
        image: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Option<String> {
        match annotations.get(&format!("{ANNOTATION_PREFIX}image-pull-error")) {
            Some(v) if v.eq_ignore_ascii_case("false") => None,
            Some(v) if v.eq_ignore_ascii_case("true") || v.is_empty() => Some(format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"
            )),
            Some(v) => Some(v.clone()),
            None => self
                .rule_for(image)
                .and_then(|r| r.image_pull_error.clone()),
        }
    }
}

/// `mock-k8.io/<field>.<container>`, else `mock-k8.io/<field>`.
fn annotation(
    annotations: &BTreeMap<String, String>,
    field: &str,
    container: &str,
) -> Option<String> {
    annotations
        .get(&format!("{ANNOTATION_PREFIX}{field}.{container}"))
        .or_else(|| annotations.get(&format!("{ANNOTATION_PREFIX}{field}")))
        .map(|v| v.trim().to_string())
}

fn parse_or_warn<T: std::str::FromStr>(field: &str, value: &str) -> Option<T> {
    let parsed = value.parse::<T>().ok();
    if parsed.is_none() {
        tracing::warn!(annotation = %format!("{ANNOTATION_PREFIX}{field}"), value, "ignoring unparsable MockDocker annotation");
    }
    parsed
}

/// Glob match over characters: `*` matches any run (also empty), `?` exactly one character; every
/// other character matches itself. Linear-time greedy algorithm with one backtrack point.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
