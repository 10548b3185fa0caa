//! Redis's latency monitor: operations that took at least `latency-monitor-threshold`
//! milliseconds are recorded per event class ("command", "fast-command", "expire-cycle",
//! "eviction-cycle"), one sample per second (the worst of that second), the last 160 kept,
//! with the worst ever seen; LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR read them.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event (Redis's LATENCY_TS_LEN).
const SAMPLES: usize = 160;

/// One event's recent history.
#[derive(Debug, Clone, Default)]
pub struct EventSeries {
    /// (unix seconds, milliseconds), oldest first, at most one per second.
    pub samples: VecDeque<(u64, u64)>,
    /// The worst latency ever recorded for the event, in milliseconds.
    pub max: u64,
}

/// The latency monitor of a server.
#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<String, EventSeries>>,
}

impl LatencyMonitor {
    /// Records `event` when `ms` reaches `threshold` (`latency-monitor-threshold`; 0 is
    /// off).
    pub fn add_sample_if_needed(&self, threshold: u64, event: &str, ms: u64) {
        if threshold == 0 || ms < threshold {
            return;
        }
        let now = crate::base::now_ms() / 1000;
        let mut events = self.events.lock();
        let series = events.entry(event.to_string()).or_default();
        series.max = series.max.max(ms);
        match series.samples.back_mut() {
            Some((t, worst)) if *t == now => *worst = (*worst).max(ms),
            _ => {
                if series.samples.len() == SAMPLES {
                    series.samples.pop_front();
                }
                series.samples.push_back((now, ms));
            }
        }
    }

    /// Every event's latest sample and worst latency: (event, time, latency, max).
    pub fn latest(&self) -> Vec<(String, u64, u64, u64)> {
        self.events
            .lock()
            .iter()
            .filter_map(|(name, s)| {
                let (t, ms) = *s.samples.back()?;
                Some((name.clone(), t, ms, s.max))
            })
            .collect()
    }

    /// One event's series, if it has samples.
    pub fn series(&self, event: &str) -> Option<EventSeries> {
        self.events.lock().get(event).cloned()
    }

    /// Forgets the named events (every event when `names` is empty); returns how many
    /// existed.
    pub fn reset(&self, names: &[&str]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        names
            .iter()
            .filter(|n| events.remove(**n).is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_over_the_threshold_keep_the_worst_per_second() {
        let m = LatencyMonitor::default();
        m.add_sample_if_needed(0, "command", 500);
        assert!(m.latest().is_empty(), "off while the threshold is 0");
        m.add_sample_if_needed(100, "command", 50);
        assert!(m.latest().is_empty(), "under the threshold");
        m.add_sample_if_needed(100, "command", 300);
        m.add_sample_if_needed(100, "command", 200);
        let latest = m.latest();
        assert_eq!(latest.len(), 1);
        assert_eq!((latest[0].2, latest[0].3), (300, 300));
        assert!(m.series("command").unwrap().samples.len() <= 2);
        assert_eq!(m.reset(&["nope"]), 0);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.latest().is_empty());
    }
}
