//! Per-command latency histograms (`latency-tracking`): LATENCY HISTOGRAM and INFO
//! latencystats, as Redis 7.0 keeps them in an HdrHistogram per command (1 ns to 1 s,
//! two significant figures) fed with each call's duration in whole microseconds. The same
//! bucket layout is kept here, so the buckets LATENCY HISTOGRAM reports and the
//! percentiles INFO prints are the numbers stock prints for the same durations. Also the
//! latency monitor's DOCTOR and GRAPH, over the samples `server::latency_monitor` keeps.

use super::table::{Command, SubCommand};
use super::{CmdError, CmdResult, Ctx};
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// HdrHistogram's layout for lowest 1, highest 10^9 and 2 significant figures: 256
/// sub-buckets (the lower half shared between buckets), 23 buckets.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
const SUB_BUCKET_HALF: i64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: i64 = 255;
const BUCKETS: usize = 23;
const COUNTS_LEN: usize = (BUCKETS + 1) * SUB_BUCKET_HALF as usize;
/// Redis's LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE, in nanoseconds.
const MIN_NS: i64 = 1;
const MAX_NS: i64 = 1_000_000_000;

/// One command's latency histogram. The 24 KiB of counters are allocated at the first
/// call (as Redis allocates its histogram lazily), so commands never called cost none.
#[derive(Default)]
pub struct LatencyHistogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencyHistogram({} calls)", self.total())
    }
}

fn bucket_index(v: i64) -> i64 {
    // 64 - leading zeros of (v | mask), minus (half magnitude + 1); unit magnitude 0.
    (64 - (v | SUB_BUCKET_MASK).leading_zeros() as i64) - (SUB_BUCKET_HALF_MAGNITUDE as i64 + 1)
}

fn counts_index(v: i64) -> usize {
    let b = bucket_index(v);
    let sub = v >> b;
    (((b + 1) << SUB_BUCKET_HALF_MAGNITUDE) + (sub - SUB_BUCKET_HALF)) as usize
}

