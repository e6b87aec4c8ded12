//! DAG scheduling by critical path: tasks with weights and dependencies; cycle detection that
//! names the cycle; a topological order; earliest and latest start, slack and priority per task;
//! the critical path.
//!
//! The schedule is the classic critical-path method (CPM) with unlimited workers: a task can
//! start when every task it depends on has finished; the critical path is the longest chain
//! of dependent work, and a task's slack is how long it can be delayed without delaying the
//! whole. Scheduling critical tasks first (lowest slack first) shortens the makespan when
//! workers are limited.
//!
//! ```
//! use cadre_flow::dag::{Dag, Priority};
//! let mut dag = Dag::new();
//! dag.task("fetch", 2.0)?.task("parse", 3.0)?.task("lint", 1.0)?.task("report", 1.0)?;
//! dag.depends("parse", "fetch")?.depends("lint", "fetch")?;
//! dag.depends("report", "parse")?.depends("report", "lint")?;
//! let s = dag.schedule()?;
//! assert_eq!(s.critical_path, ["fetch", "parse", "report"]);
//! assert_eq!(s.makespan, 6.0);
//! assert_eq!(s.task("lint").unwrap().slack, 2.0);
//! assert_eq!(s.task("parse").unwrap().priority, Priority::Critical);
//! # Ok::<(), cadre_core::Error>(())
//! ```

use std::collections::HashMap;

use cadre_core::{Error, ErrorCode};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// How urgent a task is, from its slack relative to the makespan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// On the critical path (no slack): any delay delays everything.
    Critical,
    /// Slack up to a quarter of the makespan.
    High,
    /// Slack up to half of the makespan.
    Normal,
    /// More slack than that.
    Low,
}

impl Priority {
    /// The level for `slack` in a schedule of length `makespan`.
    pub fn from_slack(slack: f64, makespan: f64) -> Self {
        let eps = 1e-9 * makespan.abs().max(1.0);
        if slack <= eps {
            Priority::Critical
        } else if slack <= 0.25 * makespan + eps {
            Priority::High
        } else if slack <= 0.5 * makespan + eps {
            Priority::Normal
        } else {
            Priority::Low
        }
    }
}

/// A task graph: tasks with weights (durations, lines of code, any cost) and dependencies.
#[derive(Debug, Clone, Default)]
pub struct Dag {
    graph: DiGraph<(String, f64), ()>,
    index: HashMap<String, NodeIndex>,
}

/// One task in a [`Schedule`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    /// The task.
    pub id: String,
    /// Its weight.
    pub weight: f64,
    /// The earliest it can start (all its dependencies done).
    pub earliest_start: f64,
    /// The latest it can start without delaying the whole.
    pub latest_start: f64,
    /// `latest_start - earliest_start`.
    pub slack: f64,
    /// The priority its slack gives it.
    pub priority: Priority,
}

/// A critical-path schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// A topological order (dependencies first; ties in the order tasks were added).
    pub order: Vec<String>,
    /// The longest chain of dependent work, first task first.
    pub critical_path: Vec<String>,
    /// Its total weight: the earliest everything can be done.
    pub makespan: f64,
    /// Every task, in `order`.
    pub slots: Vec<Slot>,
}

