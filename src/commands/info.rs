//! INFO: the sections and field names stock Redis 7.0 prints, so tools that parse them
//! (redis-cli, sentinels, monitoring agents) work unchanged.

use crate::server::Server;
use crate::store::NUM_DBS;
use crate::store::Sequencer;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Section names in the order INFO prints them, and whether `INFO` (default) includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Bytes as Redis's `bytesToHuman` prints them.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    let units = [
        (1u64 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, u) in units {
        if n >= size as f64 {
            return format!("{:.2}{}", n / size as f64, u);
        }
    }
    format!("{}B", n as u64)
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn section(srv: &Server, seq: &Sequencer, name: &str, out: &mut String) {
    let st = &srv.stats;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    match name {
        "server" => {
            let up = srv.started.elapsed().as_secs();
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0);
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let cfg = srv
                .config
                .file
                .as_ref()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let _ = write!(
                out,
                "# Server\r\nredis_version:{}\r\nferrocache_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
                crate::base::REDIS_COMPAT_VERSION,
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                srv.run_id,
                srv.port.load(Ordering::Relaxed),
                now_us,
                up,
                up / 86400,
                srv.effective_hz.load(Ordering::Relaxed),
                srv.config.live.hz.load(Ordering::Relaxed),
                crate::store::value::lru_clock_seconds(),
                exe,
                cfg
            );
        }
        "clients" => {
            let clients = srv.clients.lock();
            let pubsub = clients.values().filter(|c| c.is_pubsub()).count();
            let _ = pubsub;
            let max_in = clients
                .values()
                .map(|c| c.qbuf.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            let max_out = clients
                .values()
                .map(|c| c.obuf.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
                clients.len(),
                srv.config.live.maxclients.load(Ordering::Relaxed),
                max_in,
                max_out,
                srv.store.ready_keys.waiters() + srv.paused_clients.load(Ordering::Relaxed),
                srv.tracking.clients.load(Ordering::Relaxed)
            );
        }
        "memory" => {
            let m = crate::base::memory_stats();
            let (vme, vmf) = crate::scripting::engine::vm_memory();
            let libs = srv.functions.current();
            let (se, fm) = (srv.scripts.cache_bytes(), libs.code_bytes());
            let total = total_system_memory();
            let frag = if m.allocated > 0 {
                m.rss as f64 / m.allocated as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "# Memory\r\nused_memory:{a}\r\nused_memory_human:{ah}\r\nused_memory_rss:{r}\r\nused_memory_rss_human:{rh}\r\nused_memory_peak:{a}\r\nused_memory_peak_human:{ah}\r\nallocator_allocated:{a}\r\nallocator_active:{act}\r\nallocator_resident:{res}\r\ntotal_system_memory:{t}\r\ntotal_system_memory_human:{th}\r\nused_memory_lua:{vme}\r\nused_memory_vm_eval:{vme}\r\nused_memory_lua_human:{vmeh}\r\nused_memory_scripts_eval:{se}\r\nnumber_of_cached_scripts:{ns}\r\nnumber_of_functions:{nf}\r\nnumber_of_libraries:{nl}\r\nused_memory_vm_functions:{vmf}\r\nused_memory_vm_total:{vmt}\r\nused_memory_vm_total_human:{vmth}\r\nused_memory_functions:{fm}\r\nused_memory_scripts:{sm}\r\nused_memory_scripts_human:{smh}\r\nmaxmemory:{mm}\r\nmaxmemory_human:{mmh}\r\nmaxmemory_policy:{pol}\r\nallocator_frag_ratio:{afr:.2}\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{fb}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:{bl}\r\nmem_allocator:jemalloc-5.3.0\r\nlazyfree_pending_objects:{lzp}\r\nlazyfreed_objects:{lzf}\r\n",
                a = m.allocated,
                ah = human_bytes(m.allocated),
                r = m.rss,
                rh = human_bytes(m.rss),
                act = m.active,
                res = m.resident,
                t = total,
                th = human_bytes(total),
                afr = if m.allocated > 0 {
                    m.active as f64 / m.allocated as f64
                } else {
                    0.0
                },
                frag = frag,
                fb = m.rss as i64 - m.allocated as i64,
                pol = srv.config.get("maxmemory-policy").unwrap_or_default(),
                lzp = srv.store.lazyfree.pending(),
                lzf = srv.store.lazyfree.freed(),
                mm = srv.store.evictor.settings.maxmemory(),
                mmh = human_bytes(srv.store.evictor.settings.maxmemory()),
                bl = seq.log.backlog.as_ref().map_or(0, |b| b.capacity()),
                vme = vme,
                vmeh = human_bytes(vme as u64),
                se = se,
                ns = srv.scripts.count(),
                nf = libs.function_count(),
                nl = libs.len(),
                vmf = vmf,
                vmt = vme + vmf,
                vmth = human_bytes((vme + vmf) as u64),
                fm = fm,
                sm = se + fm,
                smh = human_bytes((se + fm) as u64),
            );
        }
        "persistence" => {
            let aof = &srv.aof_rewrite;
            let _ = write!(
                out,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n",
                srv.dirty.load(Ordering::Relaxed),
                (srv.store.snapshot_in_progress() && !aof.in_progress.load(Ordering::Relaxed))
                    as u8,
                srv.lastsave.load(Ordering::Relaxed),
                if srv.last_bgsave_ok.load(Ordering::Relaxed) {
                    "ok"
                } else {
                    "err"
                },
                srv.rdb_saves.load(Ordering::Relaxed),
                srv.aof.enabled() as u8,
                aof.in_progress.load(Ordering::Relaxed) as u8,
                aof.scheduled.load(Ordering::Relaxed) as u8,
                aof.last_time_sec.load(Ordering::Relaxed),
                aof.current_time_sec(),
                if aof.last_failed.load(Ordering::Relaxed) {
                    "err"
                } else {
                    "ok"
                },
                aof.rewrites.load(Ordering::Relaxed),
                aof.consecutive_failures.load(Ordering::Relaxed),
                if srv.aof.failing() { "err" } else { "ok" },
            );
        }
        "stats" => {
            let ks = &srv.store.stats;
            let (chans, pats, shard_chans) = srv.pubsub.counts();
            let tr = srv.tracking.stats();
            let _ = write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nevicted_clients:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\nclient_query_buffer_limit_disconnections:{}\r\nclient_output_buffer_limit_disconnections:{}\r\n",
                ld(&st.connections_received),
                ld(&st.commands_processed),
                ld(&st.instantaneous_ops),
                ld(&st.net_input_bytes),
                ld(&st.net_output_bytes),
                ld(&st.rejected_connections),
                ld(&st.sync_full),
                ld(&st.sync_partial_ok),
                ld(&st.sync_partial_err),
                ld(&ks.expired_keys),
                ld(&ks.evicted_keys),
                ld(&ks.hits),
                ld(&ks.misses),
                chans,
                pats,
                shard_chans,
                srv.migrate_sockets.len(),
                tr.keys,
                tr.items,
                tr.prefixes,
                ld(&st.error_replies),
                ld(&st.qbuf_limit_disconnections),
                ld(&st.obuf_limit_disconnections),
            );
        }
        "replication" => {
            let log = &seq.log;
            let (active, size, first, hist) = match &log.backlog {
                Some(b) => (1, b.capacity(), b.first_byte_offset, b.histlen()),
                None => (0, srv.config.get_i64("repl-backlog-size") as usize, 0, 0),
            };
            let followers = crate::replication::leader::follower_lines(srv);
            let me = crate::replication::follower::snapshot(srv);
            match &me.leader {
                None => out.push_str("# Replication\r\nrole:master\r\n"),
                Some((host, port)) => {
                    let now = crate::base::now_ms();
                    let last_io = if me.last_io_ms == 0 {
                        -1
                    } else {
                        (now.saturating_sub(me.last_io_ms) / 1000) as i64
                    };
                    let _ = write!(
                        out,
                        "# Replication\r\nrole:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                        host,
                        port,
                        if me.link_up { "up" } else { "down" },
                        last_io,
                        me.sync_in_progress as u8,
                        log.offset,
                        log.offset
                    );
                    if !me.link_up {
                        let _ = write!(
                            out,
                            "master_link_down_since_seconds:{}\r\n",
                            now.saturating_sub(me.down_since_ms) / 1000
                        );
                    }
                    let _ = write!(
                        out,
                        "slave_priority:{}\r\nslave_read_only:1\r\nreplica_announced:1\r\n",
                        srv.config.get_i64("replica-priority")
                    );
                }
            }
            let _ = write!(out, "connected_slaves:{}\r\n", followers.len());
            for (i, f) in followers.iter().enumerate() {
                let _ = write!(
                    out,
                    "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
                    i, f.ip, f.port, f.state, f.offset, f.lag
                );
            }
            let _ = write!(
                out,
                "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
                srv.switchover.lock().state.name(),
                log.replid,
                log.replid2,
                log.offset,
                log.second_offset,
                active,
                size,
                first,
                hist
            );
            // Ferrocache's own fields, only with the lease on (stock output otherwise).
            if srv.lease.enabled() {
                let c = srv.lease.counts();
                let _ = write!(
                    out,
                    "leader_lease_ms:{}\r\nleader_lease_held:{}\r\nleader_lease_sentinels_known:{}\r\nleader_lease_sentinels_reached:{}\r\nleader_lease_sentinels_naming_another_leader:{}\r\n",
                    c.lease_ms,
                    srv.lease.holds() as u8,
                    c.known,
                    c.reached,
                    c.elsewhere
                );
            }
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            let _ = write!(
                out,
                "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n",
                sys, user
            );
        }
        "modules" => out.push_str("# Modules\r\n"),
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for c in srv.commands.all.iter() {
                let st = &c.stats;
                let calls = ld(&st.calls);
                let (rejected, failed) = (ld(&st.rejected), ld(&st.failed));
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let nanos = ld(&st.nanos);
                let usec = nanos / 1000;
                let per_call = if calls > 0 {
                    nanos as f64 / 1000.0 / calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    c.name, calls, usec, per_call, rejected, failed
                );
            }
        }
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            let mut codes: Vec<(String, u64)> = srv
                .errorstats
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            codes.sort();
            for (code, n) in codes {
                let _ = write!(out, "errorstat_{}:count={}\r\n", code, n);
            }
        }
        "latencystats" => {
            out.push_str("# Latencystats\r\n");
            super::latency::info_lines(srv, out);
        }
        "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            let now = crate::base::now_ms();
            for db in 0..NUM_DBS {
                let (keys, expires) = srv.store.db_sizes(db);
                if keys == 0 {
                    continue;
                }
                let avg_ttl = if expires > 0 {
                    let d = srv.store.db(db);
                    let (sum, n) = d
                        .entries()
                        .filter(|e| e.expire_at > now)
                        .take(1000)
                        .fold((0u64, 0u64), |(s, n), e| (s + (e.expire_at - now), n + 1));
                    sum.checked_div(n).unwrap_or(0)
                } else {
                    0
                };
                let _ = write!(
                    out,
                    "db{}:keys={},expires={},avg_ttl={}\r\n",
                    db, keys, expires, avg_ttl
                );
            }
        }
        _ => {}
    }
}

/// Builds INFO text for the requested sections (`default`, `all`, `everything`, names).
/// The caller holds the sequencer (shared or exclusive) so multi-key figures are consistent.
pub fn render(srv: &Server, seq: &Sequencer, requested: &[String]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    let req: Vec<String> = if requested.is_empty() {
        vec!["default".into()]
    } else {
        requested.to_vec()
    };
    for r in &req {
        match r.as_str() {
            "default" => wanted.extend(SECTIONS.iter().filter(|s| s.1).map(|s| s.0)),
            "all" | "everything" => wanted.extend(SECTIONS.iter().map(|s| s.0)),
            other => {
                if let Some(s) = SECTIONS.iter().find(|s| s.0 == other) {
                    wanted.push(s.0);
                }
            }
        }
    }
    let mut out = String::new();
    let mut seen = Vec::new();
    for s in SECTIONS.iter().map(|s| s.0) {
        if wanted.contains(&s) && !seen.contains(&s) {
            seen.push(s);
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            section(srv, seq, s, &mut out);
        }
    }
    out
}