fn value_at_index(index: usize) -> i64 {
    let mut b = (index as i64 >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
    let mut sub = (index as i64 & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if b < 0 {
        sub -= SUB_BUCKET_HALF;
        b = 0;
    }
    sub << b
}

fn lowest_equivalent(v: i64) -> i64 {
    let b = bucket_index(v);
    (v >> b) << b
}

fn highest_equivalent(v: i64) -> i64 {
    let b = bucket_index(v);
    let sub = v >> b;
    let adjusted = if sub >= 2 * SUB_BUCKET_HALF { b + 1 } else { b };
    lowest_equivalent(v) + (1i64 << adjusted) - 1
}

impl LatencyHistogram {
    /// An empty histogram (usable in the static command tables).
    pub const fn new() -> Self {
        LatencyHistogram {
            counts: OnceLock::new(),
        }
    }

    /// Records one call that took `ns` nanoseconds, counted in whole microseconds as
    /// Redis measures them.
    pub fn record(&self, ns: u64) {
        let v = ((ns / 1000).saturating_mul(1000) as i64).clamp(MIN_NS, MAX_NS);
        let counts = self
            .counts
            .get_or_init(|| (0..COUNTS_LEN).map(|_| AtomicU64::new(0)).collect());
        counts[counts_index(v)].fetch_add(1, Relaxed);
    }

    /// Forgets every call (CONFIG RESETSTAT).
    pub fn reset(&self) {
        if let Some(c) = self.counts.get() {
            c.iter().for_each(|a| a.store(0, Relaxed));
        }
    }

    fn snapshot(&self) -> Option<Vec<u64>> {
        let c = self.counts.get()?;
        let v: Vec<u64> = c.iter().map(|a| a.load(Relaxed)).collect();
        v.iter().any(|n| *n > 0).then_some(v)
    }

    /// Calls recorded.
    pub fn total(&self) -> u64 {
        self.counts
            .get()
            .map_or(0, |c| c.iter().map(|a| a.load(Relaxed)).sum())
    }

    /// The cumulative distribution LATENCY HISTOGRAM prints (Redis's fillCommandCDF: a
    /// logarithmic iteration from 1024 ns doubling, each step reported as the highest
    /// value equivalent to its level, in µs, with the count at or below it; steps
    /// that add nothing are left out). None when nothing was recorded.
    pub fn cdf(&self) -> Option<(u64, Vec<(i64, u64)>)> {
        let counts = self.snapshot()?;
        let total: u64 = counts.iter().sum();
        let mut out = Vec::new();
        let (mut cumulative, mut previous, mut index) = (0u64, 0u64, 0usize);
        let mut level: i64 = 1024;
        while cumulative < total {
            // Move to the first index at or past this level, counting what it passes.
            while index < COUNTS_LEN && value_at_index(index) < lowest_equivalent(level) {
                cumulative += counts[index];
                index += 1;
            }
            if index < COUNTS_LEN {
                cumulative += counts[index];
                index += 1;
            }
            if cumulative > previous {
                out.push((highest_equivalent(level) / 1000, cumulative));
            }
            previous = cumulative;
            level *= 2;
        }
        Some((total, out))
    }

    /// The value at `percentile`, in µs (hdr_value_at_percentile / 1000); None when
    /// nothing was recorded.
    pub fn percentile_usec(&self, percentile: f64) -> Option<f64> {
        let counts = self.snapshot()?;
        let total: u64 = counts.iter().sum();
        let p = percentile.min(100.0);
        let wanted = (((p / 100.0) * total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut sum = 0;
        let mut value = 0;
        for (i, n) in counts.iter().enumerate() {
            sum += n;
            if sum >= wanted {
                value = value_at_index(i);
                break;
            }
        }
        let v = if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        };
        Some(v as f64 / 1000.0)
    }
}

/// The histogram a request feeds: its subcommand's for a container (stock tracks
/// `config|get`, not `config`), else its command's.
pub fn histogram_for<'c>(cmd: &'c Command, args: &[Bytes]) -> &'c LatencyHistogram {
    let sub = args.get(1).and_then(|name| {
        cmd.subcommands
            .iter()
            .position(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    });
    match sub {
        Some(i) => &cmd.stats.sub_latency(cmd.subcommands.len())[i],
        None => &cmd.stats.latency,
    }
}

/// The histogram of subcommand `s` of `c`.
fn sub_histogram<'c>(c: &'c Command, s: &SubCommand) -> &'c LatencyHistogram {
    let i = c
        .subcommands
        .iter()
        .position(|x| std::ptr::eq(x, s))
        .unwrap_or(0);
    &c.stats.sub_latency(c.subcommands.len())[i]
}

/// Every histogram with data, named as stock names them (`get`, `config|get`), in
/// table order.
fn all_histograms<'a>(
    commands: impl Iterator<Item = &'a Command>,
) -> Vec<(String, &'a LatencyHistogram)> {
    let mut out = Vec::new();
    for c in commands {
        if c.stats.latency.total() > 0 {
            out.push((c.name.to_string(), &c.stats.latency));
        }
        out.extend(subcommand_histograms(c));
    }
    out
}

fn subcommand_histograms(c: &Command) -> Vec<(String, &LatencyHistogram)> {
    c.subcommands
        .iter()
        .map(|s| (format!("{}|{}", c.name, s.name), sub_histogram(c, s)))
        .filter(|(_, h)| h.total() > 0)
        .collect()
}

