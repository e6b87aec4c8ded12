//! Contract Net: announce a task to capable agents, collect bids until a deadline, award the
//! best, tell the others they lost, and re-announce when the winner fails or misses its
//! deadline.
//!
//! [`Auction`] is a pure state machine: [`Auction::handle`] takes an [`Event`] (with the time
//! it happened) and returns the [`Action`]s the runtime must perform (send an announce, an
//! award, a reject; report the outcome). It does no I/O and reads no clock, so every rule below
//! is tested directly, and a recorded event log replays to the same decisions.
//!
//! Rules:
//! - The best bid has the highest score (confidence per second of estimated time, see
//!   [`Bid::score`]); ties go to the higher confidence, then the shorter estimate, then the
//!   lower agent id, so the same bids always give the same award.
//! - Bids that cannot handle the task, from agents excluded after failing it, or arriving after
//!   the bid deadline are not considered; a late bidder is told it lost.
//! - Nobody bids: the auction fails with a clear `not_found` error naming the task and the
//!   capability.
//! - The winner fails, or has not reported by its execution deadline: it is excluded and the
//!   task is announced again, up to `max_rounds`; then the auction fails with `unavailable`.
//!
//! ```
//! use std::time::Duration;
//! use cadre_core::{AgentId, Bid, Payload, Task};
//! use cadre_runtime::contract_net::{Action, Auction, AuctionConfig, Event};
//!
//! let task = Task::with_payload("pricing.options", Payload::empty("book"));
//! let mut auction = Auction::new(task, AuctionConfig::default());
//! let t0 = Duration::from_secs(100);
//! let actions = auction.handle(Event::Start, t0);
//! assert!(matches!(actions[0], Action::Announce { round: 1, .. }));
//!
//! let fast = AgentId::new("pricer-fast").unwrap();
//! let slow = AgentId::new("pricer-slow").unwrap();
//! auction.handle(Event::Bid { agent: slow.clone(), bid: Bid::accept(0.9, Duration::from_secs(2)) }, t0);
//! auction.handle(Event::Bid { agent: fast.clone(), bid: Bid::accept(0.8, Duration::from_millis(50)) }, t0);
//! let actions = auction.handle(Event::Tick, t0 + Duration::from_secs(1));
//! assert!(actions.contains(&Action::Award { agent: fast.clone(), round: 1, due: t0 + Duration::from_secs(11) }));
//! assert!(actions.contains(&Action::Reject { agent: slow }));
//! let actions = auction.handle(Event::Completed { agent: fast.clone() }, t0 + Duration::from_secs(2));
//! assert_eq!(actions, vec![Action::Completed { agent: fast }]);
//! ```

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::Duration;

use cadre_core::{AgentId, Bid, Error, ErrorCode, Task};

/// How an auction runs.
#[derive(Debug, Clone, PartialEq)]
pub struct AuctionConfig {
    /// How long bids are collected after each announce.
    pub bid_window: Duration,
    /// The winner must report within `estimate × slack`...
    pub execution_slack: f64,
    /// ...but never less than this.
    pub min_execution: Duration,
    /// Announce rounds before giving up (the first included).
    pub max_rounds: u32,
}

impl Default for AuctionConfig {
    fn default() -> Self {
        Self {
            bid_window: Duration::from_millis(500),
            execution_slack: 3.0,
            min_execution: Duration::from_secs(10),
            max_rounds: 3,
        }
    }
}

/// Something that happened to an auction. Times are passed to [`Auction::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Begin: announce the task.
    Start,
    /// An agent answered the announce.
    Bid {
        /// The bidder.
        agent: AgentId,
        /// Its offer.
        bid: Bid,
    },
    /// Time passed (the runtime sends one at each deadline the auction gave it).
    Tick,
    /// The winner finished the task.
    Completed {
        /// Who reports it.
        agent: AgentId,
    },
    /// The winner failed the task (an error, or its heartbeats stopped).
    Failed {
        /// Who failed.
        agent: AgentId,
        /// Why.
        error: Error,
    },
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Announce the task to capable agents, except `exclude`; bids close at `bids_until`.
    Announce {
        /// 1 for the first announce, then 2, 3, ...
        round: u32,
        /// When bids close (send a [`Event::Tick`] then).
        bids_until: Duration,
        /// Agents that failed this task already.
        exclude: Vec<AgentId>,
    },
    /// Give the task to `agent`, which must finish by `due` (send a [`Event::Tick`] then).
    Award {
        /// The winner.
        agent: AgentId,
        /// The round it won.
        round: u32,
        /// Its execution deadline.
        due: Duration,
    },
    /// Tell `agent` its bid lost (or came too late).
    Reject {
        /// The loser.
        agent: AgentId,
    },
    /// The auction is over: `agent` did the task.
    Completed {
        /// Who did it.
        agent: AgentId,
    },
    /// The auction is over without a result.
    Failed {
        /// Why.
        error: Error,
    },
}

