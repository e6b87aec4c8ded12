//! The registry: who is alive, of which kind, able to do what. It lives on the bus: every node
//! publishes heartbeats to `cadre.heartbeats`, and every node (and `cadre agents list`) folds
//! them into the same view.

use std::collections::BTreeMap;
use std::time::Duration;

use cadre_core::{AgentId, AgentKind, Capability};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::protocol::{Health, Heartbeat, InstanceInfo, NodeState};

fn expand(beat: &Heartbeat) -> impl Iterator<Item = InstanceInfo> + '_ {
    beat.kinds.iter().flat_map(|k| {
        k.instances.iter().map(move |i| InstanceInfo {
            id: i.id.clone(),
            kind: k.kind.clone(),
            capabilities: k.capabilities.clone(),
            health: match &k.failed {
                Some(reason) => Health::Failing(vec![reason.clone()]),
                None => i.health.clone(),
            },
            in_flight: i.in_flight,
            done: i.done,
            restarts: i.restarts,
        })
    })
}

/// One agent instance in the registry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registered {
    /// What its node last said about it.
    #[serde(flatten)]
    pub info: InstanceInfo,
    /// Its node.
    pub node: AgentId,
    /// The node's state.
    pub node_state: NodeState,
    /// When its node last beat.
    pub last_seen: DateTime<Utc>,
    /// Whether it missed too many heartbeats.
    pub alive: bool,
}

#[derive(Debug, Clone)]
struct NodeEntry {
    beat: Heartbeat,
}

/// A view of every node's last heartbeat.
///
/// An instance is alive while its node's last heartbeat is younger than `missed` heartbeat
/// intervals and still lists it; a node that stopped or was scaled down says so in its next
/// beat, and the instance leaves the registry (deregistration).
#[derive(Debug, Clone)]
pub struct Registry {
    missed: u32,
    nodes: BTreeMap<AgentId, NodeEntry>,
}

impl Registry {
    /// An empty registry that declares an instance dead after `missed` heartbeats.
    pub fn new(missed: u32) -> Self {
        Self {
            missed: missed.max(1),
            nodes: BTreeMap::new(),
        }
    }

    /// Takes in a heartbeat (older beats of a node than the one held are ignored).
    pub fn observe(&mut self, beat: Heartbeat) {
        match self.nodes.get_mut(&beat.node) {
            Some(entry) if entry.beat.at > beat.at => {}
            Some(entry) => entry.beat = beat,
            None => {
                self.nodes.insert(beat.node.clone(), NodeEntry { beat });
            }
        }
    }

    fn deadline(&self, beat: &Heartbeat) -> DateTime<Utc> {
        let window = Duration::from_millis(beat.interval_ms.saturating_mul(u64::from(self.missed)));
        beat.at + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
    }