/// LATENCY HISTOGRAM [command ...]: a map of command name to its calls and cumulative
/// distribution; unknown names and commands never called are left out, a container
/// stands for its subcommands (as stock's latencySpecificCommandsFillCDF).
pub fn latency_histogram(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let table = &ctx.srv.commands;
    let found: Vec<(String, &LatencyHistogram)> = if args.len() == 2 {
        all_histograms(table.all.iter().copied())
    } else {
        let mut v = Vec::new();
        for name in &args[2..] {
            let Some(c) = lookup_full_name(table, name) else {
                continue;
            };
            match c {
                Found::Command(c) => {
                    if c.stats.latency.total() > 0 {
                        v.push((c.name.to_string(), &c.stats.latency));
                    }
                    v.extend(subcommand_histograms(c));
                }
                Found::Sub(c, s) => {
                    let h = sub_histogram(c, s);
                    if h.total() > 0 {
                        v.push((format!("{}|{}", c.name, s.name), h));
                    }
                }
            }
        }
        v
    };
    ctx.out.map(found.len());
    for (name, h) in found {
        let Some((calls, cdf)) = h.cdf() else {
            // Reset between the listing and now: still a well-formed entry.
            ctx.out.bulk(name.as_bytes());
            ctx.out.map(2);
            ctx.out.bulk(b"calls");
            ctx.out.int(0);
            ctx.out.bulk(b"histogram_usec");
            ctx.out.map(0);
            continue;
        };
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(cdf.len());
        for (usec, n) in cdf {
            ctx.out.int(usec);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

enum Found {
    Command(&'static Command),
    Sub(&'static Command, &'static SubCommand),
}

/// A command by its full name (`get`, `config|get`), as Redis's lookupCommandBySds.
fn lookup_full_name(table: &super::CommandTable, name: &[u8]) -> Option<Found> {
    let mut parts = name.split(|b| *b == b'|');
    let first = parts.next()?;
    let c = table.get(first)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(Found::Command(c)),
        (Some(sub), None) => c
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
            .map(|s| Found::Sub(c, s)),
        _ => None,
    }
}

/// INFO latencystats lines: `latency_percentiles_usec_<cmd>:p50=...,p99=...` for every
/// command with data, at `latency-tracking-info-percentiles`.
pub fn info_lines(srv: &crate::server::Server, out: &mut String) {
    use std::fmt::Write;
    if !srv.config.live.latency_tracking.load(Relaxed) {
        return;
    }
    let percentiles: Vec<f64> = srv
        .config
        .get("latency-tracking-info-percentiles")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for (name, h) in all_histograms(srv.commands.all.iter().copied()) {
        let _ = write!(out, "latency_percentiles_usec_{name}:");
        for (i, p) in percentiles.iter().enumerate() {
            let v = h.percentile_usec(*p).unwrap_or(0.0);
            let _ = write!(out, "p{}={:.3}", trim_double(*p), v);
            if i + 1 != percentiles.len() {
                out.push(',');
            }
        }
        out.push_str("\r\n");
    }
}

/// `%f` with trailing zeros (and a trailing point) removed, as Redis's trimDoubleString.
fn trim_double(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// LATENCY DOCTOR: stock's report, per event with samples (count, average, mean
/// deviation, period, worst) and the advice stock gives for the event classes we record
/// (slow and fast commands, the expire cycle).
pub fn latency_doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    let threshold = srv.config.live.latency_monitor_threshold.load(Relaxed);
    if threshold == 0 {
        ctx.out.verbatim(b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
        return Ok(());
    }
    let now = crate::base::now_ms() / 1000;
    let slowlog = srv.config.live.slowlog_slower_than.load(Relaxed);
    let mut report = String::new();
    let (mut slowlog_enable, mut slowlog_tune, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut hz, mut large) = (false, false, false);
    let latest = srv.latency.latest();
    for (n, (event, ..)) in latest.iter().enumerate() {
        let Some(series) = srv.latency.series(event) else {
            continue;
        };
        if n == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let count = series.samples.len() as u64;
        let avg = series.samples.iter().map(|s| s.1).sum::<u64>() / count.max(1);
        let mad = series
            .samples
            .iter()
            .map(|s| s.1.abs_diff(avg))
            .sum::<u64>()
            / count.max(1);
        let oldest = series.samples.iter().map(|s| s.0).min().unwrap_or(now);
        let period = now.saturating_sub(oldest).max(1);
        let _ = writeln!(
            report,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            event,
            count,
            avg,
            mad,
            period as f64 / count.max(1) as f64,
            series.max
        );
        match event.as_str() {
            "command" => {
                if slowlog < 0 {
                    slowlog_enable = true;
                } else if slowlog as u64 / 1000 > threshold {
                    slowlog_tune = true;
                }
                slowlog_inspect = true;
                large = true;
            }
            "fast-command" => scheduler = true,
            "expire-cycle" => {
                hz = true;
                large = true;
            }
            _ => {}
        }
    }
    if latest.is_empty() {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        if slowlog_enable {
            let _ = writeln!(
                report,
                "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.",
                threshold * 1000
            );
        }
        if slowlog_tune {
            let _ = writeln!(
                report,
                "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.",
                threshold * 1000
            );
        }
        if slowlog_inspect {
            report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if scheduler {
            report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if hz && srv.config.live.hz.load(Relaxed) < 100 {
            report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if large {
            report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
    }
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

/// LATENCY GRAPH event: stock's header (high, low, all-time high), a rule, then one
/// column per sample, four rows high (`#` at the sample's level, `|` below it), with the
/// sample's age written downwards under it.
pub fn latency_graph(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let event = String::from_utf8_lossy(&args[2]).into_owned();
    let Some(series) = ctx.srv.latency.series(&event) else {
        return Err(CmdError::err(format!(
            "No samples available for event '{event}'"
        )));
    };
    const ROWS: u64 = 4;
    let now = crate::base::now_ms() / 1000;
    let samples: Vec<(u64, u64)> = series.samples.iter().copied().collect();
    let high = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let mut graph = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        series.max,
        "-".repeat(80)
    );
    let level = |v: u64| {
        if high == low {
            ROWS
        } else {
            1 + (v - low) * (ROWS - 1) / (high - low)
        }
    };
    for row in (1..=ROWS).rev() {
        let line: String = samples
            .iter()
            .map(|&(_, v)| match level(v) {
                l if l == row => '#',
                l if l > row => '|',
                _ => ' ',
            })
            .collect();
        graph.push_str(line.trim_end());
        graph.push('\n');
    }
    let labels: Vec<Vec<char>> = samples
        .iter()
        .map(|&(t, _)| {
            let ago = now.saturating_sub(t);
            let label = match ago {
                0..60 => format!("{ago}s"),
                60..3600 => format!("{}m", ago / 60),
                3600..86400 => format!("{}h", ago / 3600),
                _ => format!("{}d", ago / 86400),
            };
            label.chars().collect()
        })
        .collect();
    let depth = labels.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = labels
            .iter()
            .map(|l| l.get(i).copied().unwrap_or(' '))
            .collect();
        graph.push_str(line.trim_end());
        graph.push('\n');
    }
    ctx.out.verbatim(graph.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_hdr_histogram() {
        assert_eq!(counts_index(1), 1);
        assert_eq!(counts_index(255), 255);
        assert_eq!(value_at_index(counts_index(1024)), 1024);
        assert_eq!(highest_equivalent(1024), 1031);
        assert_eq!(highest_equivalent(32768), 33023);
        assert!(counts_index(MAX_NS) < COUNTS_LEN);
    }

    #[test]
    fn cdf_reports_stock_buckets() {
        let h = LatencyHistogram::new();
        for us in [0u64, 1, 2, 3, 20, 20, 5000] {
            h.record(us * 1000 + 400);
        }
        let (calls, cdf) = h.cdf().unwrap();
        assert_eq!(calls, 7);
        assert_eq!(cdf, vec![(1, 2), (2, 3), (4, 4), (33, 6), (8454, 7)]);
        assert_eq!(h.percentile_usec(50.0), Some(3.007));
    }
}