/// Where an auction stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Collecting bids until the time given.
    Collecting {
        /// When bids close.
        until: Duration,
    },
    /// Waiting for the winner.
    Awarded {
        /// The winner.
        agent: AgentId,
        /// Its deadline.
        due: Duration,
    },
    /// Done, by this agent.
    Completed {
        /// Who did it.
        agent: AgentId,
    },
    /// Given up.
    Failed,
}

/// One task's auction.
#[derive(Debug, Clone)]
pub struct Auction {
    task: Task,
    config: AuctionConfig,
    phase: Phase,
    round: u32,
    bids: Vec<(AgentId, Bid)>,
    excluded: BTreeSet<AgentId>,
}

/// Orders bids best first: score, then confidence, then shorter estimate, then agent id.
fn better(a: &(AgentId, Bid), b: &(AgentId, Bid)) -> Ordering {
    b.1.score()
        .total_cmp(&a.1.score())
        .then(b.1.confidence().total_cmp(&a.1.confidence()))
        .then(a.1.estimated().cmp(&b.1.estimated()))
        .then(a.0.cmp(&b.0))
}

impl Auction {
    /// An auction for `task`, not started.
    pub fn new(task: Task, config: AuctionConfig) -> Self {
        Self {
            task,
            config,
            phase: Phase::Idle,
            round: 0,
            bids: Vec::new(),
            excluded: BTreeSet::new(),
        }
    }

