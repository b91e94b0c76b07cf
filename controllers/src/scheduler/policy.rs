//! Scheduling policies: named sets of filters and weighted score plugins.
//!
//! A node's total is `Σ normalized_score_p × weight_p` over the policy's score plugins; the
//! scheduler picks the highest total, ties going to the lexicographically lowest node name
//! ([`TIE_BREAK`]). Three policies are built in (`GET /api/v1/scheduler/policies` lists them,
//! `--scheduler-policy NAME` picks the cluster default):
//!
//! | policy | resource score (w=1) | NodeAffinity | TaintToleration | PodSpread |
//! |---|---|---|---|---|
//! | `LeastAllocated` (default) | LeastAllocated | 2 | 3 | 2 |
//! | `MostAllocated` (bin packing) | MostAllocated | 2 | 3 | 2 |
//! | `BalancedAllocation` | BalancedAllocation | 2 | 3 | 2 |
//!
//! The weights are Kubernetes' default-profile weights (NodeResourcesFit 1, NodeAffinity 2,
//! TaintToleration 3, PodTopologySpread 2).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::filters::default_filters;
use super::framework::{FilterPlugin, ScorePlugin};
use super::scores::{
    BalancedAllocation, LeastAllocated, MostAllocated, NodeAffinityScore, PodSpread,
    ResourceWeights, TaintTolerationScore,
};

/// The documented deterministic tie-break between nodes of equal total score.
pub const TIE_BREAK: &str =
    "highest total score; among equal totals, the lexicographically lowest node name";

/// How a node's total score is computed from the plugins' scores.
pub const TOTAL_FORMULA: &str =
    "total = sum over score plugins p of score_p * weight_p (each score_p in 0..=100)";

/// Why a policy could not be built or found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No built-in policy has this name.
    #[error(
        "unknown scheduler policy {0:?}; known policies: LeastAllocated, MostAllocated, BalancedAllocation"
    )]
    UnknownPolicy(String),
    /// A weight is outside `1..=100`.
    #[error("weight {weight} of {plugin} is outside 1..=100")]
    InvalidWeight {
        /// The plugin (or resource) the weight belongs to.
        plugin: String,
        /// The rejected weight.
        weight: i64,
    },
    /// Two score plugins share a name.
    #[error("score plugin {0} appears twice in the policy")]
    DuplicatePlugin(String),
    /// The policy has an empty name.
    #[error("a scheduler policy needs a non-empty name")]
    EmptyName,
}

/// A score plugin and its weight in a policy.
#[derive(Clone)]
pub struct WeightedScore {
    /// The plugin.
    pub plugin: Arc<dyn ScorePlugin>,
    /// Its weight, `1..=100`.
    pub weight: i64,
}

impl fmt::Debug for WeightedScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.plugin.name(), self.weight)
    }
}

/// A named scheduling policy: the filters (in order) and the weighted score plugins.
#[derive(Clone)]
pub struct Policy {
    name: String,
    description: String,
    filters: Vec<Arc<dyn FilterPlugin>>,
    scores: Vec<WeightedScore>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field(
                "filters",
                &self.filters.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field("scores", &self.scores)
            .finish()
    }
}

impl Default for Policy {
    /// The `LeastAllocated` policy.
    fn default() -> Self {
        Policy::least_allocated()
    }
}

/// Name of the default policy.
pub const LEAST_ALLOCATED: &str = "LeastAllocated";
/// Name of the bin-packing policy.
pub const MOST_ALLOCATED: &str = "MostAllocated";
/// Name of the balanced policy.
pub const BALANCED_ALLOCATION: &str = "BalancedAllocation";

impl Policy {
    /// A policy with the [`default_filters`] and the given score plugins.
    ///
    /// # Errors
    /// [`PolicyError::EmptyName`], [`PolicyError::InvalidWeight`] (outside `1..=100`) or
    /// [`PolicyError::DuplicatePlugin`].
    pub fn new(
        name: &str,
        description: &str,
        scores: Vec<WeightedScore>,
    ) -> Result<Policy, PolicyError> {
        if name.is_empty() {
            return Err(PolicyError::EmptyName);
        }
        for (i, s) in scores.iter().enumerate() {
            if !(1..=100).contains(&s.weight) {
                return Err(PolicyError::InvalidWeight {
                    plugin: s.plugin.name().to_owned(),
                    weight: s.weight,
                });
            }
            if scores[..i]
                .iter()
                .any(|o| o.plugin.name() == s.plugin.name())
            {
                return Err(PolicyError::DuplicatePlugin(s.plugin.name().to_owned()));
            }
        }
        Ok(Policy {
            name: name.to_owned(),
            description: description.to_owned(),
            filters: default_filters(),
            scores,
        })
    }

    fn builtin(name: &str, description: &str, resource: Arc<dyn ScorePlugin>) -> Policy {
        Policy {
            name: name.to_owned(),
            description: description.to_owned(),
            filters: default_filters(),
            scores: vec![
                WeightedScore {
                    plugin: resource,
                    weight: 1,
                },
                WeightedScore {
                    plugin: Arc::new(NodeAffinityScore),
                    weight: 2,
                },
                WeightedScore {
                    plugin: Arc::new(TaintTolerationScore),
                    weight: 3,
                },
                WeightedScore {
                    plugin: Arc::new(PodSpread),
                    weight: 2,
                },
            ],
        }
    }

    /// `LeastAllocated` (the default): spread load to the emptiest nodes.
    pub fn least_allocated() -> Policy {
        Policy::builtin(
            LEAST_ALLOCATED,
            "Default. Prefers nodes with the most free cpu and memory, spreading load.",
            Arc::new(LeastAllocated::new(ResourceWeights::default())),
        )
    }

