//! Graph analysis over module indices: strongly connected components with shortest witness
//! cycles, the topological order of the condensation (dependencies first), the critical path
//! (heaviest path), slack per module and priorities.
//!
//! Nodes are `0..n` in id order and an edge `(a, b)` means "a imports b"; every tie is broken
//! by the smaller index, so results are deterministic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// How urgent a module is for work ordered by the critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    /// On the critical path (slack 0).
    Critical,
    /// Slack in the lowest third of the other modules' slacks.
    High,
    /// Slack in the middle third.
    Normal,
    /// Slack in the highest third.
    Low,
}

impl Priority {
    /// `CRITICAL`, `HIGH`, `NORMAL` or `LOW`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Normal => "NORMAL",
            Self::Low => "LOW",
        }
    }
}

/// The analysis of a module graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphReport {
    /// One shortest cycle per non-trivial strongly connected component, starting at the
    /// component's smallest node, ordered by that node.
    pub cycles: Vec<Vec<usize>>,
    /// Every node, dependencies before their importers (components in topological order of
    /// the condensation, ties and members by index).
    pub order: Vec<usize>,
    /// The heaviest dependency chain, dependencies first (a component on it contributes all
    /// its members).
    pub critical_path: Vec<usize>,
    /// The critical path's weight.
    pub critical_length: u64,
    /// Per node: critical length − the heaviest chain through the node's component.
    pub slack: Vec<u64>,
    /// Per node.
    pub priority: Vec<Priority>,
}