impl Schedule {
    /// The slot of task `id`.
    pub fn task(&self, id: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    /// Task ids by priority, then slack, then order: what to start first with few workers.
    pub fn by_priority(&self) -> Vec<&str> {
        let mut v: Vec<(usize, &Slot)> = self.slots.iter().enumerate().collect();
        v.sort_by(|(ia, a), (ib, b)| {
            a.priority
                .cmp(&b.priority)
                .then(a.slack.total_cmp(&b.slack))
                .then(ia.cmp(ib))
        });
        v.into_iter().map(|(_, s)| s.id.as_str()).collect()
    }
}

impl Dag {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds task `id` with `weight` (finite, not negative).
    ///
    /// # Errors
    /// `invalid_input` for a duplicate id, an empty id, or a weight that is negative or not
    /// finite.
    pub fn task(&mut self, id: &str, weight: f64) -> Result<&mut Self, Error> {
        if id.is_empty() {
            return Err(Error::invalid_input("a task id must not be empty"));
        }
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::invalid_input(format!(
                "task `{id}`: weight {weight} must be finite and not negative"
            )));
        }
        if self.index.contains_key(id) {
            return Err(Error::invalid_input(format!("task `{id}` is added twice")));
        }
        let n = self.graph.add_node((id.to_owned(), weight));
        self.index.insert(id.to_owned(), n);
        Ok(self)
    }

    /// Says that `task` needs `on` to finish first.
    ///
    /// # Errors
    /// `not_found` naming an unknown task; `invalid_input` for a task depending on itself.
    pub fn depends(&mut self, task: &str, on: &str) -> Result<&mut Self, Error> {
        let t = self.node(task)?;
        let o = self.node(on)?;
        if t == o {
            return Err(Error::invalid_input(format!(
                "task `{task}` cannot depend on itself"
            )));
        }
        self.graph.update_edge(o, t, ());
        Ok(self)
    }

    fn node(&self, id: &str) -> Result<NodeIndex, Error> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no task `{id}`")))
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether there are no tasks.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// A cycle, if the graph has one: task ids along it, the first repeated at the end
    /// (`a → b → c → a`).
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        // Tarjan's strongly connected components: any component with more than one task holds
        // a cycle; walk it to name one.
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            if scc.len() < 2 {
                continue;
            }
            let inside: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
            let start = *scc.iter().min().expect("non-empty component");
            // Breadth-first from `start` inside the component back to `start`: the shortest
            // cycle through it.
            let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut closing = None;
            while let Some(n) = queue.pop_front() {
                let mut next: Vec<NodeIndex> = self
                    .graph
                    .neighbors(n)
                    .filter(|m| inside.contains(m))
                    .collect();
                next.sort();
                for m in next {
                    if m == start {
                        closing = Some(n);
                        break;
                    }
                    if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(m) {
                        e.insert(n);
                        queue.push_back(m);
                    }
                }
                if closing.is_some() {
                    break;
                }
            }
            let mut path = vec![start];
            let mut at = closing?;
            let mut back = vec![];
            while at != start {
                back.push(at);
                at = prev[&at];
            }
            back.reverse();
            path.extend(back);
            path.push(start);
            return Some(path.into_iter().map(|n| self.graph[n].0.clone()).collect());
        }
        None
    }

    /// The critical-path schedule.
    ///
    /// # Errors
    /// `invalid_input` naming a cycle (`a → b → a`) when the tasks cannot be ordered.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        if let Some(cycle) = self.find_cycle() {
            return Err(Error::invalid_input(format!(
                "the tasks have a dependency cycle: {}",
                cycle.join(" → ")
            )));
        }
        // Kahn's algorithm, ties broken by insertion order (deterministic).
        let n = self.graph.node_count();
        let mut indegree: Vec<usize> = (0..n)
            .map(|i| {
                self.graph
                    .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for m in self.graph.neighbors(NodeIndex::new(i)) {
                indegree[m.index()] -= 1;
                if indegree[m.index()] == 0 {
                    ready.insert(m.index());
                }
            }
        }
        let weight = |i: usize| self.graph[NodeIndex::new(i)].1;
        let mut es = vec![0.0_f64; n];
        let mut best_pred: Vec<Option<usize>> = vec![None; n];
        for &i in &order {
            let mut best: Option<(f64, usize)> = None;
            for p in self
                .graph
                .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
            {
                let p = p.index();
                let finish = es[p] + weight(p);
                match best {
                    Some((f, b)) if finish < f || (finish == f && p > b) => {}
                    _ => best = Some((finish, p)),
                }
            }
            if let Some((finish, p)) = best {
                es[i] = finish;
                best_pred[i] = Some(p);
            }
        }
        let makespan = (0..n).map(|i| es[i] + weight(i)).fold(0.0, f64::max);
        let mut lf = vec![makespan; n];
        for &i in order.iter().rev() {
            for s in self.graph.neighbors(NodeIndex::new(i)) {
                let ls = lf[s.index()] - weight(s.index());
                if ls < lf[i] {
                    lf[i] = ls;
                }
            }
        }
        // The critical path: end at the first task (in order) finishing at the makespan, walk
        // back through the predecessors that set each earliest start.
        let mut critical_path = Vec::new();
        if let Some(&end) = order
            .iter()
            .find(|&&i| (es[i] + weight(i) - makespan).abs() <= 1e-9 * makespan.max(1.0))
        {
            let mut at = Some(end);
            while let Some(i) = at {
                critical_path.push(self.graph[NodeIndex::new(i)].0.clone());
                at = best_pred[i];
            }
            critical_path.reverse();
        }
        let slots = order
            .iter()
            .map(|&i| {
                let latest_start = lf[i] - weight(i);
                let slack = (latest_start - es[i]).max(0.0);
                Slot {
                    id: self.graph[NodeIndex::new(i)].0.clone(),
                    weight: weight(i),
                    earliest_start: es[i],
                    latest_start,
                    slack,
                    priority: Priority::from_slack(slack, makespan),
                }
            })
            .collect();
        Ok(Schedule {
            order: order
                .iter()
                .map(|&i| self.graph[NodeIndex::new(i)].0.clone())
                .collect(),
            critical_path,
            makespan,
            slots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_named_shortest_first() {
        let mut d = Dag::new();
        for t in ["a", "b", "c", "d"] {
            d.task(t, 1.0).unwrap();
        }
        d.depends("b", "a").unwrap();
        d.depends("c", "b").unwrap();
        d.depends("a", "c").unwrap();
        d.depends("d", "a").unwrap();
        let cycle = d.find_cycle().unwrap();
        assert_eq!(cycle, ["a", "b", "c", "a"]);
        let err = d.schedule().unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.to_string().contains("a → b → c → a"), "{err}");
    }

    #[test]
    fn bad_input_is_refused_with_names() {
        let mut d = Dag::new();
        d.task("a", 1.0).unwrap();
        assert!(d.task("a", 2.0).unwrap_err().to_string().contains("`a`"));
        assert!(d.task("b", -1.0).is_err());
        assert!(d.task("c", f64::NAN).is_err());
        assert!(d.task("", 1.0).is_err());
        assert_eq!(
            d.depends("a", "zz").unwrap_err().code(),
            ErrorCode::NotFound
        );
        assert!(d.depends("a", "a").is_err());
    }

    #[test]
    fn an_empty_graph_and_independent_tasks() {
        let s = Dag::new().schedule().unwrap();
        assert_eq!((s.makespan, s.order.len()), (0.0, 0));
        let mut d = Dag::new();
        d.task("x", 5.0).unwrap().task("y", 2.0).unwrap();
        let s = d.schedule().unwrap();
        assert_eq!(s.makespan, 5.0);
        assert_eq!(s.critical_path, ["x"]);
        assert_eq!(s.task("y").unwrap().slack, 3.0);
        assert_eq!(s.task("y").unwrap().priority, Priority::Low);
        assert_eq!(s.by_priority(), ["x", "y"]);
    }

    #[test]
    fn priorities_follow_slack() {
        assert_eq!(Priority::from_slack(0.0, 10.0), Priority::Critical);
        assert_eq!(Priority::from_slack(2.5, 10.0), Priority::High);
        assert_eq!(Priority::from_slack(5.0, 10.0), Priority::Normal);
        assert_eq!(Priority::from_slack(5.1, 10.0), Priority::Low);
    }
}