    /// Where it stands.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The task up for auction.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// The current round (0 before the start).
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Whether it is over (completed or failed).
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Completed { .. } | Phase::Failed)
    }

    /// Applies `event`, which happened at `now`, and returns what to do.
    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        match event {
            Event::Start => match self.phase {
                Phase::Idle => vec![self.announce(now)],
                _ => Vec::new(),
            },
            Event::Bid { agent, bid } => self.on_bid(agent, bid, now),
            Event::Tick => self.on_tick(now),
            Event::Completed { agent } => match &self.phase {
                Phase::Awarded { agent: winner, .. } if *winner == agent => {
                    self.phase = Phase::Completed {
                        agent: agent.clone(),
                    };
                    vec![Action::Completed { agent }]
                }
                _ => Vec::new(),
            },
            Event::Failed { agent, error } => match &self.phase {
                Phase::Awarded { agent: winner, .. } if *winner == agent => {
                    self.winner_lost(agent, error, now)
                }
                _ => Vec::new(),
            },
        }
    }

    fn announce(&mut self, now: Duration) -> Action {
        self.round += 1;
        self.bids.clear();
        let until = now + self.config.bid_window;
        self.phase = Phase::Collecting { until };
        Action::Announce {
            round: self.round,
            bids_until: until,
            exclude: self.excluded.iter().cloned().collect(),
        }
    }

    fn on_bid(&mut self, agent: AgentId, bid: Bid, now: Duration) -> Vec<Action> {
        match self.phase {
            Phase::Collecting { until } if now < until => {
                if !bid.can_handle() || self.excluded.contains(&agent) {
                    return Vec::new();
                }
                match self.bids.iter_mut().find(|(a, _)| *a == agent) {
                    Some(existing) => existing.1 = bid,
                    None => self.bids.push((agent, bid)),
                }
                Vec::new()
            }
            // Too late, or already decided: the bidder lost.
            _ if bid.can_handle() => vec![Action::Reject { agent }],
            _ => Vec::new(),
        }
    }

    fn on_tick(&mut self, now: Duration) -> Vec<Action> {
        match &self.phase {
            Phase::Collecting { until } if now >= *until => self.decide(now),
            Phase::Awarded { agent, due } if now >= *due => {
                let agent = agent.clone();
                let error = Error::new(
                    ErrorCode::Timeout,
                    format!("did not finish task {} by its deadline", self.task.id),
                );
                self.winner_lost(agent, error, now)
            }
            _ => Vec::new(),
        }
    }

    fn decide(&mut self, now: Duration) -> Vec<Action> {
        if self.bids.is_empty() {
            self.phase = Phase::Failed;
            let excluded = if self.excluded.is_empty() {
                String::new()
            } else {
                format!(
                    " (excluded after failing it: {})",
                    self.excluded
                        .iter()
                        .map(AgentId::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return vec![Action::Failed {
                error: Error::new(
                    ErrorCode::NotFound,
                    format!(
                        "no agent bid for task {} (capability `{}`) in round {} within {:?}{excluded}",
                        self.task.id, self.task.capability, self.round, self.config.bid_window
                    ),
                ),
            }];
        }
        self.bids.sort_by(better);
        let mut bids = std::mem::take(&mut self.bids).into_iter();
        let (winner, bid) = bids.next().expect("checked non-empty");
        let budget = bid
            .estimated()
            .mul_f64(self.config.execution_slack.max(1.0))
            .max(self.config.min_execution);
        let due = now + budget;
        let mut actions = Vec::with_capacity(1 + bids.len());
        actions.push(Action::Award {
            agent: winner.clone(),
            round: self.round,
            due,
        });
        actions.extend(bids.map(|(agent, _)| Action::Reject { agent }));
        self.phase = Phase::Awarded { agent: winner, due };
        actions
    }

    fn winner_lost(&mut self, agent: AgentId, error: Error, now: Duration) -> Vec<Action> {
        self.excluded.insert(agent.clone());
        if self.round >= self.config.max_rounds {
            self.phase = Phase::Failed;
            return vec![Action::Failed {
                error: Error::new(
                    ErrorCode::Unavailable,
                    format!(
                        "task {} (capability `{}`) failed in all {} rounds; last winner {agent}: {error}",
                        self.task.id, self.task.capability, self.round
                    ),
                ),
            }];
        }
        vec![self.announce(now)]
    }
}

#[cfg(test)]
mod tests {
    use cadre_core::Payload;

    use super::*;

    fn agent(s: &str) -> AgentId {
        AgentId::new(s).unwrap()
    }

    fn auction() -> Auction {
        Auction::new(
            Task::with_payload("risk.size", Payload::empty("order")),
            AuctionConfig::default(),
        )
    }

    const T0: Duration = Duration::from_secs(1000);
    const WINDOW: Duration = Duration::from_millis(500);

    fn bid(a: &mut Auction, who: &str, confidence: f64, ms: u64) {
        let actions = a.handle(
            Event::Bid {
                agent: agent(who),
                bid: Bid::accept(confidence, Duration::from_millis(ms)),
            },
            T0,
        );
        assert!(actions.is_empty());
    }

    fn award(actions: &[Action]) -> Option<(&str, u32)> {
        actions.iter().find_map(|a| match a {
            Action::Award { agent, round, .. } => Some((agent.as_str(), *round)),
            _ => None,
        })
    }

    fn rejected(actions: &[Action]) -> Vec<&str> {
        let mut v: Vec<_> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Reject { agent } => Some(agent.as_str()),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn awards_the_best_score_and_rejects_the_rest() {
        let mut a = auction();
        a.handle(Event::Start, T0);
        bid(&mut a, "slow-sure", 0.95, 4000);
        bid(&mut a, "quick", 0.7, 100);
        bid(&mut a, "middling", 0.8, 1000);
        assert!(
            a.handle(Event::Tick, T0 + WINDOW / 2).is_empty(),
            "still collecting"
        );
        let actions = a.handle(Event::Tick, T0 + WINDOW);
        assert_eq!(award(&actions), Some(("quick", 1)));
        assert_eq!(rejected(&actions), ["middling", "slow-sure"]);
        assert!(matches!(a.phase(), Phase::Awarded { .. }));
    }

    #[test]
    fn ties_are_broken_deterministically() {
        for order in [["b", "a", "c"], ["c", "b", "a"], ["a", "c", "b"]] {
            let mut a = auction();
            a.handle(Event::Start, T0);
            for who in order {
                bid(&mut a, who, 0.5, 500);
            }
            assert_eq!(award(&a.handle(Event::Tick, T0 + WINDOW)), Some(("a", 1)));
        }
        // Same score: the more confident one wins.
        let mut a = auction();
        a.handle(Event::Start, T0);
        bid(&mut a, "a", 0.4, 400);
        bid(&mut a, "b", 0.8, 800);
        assert_eq!(award(&a.handle(Event::Tick, T0 + WINDOW)), Some(("b", 1)));
    }

    #[test]
    fn nobody_bids_is_a_clear_error() {
        let mut a = auction();
        a.handle(Event::Start, T0);
        a.handle(
            Event::Bid {
                agent: agent("cannot"),
                bid: Bid::decline(),
            },
            T0,
        );
        let actions = a.handle(Event::Tick, T0 + WINDOW);
        let [Action::Failed { error }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert_eq!(error.code(), ErrorCode::NotFound);
        assert!(error.to_string().contains("no agent bid"), "{error}");
        assert!(error.to_string().contains("risk.size"), "{error}");
        assert!(a.is_over());
    }

    #[test]
    fn late_bids_lose() {
        let mut a = auction();
        a.handle(Event::Start, T0);
        bid(&mut a, "on-time", 0.5, 100);
        let late = a.handle(
            Event::Bid {
                agent: agent("late"),
                bid: Bid::accept(1.0, Duration::from_millis(1)),
            },
            T0 + WINDOW,
        );
        assert_eq!(rejected(&late), ["late"]);
        assert_eq!(
            award(&a.handle(Event::Tick, T0 + WINDOW)),
            Some(("on-time", 1))
        );
    }

    #[test]
    fn a_failed_winner_is_excluded_and_the_task_announced_again() {
        let mut a = auction();
        a.handle(Event::Start, T0);
        bid(&mut a, "first", 0.9, 100);
        bid(&mut a, "second", 0.5, 100);
        a.handle(Event::Tick, T0 + WINDOW);
        let t1 = T0 + Duration::from_secs(2);
        let actions = a.handle(
            Event::Failed {
                agent: agent("first"),
                error: Error::new(ErrorCode::AgentFailed, "crashed"),
            },
            t1,
        );
        let [
            Action::Announce {
                round: 2, exclude, ..
            },
        ] = actions.as_slice()
        else {
            panic!("{actions:?}")
        };
        assert_eq!(exclude, &[agent("first")]);
        // The failed agent's bid is ignored now.
        a.handle(
            Event::Bid {
                agent: agent("first"),
                bid: Bid::accept(1.0, Duration::from_millis(1)),
            },
            t1,
        );
        a.handle(
            Event::Bid {
                agent: agent("second"),
                bid: Bid::accept(0.5, Duration::from_millis(100)),
            },
            t1,
        );
        let actions = a.handle(Event::Tick, t1 + WINDOW);
        assert_eq!(award(&actions), Some(("second", 2)));
        let done = a.handle(
            Event::Completed {
                agent: agent("second"),
            },
            t1 + WINDOW,
        );
        assert_eq!(
            done,
            vec![Action::Completed {
                agent: agent("second")
            }]
        );
    }

    #[test]
    fn a_winner_that_misses_its_deadline_is_replaced_until_rounds_run_out() {
        let mut a = Auction::new(
            Task::with_payload("x", Payload::empty("y")),
            AuctionConfig {
                max_rounds: 2,
                ..AuctionConfig::default()
            },
        );
        let mut now = T0;
        a.handle(Event::Start, now);
        for round in 1..=2 {
            a.handle(
                Event::Bid {
                    agent: agent(&format!("w{round}")),
                    bid: Bid::accept(0.9, Duration::from_millis(10)),
                },
                now,
            );
            now += WINDOW;
            let actions = a.handle(Event::Tick, now);
            let Some(Action::Award { due, .. }) = actions.first() else {
                panic!("{actions:?}")
            };
            assert_eq!(*due, now + Duration::from_secs(10), "min_execution applies");
            now = *due;
            let actions = a.handle(Event::Tick, now);
            if round == 1 {
                assert!(matches!(actions[0], Action::Announce { round: 2, .. }));
            } else {
                let [Action::Failed { error }] = actions.as_slice() else {
                    panic!("{actions:?}")
                };
                assert_eq!(error.code(), ErrorCode::Unavailable);
                assert!(error.to_string().contains("w2"), "{error}");
            }
        }
        assert!(a.is_over());
    }
}