    /// Whether node `node` is alive at `now`.
    pub fn node_alive(&self, node: &AgentId, now: DateTime<Utc>) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|e| e.beat.state != NodeState::Stopped && self.deadline(&e.beat) >= now)
    }

    /// Every registered instance (alive or not, stopped nodes left out), ordered by kind and id.
    pub fn instances(&self, now: DateTime<Utc>) -> Vec<Registered> {
        let mut out: Vec<Registered> = self
            .nodes
            .values()
            .filter(|e| e.beat.state != NodeState::Stopped)
            .flat_map(|e| {
                let alive = self.deadline(&e.beat) >= now;
                expand(&e.beat).map(move |info| Registered {
                    info,
                    node: e.beat.node.clone(),
                    node_state: e.beat.state,
                    last_seen: e.beat.at,
                    alive,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.info.kind, &a.info.id).cmp(&(&b.info.kind, &b.info.id)));
        out
    }

    /// Live instances of `kind`.
    pub fn by_kind(&self, kind: &AgentKind, now: DateTime<Utc>) -> Vec<Registered> {
        self.instances(now)
            .into_iter()
            .filter(|r| r.alive && &r.info.kind == kind)
            .collect()
    }

    /// Live instances offering capability `name` (any version).
    pub fn by_capability(&self, name: &str, now: DateTime<Utc>) -> Vec<Registered> {
        self.instances(now)
            .into_iter()
            .filter(|r| r.alive && r.info.capabilities.iter().any(|c| c.name == name))
            .collect()
    }

    /// The kinds offering capability `name` that have live, unfailed instances.
    pub fn kinds_for(&self, name: &str, now: DateTime<Utc>) -> Vec<AgentKind> {
        let mut kinds: Vec<AgentKind> = self
            .nodes
            .values()
            .filter(|e| e.beat.state != NodeState::Stopped && self.deadline(&e.beat) >= now)
            .flat_map(|e| e.beat.kinds.iter())
            .filter(|k| {
                k.failed.is_none() && !k.instances.is_empty() && offers(&k.capabilities, name)
            })
            .map(|k| k.kind.clone())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// The live nodes hosting unfailed instances that offer capability `name`.
    pub fn nodes_for(&self, name: &str, now: DateTime<Utc>) -> Vec<AgentId> {
        self.nodes
            .values()
            .filter(|e| e.beat.state == NodeState::Running && self.deadline(&e.beat) >= now)
            .filter(|e| {
                e.beat.kinds.iter().any(|k| {
                    k.failed.is_none() && !k.instances.is_empty() && offers(&k.capabilities, name)
                })
            })
            .map(|e| e.beat.node.clone())
            .collect()
    }

    /// The node hosting live instance `agent`.
    pub fn node_of(&self, agent: &AgentId, now: DateTime<Utc>) -> Option<AgentId> {
        self.nodes
            .values()
            .filter(|e| e.beat.state != NodeState::Stopped && self.deadline(&e.beat) >= now)
            .find(|e| {
                e.beat
                    .kinds
                    .iter()
                    .any(|k| k.instances.iter().any(|i| &i.id == agent))
            })
            .map(|e| e.beat.node.clone())
    }

    /// The nodes heard from, with their state and whether they are alive.
    pub fn nodes(&self, now: DateTime<Utc>) -> Vec<(AgentId, NodeState, bool)> {
        self.nodes
            .values()
            .map(|e| {
                (
                    e.beat.node.clone(),
                    e.beat.state,
                    e.beat.state != NodeState::Stopped && self.deadline(&e.beat) >= now,
                )
            })
            .collect()
    }
}

/// Whether `caps` offers capability `name`.
pub(crate) fn offers(caps: &[Capability], name: &str) -> bool {
    caps.iter().any(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{InstanceBeat, KindBeat};

    fn beat(node: &str, at_ms: i64, state: NodeState, ids: &[(&str, &str, &str)]) -> Heartbeat {
        Heartbeat {
            node: AgentId::new(node).unwrap(),
            crew: None,
            state,
            interval_ms: 1000,
            at: DateTime::from_timestamp_millis(at_ms).unwrap(),
            kinds: ids
                .iter()
                .map(|(id, kind, cap)| KindBeat {
                    kind: AgentKind::new(kind).unwrap(),
                    capabilities: vec![Capability::new(*cap, "1.0.0").unwrap()],
                    failed: None,
                    instances: vec![InstanceBeat {
                        id: AgentId::new(id).unwrap(),
                        health: Health::Ready,
                        in_flight: 0,
                        done: 0,
                        restarts: 0,
                    }],
                })
                .collect(),
        }
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn instances_die_after_missed_heartbeats_and_leave_when_deregistered() {
        let mut r = Registry::new(3);
        r.observe(beat(
            "n1",
            10_000,
            NodeState::Running,
            &[("a-1", "a", "x.do")],
        ));
        r.observe(beat(
            "n2",
            10_500,
            NodeState::Running,
            &[("b-1", "b", "x.do"), ("b-2", "b", "y.do")],
        ));
        assert_eq!(r.by_capability("x.do", at(12_000)).len(), 2);
        assert_eq!(r.kinds_for("x.do", at(12_000)).len(), 2);
        // n1 beat at 10 s with a 1 s interval: alive until 13 s, dead after.
        assert!(r.node_alive(&AgentId::new("n1").unwrap(), at(13_000)));
        assert!(!r.node_alive(&AgentId::new("n1").unwrap(), at(13_001)));
        let live = r.by_capability("x.do", at(13_200));
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].info.id.as_str(), "b-1");
        assert_eq!(
            r.instances(at(13_200)).iter().filter(|i| !i.alive).count(),
            1
        );
        // An older beat does not overwrite a newer one.
        r.observe(beat("n2", 9_000, NodeState::Running, &[]));
        assert_eq!(
            r.by_kind(&AgentKind::new("b").unwrap(), at(11_000)).len(),
            2
        );
        // b-2 scaled down: the next beat no longer lists it.
        r.observe(beat(
            "n2",
            11_500,
            NodeState::Running,
            &[("b-1", "b", "x.do")],
        ));
        assert_eq!(
            r.by_kind(&AgentKind::new("b").unwrap(), at(12_000)).len(),
            1
        );
        assert_eq!(
            r.node_of(&AgentId::new("b-1").unwrap(), at(12_000))
                .unwrap()
                .as_str(),
            "n2"
        );
        // A stopped node deregisters everything at once.
        r.observe(beat(
            "n2",
            12_000,
            NodeState::Stopped,
            &[("b-1", "b", "x.do")],
        ));
        let left: Vec<_> = r.by_capability("x.do", at(12_001));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].node.as_str(), "n1", "only n1's agent is left");
        assert!(
            r.node_of(&AgentId::new("b-1").unwrap(), at(12_001))
                .is_none()
        );
    }

    #[test]
    fn health_takes_the_worst_with_every_reason() {
        let h = Health::Ready
            .worst(Health::Degraded(vec!["slow".into()]))
            .worst(Health::Ready);
        assert_eq!(h, Health::Degraded(vec!["slow".into()]));
        let h = h.worst(Health::Failing(vec!["crashed".into()]));
        assert_eq!(h.as_str(), "failing");
        assert_eq!(h.reasons(), ["slow".to_string(), "crashed".to_string()]);
    }
}
