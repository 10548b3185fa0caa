//! `ferrocache-sentinel [sentinel.conf] [--name value ...]`: a Redis Sentinel compatible
//! watcher that fails leader/follower groups over.

use ferrocache::sentinel::{self, Sentinel, config::SentinelConfig};

fn usage() -> ! {
    eprintln!(
        "Usage: ferrocache-sentinel [/path/to/sentinel.conf] [options]\n       ferrocache-sentinel -v or --version\n\nExamples:\n       ferrocache-sentinel /etc/sentinel.conf\n       ferrocache-sentinel sentinel.conf --port 26380\n       ferrocache-sentinel --port 26379 --sentinel monitor mymaster 127.0.0.1 6379 2"
    );
    std::process::exit(1);
}

fn init_logging(cfg: &SentinelConfig) {
    use tracing_subscriber::EnvFilter;
    let level = match cfg.loglevel.as_str() {
        "debug" => "debug",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if cfg.logfile.is_empty() {
        builder.with_ansi(false).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.logfile)
        {
            Ok(f) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("Can't open the log file: {} ({})", cfg.logfile, e);
                std::process::exit(1);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => {
            println!("Ferrocache sentinel v={}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Some("-h" | "--help") => usage(),
        _ => {}
    }
    let (file, overrides) = match ferrocache::config::parse_args(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("*** FATAL CONFIG ERROR ***\n{e}");
            usage();
        }
    };
    let Some(file) = file else {
        // As stock Sentinel: the config file is mandatory, it stores the learned state.
        eprintln!("Sentinel needs config file on disk to save state. Exiting...");
        std::process::exit(1);
    };
    let cfg = match SentinelConfig::load(Some(&file), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("\n*** FATAL CONFIG FILE ERROR (Ferrocache sentinel) ***\n{e}");
            std::process::exit(1);
        }
    };
    if cfg.server_settings.get("daemonize").map(String::as_str) == Some("yes")
        && let Err(e) = ferrocache::server::process::daemonize()
    {
        eprintln!("Can't daemonize: {e}");
        std::process::exit(1);
    }
    init_logging(&cfg);
    let inert: Vec<&str> = cfg
        .server_settings
        .keys()
        .copied()
        .filter(|k| *k != "daemonize")
        .collect();
    if !inert.is_empty() {
        tracing::warn!(
            settings = %inert.join(" "),
            "Accepted for compatibility with Redis, no effect in Ferrocache sentinel"
        );
    }
    if let Some(dir) = &cfg.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("Can't chdir to '{dir}': {e}");
        std::process::exit(1);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run(cfg));
    std::process::exit(code);
}

async fn run(cfg: SentinelConfig) -> i32 {
    let pidfile = cfg.pidfile.clone();
    let sh = Sentinel::new(cfg);
    let listeners = match sentinel::server::bind(&sh, false).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "Failed listening on port {}, aborting.", sh.config.lock().port);
            return 1;
        }
    };
    let (tls, tls_port, tls_links) = {
        let c = sh.config.lock();
        (c.tls_settings(), c.tls_port(), c.tls_links())
    };
    let tls_listeners = match sentinel::server::bind(&sh, true).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "Failed listening on tls-port {tls_port}, aborting.");
            return 1;
        }
    };
    let acceptor = if tls_listeners.is_empty() {
        None
    } else {
        match ferrocache::server::tls::acceptor(&tls) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "Failed to configure TLS, aborting.");
                return 1;
            }
        }
    };
    if tls_links {
        match ferrocache::server::tls::connector(&tls) {
            Ok(c) => {
                let _ = sh.tls.set(c);
            }
            Err(e) => {
                tracing::error!(error = %e, "Failed to configure TLS for links, aborting.");
                return 1;
            }
        }
    }
    if let Some(p) = &pidfile {
        let _ = std::fs::write(p, format!("{}\n", std::process::id()));
    }
    sh.flush_config();
    {
        let st = sh.state.lock();
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            port = sh.config.lock().port,
            pid = std::process::id(),
            myid = %st.myid,
            "Sentinel ID is {}", st.myid
        );
        let monitors: Vec<_> = st
            .masters
            .values()
            .map(|m| {
                sentinel::events::Event::new(
                    "+monitor",
                    format!("master {} quorum {}", m.at(), m.cfg.quorum),
                )
            })
            .collect();
        drop(st);
        sh.emit_all(monitors);
    }
    tokio::spawn(sentinel::scripts::run(sh.clone()));
    for l in listeners {
        tokio::spawn(sentinel::server::serve(sh.clone(), l, None));
    }
    for l in tls_listeners {
        tokio::spawn(sentinel::server::serve(sh.clone(), l, acceptor.clone()));
    }
    let timer = tokio::spawn(sentinel::failover::run(sh.clone()));
    let mut shutdown = sh.shutdown.subscribe();
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    tokio::select! {
        _ = shutdown.changed() => {}
        _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
        _ = tokio::signal::ctrl_c() => tracing::warn!("Received SIGINT scheduling shutdown..."),
    }
    let _ = sh.shutdown.send(true);
    let _ = timer.await;
    sh.flush_config();
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    tracing::warn!("Sentinel is now ready to exit, bye bye...");
    0
}
