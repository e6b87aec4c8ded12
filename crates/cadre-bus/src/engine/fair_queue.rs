//! Four priority queues served highest first, with a bound on how long a lower level waits.

use std::collections::VecDeque;

/// Ready messages (by offset) of one group, per priority level.
///
/// `pop` serves the highest non-empty level, except that a lower level that has been passed
/// over `bound` times while non-empty is served next (the lowest such level first). So the
/// head of any level is served within `bound + 3` pops, however much higher-priority work
/// keeps arriving.
#[derive(Debug)]
pub(crate) struct FairQueue {
    levels: [VecDeque<u64>; 4],
    skipped: [u32; 4],
    bound: u32,
}

impl FairQueue {
    pub(crate) fn new(bound: u32) -> Self {
        Self {
            levels: Default::default(),
            skipped: [0; 4],
            bound: bound.max(1),
        }
    }

    pub(crate) fn push_back(&mut self, level: usize, offset: u64) {
        self.levels[level].push_back(offset);
    }

    /// For redeliveries: they go ahead of messages not yet delivered.
    pub(crate) fn push_front(&mut self, level: usize, offset: u64) {
        self.levels[level].push_front(offset);
    }

    pub(crate) fn pop(&mut self) -> Option<u64> {
        let highest = (0..4).rev().find(|&l| !self.levels[l].is_empty())?;
        let starved =
            (0..highest).find(|&l| !self.levels[l].is_empty() && self.skipped[l] >= self.bound);
        let serve = starved.unwrap_or(highest);
        for level in 0..4 {
            if level == serve {
                self.skipped[level] = 0;
            } else if !self.levels[level].is_empty() && level < highest {
                self.skipped[level] += 1;
            }
        }
        self.levels[serve].pop_front()
    }

    pub(crate) fn len(&self, level: usize) -> usize {
        self.levels[level].len()
    }

    /// Removes `offset` wherever it waits (rare: used when a message is finished by another
    /// path while queued).
    pub(crate) fn remove(&mut self, level: usize, offset: u64) -> bool {
        if let Some(i) = self.levels[level].iter().position(|&o| o == offset) {
            self.levels[level].remove(i);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_first_in_fifo_order() {
        let mut q = FairQueue::new(8);
        q.push_back(1, 10);
        q.push_back(3, 20);
        q.push_back(1, 11);
        q.push_back(2, 30);
        assert_eq!(q.pop(), Some(20));
        assert_eq!(q.pop(), Some(30));
        assert_eq!(q.pop(), Some(10));
        assert_eq!(q.pop(), Some(11));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_low_message_is_served_within_the_bound_under_sustained_critical_load() {
        for bound in [1, 4, 8, 16] {
            let mut q = FairQueue::new(bound);
            q.push_back(0, 0);
            q.push_back(1, 1);
            q.push_back(2, 2);
            let mut served_low_at = None;
            for pop in 1..=100u64 {
                // Keep the critical level full.
                q.push_back(3, 100 + pop);
                if q.pop() == Some(0) {
                    served_low_at = Some(pop);
                    break;
                }
            }
            let at = served_low_at.expect("low message starved");
            assert!(
                at <= u64::from(bound) + 3,
                "bound {bound}: served at pop {at}"
            );
        }
    }
}