    /// `MostAllocated`: bin packing onto the fullest nodes that still fit.
    pub fn most_allocated() -> Policy {
        Policy::builtin(
            MOST_ALLOCATED,
            "Bin packing. Prefers the fullest nodes that still fit, leaving others empty.",
            Arc::new(MostAllocated::new(ResourceWeights::default())),
        )
    }

    /// `BalancedAllocation`: keep cpu and memory use of each node in proportion.
    pub fn balanced_allocation() -> Policy {
        Policy::builtin(
            BALANCED_ALLOCATION,
            "Prefers nodes whose cpu and memory would be used in equal proportion.",
            Arc::new(BalancedAllocation),
        )
    }

    /// The built-in policy named `name` (ASCII case-insensitive).
    ///
    /// # Errors
    /// [`PolicyError::UnknownPolicy`] for any other name.
    pub fn by_name(name: &str) -> Result<Policy, PolicyError> {
        Policy::all()
            .into_iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| PolicyError::UnknownPolicy(name.to_owned()))
    }

    /// The built-in policies, default first.
    pub fn all() -> Vec<Policy> {
        vec![
            Policy::least_allocated(),
            Policy::most_allocated(),
            Policy::balanced_allocation(),
        ]
    }

    /// The policy's name (`LeastAllocated`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A one-line description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The filters, in the order they run.
    pub fn filters(&self) -> &[Arc<dyn FilterPlugin>] {
        &self.filters
    }

    /// The weighted score plugins.
    pub fn scores(&self) -> &[WeightedScore] {
        &self.scores
    }

    /// `(plugin name, weight)` pairs, as a scheduling decision records them.
    pub fn weights(&self) -> Vec<PluginWeight> {
        self.scores
            .iter()
            .map(|s| PluginWeight {
                name: s.plugin.name().to_owned(),
                weight: s.weight,
            })
            .collect()
    }

    /// The policy as served by `GET /api/v1/scheduler/policies`.
    pub fn describe(&self) -> PolicyDescription {
        PolicyDescription {
            name: self.name.clone(),
            description: self.description.clone(),
            filters: self.filters.iter().map(|f| f.name().to_owned()).collect(),
            plugins: self
                .scores
                .iter()
                .map(|s| PluginDescription {
                    name: s.plugin.name().to_owned(),
                    weight: s.weight,
                    formula: s.plugin.formula(),
                })
                .collect(),
            total: TOTAL_FORMULA.to_owned(),
            tie_break: TIE_BREAK.to_owned(),
        }
    }
}

/// A plugin name and its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginWeight {
    /// The score plugin's name.
    pub name: String,
    /// Its weight.
    pub weight: i64,
}

/// A score plugin as the policies endpoint shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginDescription {
    /// The plugin's name.
    pub name: String,
    /// Its weight in the policy.
    pub weight: i64,
    /// Its formula, as text.
    pub formula: String,
}

/// A policy as `GET /api/v1/scheduler/policies` shows it (camelCase JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDescription {
    /// The policy's name.
    pub name: String,
    /// What it favours.
    pub description: String,
    /// Filter plugin names, in the order they run.
    pub filters: Vec<String>,
    /// Weighted score plugins with formulas.
    pub plugins: Vec<PluginDescription>,
    /// How the total is computed ([`TOTAL_FORMULA`]).
    pub total: String,
    /// The tie-break rule ([`TIE_BREAK`]).
    pub tie_break: String,
}

/// Descriptions of the built-in policies, default first.
pub fn policies() -> Vec<PolicyDescription> {
    Policy::all().iter().map(Policy::describe).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_should_list_builtins_with_formulas_and_weights() {
        let all = policies();
        let names: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [LEAST_ALLOCATED, MOST_ALLOCATED, BALANCED_ALLOCATION]
        );
        let weights: Vec<_> = all[1]
            .plugins
            .iter()
            .map(|p| (p.name.as_str(), p.weight))
            .collect();
        assert_eq!(
            weights,
            [
                ("MostAllocated", 1),
                ("NodeAffinity", 2),
                ("TaintToleration", 3),
                ("PodSpread", 2)
            ]
        );
        assert!(
            all.iter()
                .flat_map(|p| &p.plugins)
                .all(|p| !p.formula.is_empty())
        );
        let json = serde_json::to_value(&all[0]).unwrap();
        assert_eq!(json["tieBreak"], TIE_BREAK);
        assert_eq!(json["filters"][0], "NodeName");
    }

    #[test]
    fn policy_by_name_should_find_builtins_case_insensitively() {
        assert_eq!(
            Policy::by_name("mostallocated").unwrap().name(),
            MOST_ALLOCATED
        );
        assert_eq!(
            Policy::by_name("Spread").unwrap_err(),
            PolicyError::UnknownPolicy("Spread".to_owned())
        );
        assert_eq!(Policy::default().name(), LEAST_ALLOCATED);
    }

    #[test]
    fn policy_new_should_validate_weights_and_names() {
        let w = |weight| WeightedScore {
            plugin: Arc::new(PodSpread),
            weight,
        };
        assert!(matches!(
            Policy::new("x", "", vec![w(0)]),
            Err(PolicyError::InvalidWeight { .. })
        ));
        assert!(matches!(
            Policy::new("x", "", vec![w(1), w(2)]),
            Err(PolicyError::DuplicatePlugin(_))
        ));
        assert_eq!(
            Policy::new("", "", vec![]).unwrap_err(),
            PolicyError::EmptyName
        );
        assert_eq!(
            Policy::new("spread-only", "", vec![w(5)])
                .unwrap()
                .weights()[0]
                .weight,
            5
        );
    }
}