/// Analyses `n` nodes with `weights` and `edges` (`(importer, imported)`; duplicates and
/// self-loops are ignored).
pub fn analyze(n: usize, weights: &[u64], edges: &[(usize, usize)]) -> GraphReport {
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a != b && a < n && b < n {
            adj[a].push(b);
        }
    }
    for list in &mut adj {
        list.sort_unstable();
        list.dedup();
    }
    let (components, comp_of) = components(&adj);

    let cycles: Vec<Vec<usize>> = components
        .iter()
        .filter(|c| c.len() > 1)
        .filter_map(|c| shortest_cycle(c[0], &adj, &comp_of))
        .collect();

    // Condensation: deps[c] = components c imports, dependents[c] = components importing c.
    let k = components.len();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (a, list) in adj.iter().enumerate() {
        for &b in list {
            let (ca, cb) = (comp_of[a], comp_of[b]);
            if ca != cb {
                deps[ca].push(cb);
                dependents[cb].push(ca);
            }
        }
    }
    for list in deps.iter_mut().chain(dependents.iter_mut()) {
        list.sort_unstable();
        list.dedup();
    }

    // Kahn's algorithm, dependencies first; components are numbered by smallest member, so the
    // heap's smallest number is the smallest id.
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..k).filter(|&c| remaining[c] == 0).map(Reverse).collect();
    let mut comp_order = Vec::with_capacity(k);
    while let Some(Reverse(c)) = ready.pop() {
        comp_order.push(c);
        for &p in &dependents[c] {
            remaining[p] -= 1;
            if remaining[p] == 0 {
                ready.push(Reverse(p));
            }
        }
    }
    let order: Vec<usize> = comp_order
        .iter()
        .flat_map(|&c| components[c].iter().copied())
        .collect();

    let weight: Vec<u64> = components
        .iter()
        .map(|m| {
            m.iter()
                .map(|&i| weights.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    // down[c]: heaviest chain from c through its dependencies; up[c]: through its importers.
    let mut down = vec![0u64; k];
    for &c in &comp_order {
        let best = deps[c].iter().map(|&d| down[d]).max().unwrap_or(0);
        down[c] = weight[c].saturating_add(best);
    }
    let mut up = vec![0u64; k];
    for &c in comp_order.iter().rev() {
        let best = dependents[c].iter().map(|&p| up[p]).max().unwrap_or(0);
        up[c] = weight[c].saturating_add(best);
    }
    let critical_length = down.iter().copied().max().unwrap_or(0);
    let mut path_comps = Vec::new();
    if let Some(mut c) = (0..k).find(|&c| down[c] == critical_length && up[c] == weight[c]) {
        path_comps.push(c);
        loop {
            let want = down[c] - weight[c];
            match deps[c].iter().copied().find(|&d| down[d] == want) {
                Some(d) => {
                    path_comps.push(d);
                    c = d;
                }
                _ => break,
            }
        }
    }
    path_comps.reverse();
    let critical_path: Vec<usize> = path_comps
        .iter()
        .flat_map(|&c| components[c].iter().copied())
        .collect();

    let comp_slack: Vec<u64> = (0..k)
        .map(|c| critical_length.saturating_sub(up[c] + down[c] - weight[c]))
        .collect();
    let slack: Vec<u64> = (0..n).map(|i| comp_slack[comp_of[i]]).collect();
    let mut on_path = vec![false; n];
    for &i in &critical_path {
        on_path[i] = true;
    }
    let mut others: Vec<u64> = (0..n).filter(|&i| !on_path[i]).map(|i| slack[i]).collect();
    others.sort_unstable();
    let cut = |fraction: usize| -> u64 {
        if others.is_empty() {
            return 0;
        }
        let idx = (others.len() * fraction).div_ceil(3).saturating_sub(1);
        others[idx.min(others.len() - 1)]
    };
    let (t1, t2) = (cut(1), cut(2));
    let priority = (0..n)
        .map(|i| {
            if on_path[i] {
                Priority::Critical
            } else if slack[i] <= t1 {
                Priority::High
            } else if slack[i] <= t2 {
                Priority::Normal
            } else {
                Priority::Low
            }
        })
        .collect();
    GraphReport {
        cycles,
        order,
        critical_path,
        critical_length,
        slack,
        priority,
    }
}

/// The strongly connected components of the graph with successor lists `adj` (members sorted,
/// components ordered by their smallest member) and each node's component.
pub fn components(adj: &[Vec<usize>]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let n = adj.len();
    let mut graph: DiGraph<(), ()> =
        DiGraph::with_capacity(n, adj.iter().map(Vec::len).sum::<usize>());
    for _ in 0..n {
        graph.add_node(());
    }
    for (a, list) in adj.iter().enumerate() {
        for &b in list {
            if b < n {
                graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
            }
        }
    }
    let mut components: Vec<Vec<usize>> = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .map(|c| {
            let mut m: Vec<usize> = c.into_iter().map(NodeIndex::index).collect();
            m.sort_unstable();
            m
        })
        .collect();
    components.sort_by_key(|c| c[0]);
    let mut comp_of = vec![0usize; n];
    for (ci, members) in components.iter().enumerate() {
        for &m in members {
            comp_of[m] = ci;
        }
    }
    (components, comp_of)
}

/// The shortest cycle through `start` inside its component (breadth-first, successors in
/// index order), as `[start, ..]` without repeating `start`.
fn shortest_cycle(start: usize, adj: &[Vec<usize>], comp_of: &[usize]) -> Option<Vec<usize>> {
    let comp = comp_of[start];
    let mut prev: Vec<Option<usize>> = vec![None; adj.len()];
    let mut seen = vec![false; adj.len()];
    let mut queue = VecDeque::from([start]);
    seen[start] = true;
    while let Some(u) = queue.pop_front() {
        for &v in &adj[u] {
            if comp_of[v] != comp {
                continue;
            }
            if v == start {
                let mut cycle = vec![u];
                let mut at = u;
                while let Some(p) = prev[at] {
                    cycle.push(p);
                    at = p;
                }
                cycle.reverse();
                return Some(cycle);
            }
            if !seen[v] {
                seen[v] = true;
                prev[v] = Some(u);
                queue.push_back(v);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_witness_cycle_is_found_in_each_component() {
        // 0 → 1 → 2 → 3 → 0 and the chord 1 → 0: the shortest cycle through 0 is [0, 1].
        // 4 ↔ 5 is another component; 6 is acyclic.
        let edges = [
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 0),
            (1, 0),
            (4, 5),
            (5, 4),
            (6, 4),
        ];
        let r = analyze(7, &[1; 7], &edges);
        assert_eq!(r.cycles, vec![vec![0, 1], vec![4, 5]]);
    }

    #[test]
    fn cycle_witness_follows_the_shortest_route_not_the_first() {
        // 0 → 1 → 2 → 0 (length 3) and 0 → 3 → 0 (length 2).
        let edges = [(0, 1), (1, 2), (2, 0), (0, 3), (3, 0)];
        let r = analyze(4, &[1; 4], &edges);
        assert_eq!(r.cycles, vec![vec![0, 3]]);
    }

    #[test]
    fn order_puts_dependencies_first_with_ties_by_index() {
        // 0 imports 2, 1 imports 2, 2 imports 3; 4 is alone.
        let edges = [(0, 2), (1, 2), (2, 3)];
        let r = analyze(5, &[1; 5], &edges);
        assert_eq!(r.order, vec![3, 2, 0, 1, 4]);
    }

    #[test]
    fn critical_path_and_slack_on_a_hand_computed_dag() {
        // Weights: a=5 b=3 c=10 d=2 e=4 f=1.
        // a → b → d, a → c → d, e → d, f alone.
        // Chains (importer to leaf): a-c-d = 17, a-b-d = 10, e-d = 6, f = 1.
        let (a, b, c, d, e, f) = (0, 1, 2, 3, 4, 5);
        let weights = [5, 3, 10, 2, 4, 1];
        let edges = [(a, b), (a, c), (b, d), (c, d), (e, d)];
        let r = analyze(6, &weights, &edges);
        assert_eq!(r.critical_length, 17);
        assert_eq!(r.critical_path, vec![d, c, a]);
        // Through b: 5 + 3 + 2 = 10 → slack 7; through e: 6 → 11; through f: 1 → 16.
        assert_eq!(r.slack, vec![0, 7, 0, 0, 11, 16]);
        assert_eq!(r.priority[a], Priority::Critical);
        assert_eq!(r.priority[c], Priority::Critical);
        assert_eq!(r.priority[d], Priority::Critical);
        // Others' slacks sorted: 7, 11, 16 → terciles 7 | 11 | 16.
        assert_eq!(r.priority[b], Priority::High);
        assert_eq!(r.priority[e], Priority::Normal);
        assert_eq!(r.priority[f], Priority::Low);
    }

    #[test]
    fn a_cycle_counts_as_one_unit_of_the_critical_path() {
        // 0 ↔ 1 (weights 2 + 3) imports 2 (weight 4): path [2, 0, 1], length 9.
        let edges = [(0, 1), (1, 0), (1, 2)];
        let r = analyze(3, &[2, 3, 4], &edges);
        assert_eq!(r.critical_length, 9);
        assert_eq!(r.critical_path, vec![2, 0, 1]);
        assert_eq!(r.order, vec![2, 0, 1]);
        assert_eq!(r.slack, vec![0, 0, 0]);
    }

    #[test]
    fn empty_graph_has_no_path() {
        let r = analyze(0, &[], &[]);
        assert!(r.order.is_empty() && r.critical_path.is_empty() && r.cycles.is_empty());
        assert_eq!(r.critical_length, 0);
    }
}
