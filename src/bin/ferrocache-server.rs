//! `ferrocache-server [config-file] [--name value ...]`: starts a server like redis-server.

use ferrocache::config::{self, Config};
use ferrocache::server::{self, Server};
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[global_allocator]
static GLOBAL: ferrocache::base::alloc::Allocator = ferrocache::base::alloc::Allocator;

/// jemalloc options read at its start: purge freed pages from a background thread, and
/// sooner than the 10 s default, so RSS follows the data after bursts (table growth frees
/// whole old tables at once).
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: Option<&'static u8> =
    Some(&b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000\0"[0]);

fn usage() -> ! {
    eprintln!(
        "Usage: ferrocache-server [/path/to/ferrocache.conf] [options]\n       ferrocache-server -v or --version\n       ferrocache-server -h or --help\n\nExamples:\n       ferrocache-server (run with the embedded defaults)\n       ferrocache-server /etc/ferrocache/6379.conf\n       ferrocache-server --port 7777\n       ferrocache-server /etc/myredis.conf --loglevel verbose --maxclients 100"
    );
    std::process::exit(1);
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let level = match cfg.get("loglevel").as_deref() {
        Some("debug") => "debug",
        Some("verbose") => "info",
        Some("warning") => "warn",
        Some("nothing") => "off",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logfile = cfg.get("logfile").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if logfile.is_empty() {
        use std::io::IsTerminal;
        builder.with_ansi(std::io::stdout().is_terminal()).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(f) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("Can't open the log file: {} ({})", logfile, e);
                std::process::exit(1);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(a) = args.first() {
        match a.as_str() {
            "-v" | "--version" => {
                println!(
                    "Ferrocache server v={} (Redis {} compatible)",
                    env!("CARGO_PKG_VERSION"),
                    ferrocache::base::REDIS_COMPAT_VERSION
                );
                return;
            }
            "-h" | "--help" => usage(),
            _ => {}
        }
    }
    let (file, overrides) = match config::parse_args(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("*** FATAL CONFIG ERROR ***\n{}", e);
            usage();
        }
    };
    let cfg = match Config::load(file.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "\n*** FATAL CONFIG FILE ERROR (Ferrocache {}) ***\n{}",
                env!("CARGO_PKG_VERSION"),
                e
            );
            std::process::exit(1);
        }
    };
    if server::process::should_daemonize(&cfg) {
        if cfg.get("pidfile").unwrap_or_default().is_empty() {
            // Redis's default for a daemon, so init scripts find it.
            let _ = cfg.set_startup("pidfile", "/var/run/redis.pid");
        }
        if let Err(e) = server::process::daemonize() {
            eprintln!("Can't daemonize: {}", e);
            std::process::exit(1);
        }
    }
    init_logging(&cfg);
    server::process::apply_thp(&cfg);
    server::process::log_inert_settings(&cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrocache-worker")
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run(cfg));
    // Connection tasks may still hold sockets; do not wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

async fn run(cfg: Config) -> i32 {
    let pidfile = cfg.get("pidfile").unwrap_or_default();
    let srv = match Server::try_new(cfg) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "Bad configuration, aborting");
            return 1;
        }
    };
    if let Err(e) = ferrocache::acl::load_at_startup(&srv.acl, &srv.config) {
        tracing::error!(error = %e, "Aborting because of ACL errors");
        return 1;
    }
    if srv.config.get("appendonly").as_deref() == Some("yes") {
        // As Redis 7: with the AOF on, the data comes from it (the RDB file is not read).
        if let Err(e) = server::aof::start(&srv) {
            tracing::error!(error = %e, "Fatal error loading the append only file, exiting");
            return 1;
        }
    } else if let Err(e) = server::persistence::load_at_startup(&srv) {
        tracing::error!(error = %e, file = %server::persistence::rdb_path(&srv).display(), "Fatal error loading the DB, exiting");
        return 1;
    }
    let listeners = match server::listener::bind(&srv).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "Failed listening on port {}, aborting.", srv.config.get_i64("port"));
            return 1;
        }
    };
    let tls = ferrocache::server::tls::TlsSettings::from_config(&srv.config);
    let tls_listeners = match server::listener::bind_tls(&srv).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "Failed listening on tls-port {}, aborting.", srv.config.get_i64("tls-port"));
            return 1;
        }
    };
    let acceptor = if tls_listeners.is_empty() {
        None
    } else {
        match server::tls::acceptor(&tls) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "Failed to configure TLS, aborting.");
                return 1;
            }
        }
    };
    if srv.config.get("tls-replication").as_deref() == Some("yes") {
        match server::tls::connector(&tls) {
            Ok(c) => {
                let _ = srv.tls_connector.set(c);
            }
            Err(e) => {
                tracing::error!(error = %e, "Failed to configure TLS for replication, aborting.");
                return 1;
            }
        }
    }
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    let port = srv.port.load(Ordering::Relaxed);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        port,
        pid = std::process::id(),
        config_file = %srv.config.file.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(none: embedded defaults)".into()),
        "Ferrocache started"
    );
    let replicaof = srv.config.get("replicaof").unwrap_or_default();
    let mut words = replicaof.split_whitespace();
    if let (Some(host), Some(port)) = (
        words.next(),
        words.next().and_then(|p| p.parse::<u16>().ok()),
    ) {
        ferrocache::replication::follower::set_leader(&srv, Some((host.to_string(), port)));
    }
    server::listener::serve_plain(&srv, listeners);
    for l in tls_listeners {
        tokio::spawn(server::listener::accept_loop(
            srv.clone(),
            l,
            acceptor.clone(),
        ));
    }
    tokio::spawn(server::cron::run(srv.clone()));
    tracing::info!(port, "Ready to accept connections tcp");
    server::process::notify_ready(&srv.config);
    if acceptor.is_some() {
        tracing::info!(
            port = srv.config.get_i64("tls-port"),
            "Ready to accept connections tls"
        );
    }
    wait_for_shutdown(&srv).await;
    tracing::info!("Ferrocache is now ready to exit, bye bye...");
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    0
}

async fn wait_for_shutdown(srv: &Arc<Server>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut rx = srv.shutdown.subscribe();
    loop {
        let setting = tokio::select! {
            _ = term.recv() => {
                tracing::warn!("Received SIGTERM scheduling shutdown...");
                "shutdown-on-sigterm"
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::warn!("Received SIGINT scheduling shutdown...");
                "shutdown-on-sigint"
            }
            // SHUTDOWN already saved (or was told not to) before asking.
            _ = rx.wait_for(|v| *v) => return,
        };
        // `shutdown-on-sig*`: `default` saves when save points are configured, `save`
        // always, `nosave` never; a failed save keeps the server running (rather than
        // lose the data) unless `force`.
        let flags = srv.config.get(setting).unwrap_or_default();
        let flag = |f: &str| flags.split_whitespace().any(|w| w == f);
        let save = if flag("nosave") {
            false
        } else {
            flag("save") || server::persistence::save_points_configured(srv)
        };
        if save {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            let saved = {
                let seq = srv.store.read_lock();
                server::persistence::save(srv, &seq)
            };
            if saved.is_err() && !flag("force") {
                tracing::warn!("Error trying to save the DB, can't exit.");
                continue;
            }
        }
        srv.request_shutdown();
        return;
    }
}
