//! What the binaries share: command-line options and running a server.
//!
//! [`start`] opens the store and starts everything a helpdesk needs around
//! the HTTP interfaces: the delivery worker (in-app notifications to the
//! agents' bay, email through an SMTP relay, webhooks), the automation
//! sweep (escalations, SLAs), and, when asked, an SMTP listener for
//! incoming mail. [`Running::stop`] stops them in order and flushes the store.

use crate::{App, Config, LogMailer, Mailer, SmtpMailer};
use clap::{Parser, ValueEnum};
use helpdesk_mail::{
    EmailNotifier, MailGateway, Notifier, PlainSender, SmtpConfig, SmtpListener, SmtpListenerConfig,
    SmtpSecurity, WebhookNotifier,
};
use helpdesk_store::Helpdesk;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Errors of starting or running a server.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The environment variable the SMTP relay password is read from (not a
/// flag: command lines are visible to every local user).
pub const SMTP_PASSWORD_ENV: &str = "HELPDESK_SMTP_PASSWORD";

/// Command-line options of the `helpdesk*` binaries.
#[derive(Debug, Clone, Parser)]
#[command(version, about = "helpdesk-rs reference server")]
pub struct Args {
    /// Directory of the sled database (created if missing; one process at a time).
    #[arg(long, default_value = "helpdesk-data")]
    pub data: PathBuf,
    /// Keep the store in PostgreSQL instead (postgres://user@host/db?sslmode=require;
    /// default: the DATABASE_URL environment variable; unset: the sled store in --data).
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed demo departments, agents, users and tickets (skipped when present).
    #[arg(long)]
    pub demo: bool,
    /// The URL people reach the server at (for links in emails); default http://<listen>.
    #[arg(long)]
    pub public_url: Option<String>,
    /// An origin allowed to post the embed form (repeatable); default: any origin.
    #[arg(long = "embed-origin")]
    pub embed_origins: Vec<String>,
    /// Mark cookies Secure (when served over HTTPS behind a proxy).
    #[arg(long)]
    pub secure_cookies: bool,
    /// SMTP relay for outgoing mail, HOST:PORT. Without it email notifications
    /// are recorded in the ticket log as skipped and account emails are logged.
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp_relay: Option<String>,
    /// How the connection to the relay is secured.
    #[arg(long, value_enum, default_value_t = RelaySecurity::Starttls)]
    pub smtp_security: RelaySecurity,
    /// Login at the relay (the password comes from HELPDESK_SMTP_PASSWORD).
    #[arg(long)]
    pub smtp_user: Option<String>,
    /// Sender of account emails (address validation); default: the first email account.
    #[arg(long, value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// Take incoming mail over SMTP on this address (behind the site's MTA).
    #[arg(long, value_name = "ADDR")]
    pub smtp_listen: Option<SocketAddr>,
    /// A TOML rule file (triggers, escalations, SLAs) loaded at start.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Seconds between sweeps of due escalations and SLA timers.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub automation_every: u64,
    /// Seconds a delivery pass holds the notifications it claimed: on a shared
    /// PostgreSQL store, another node delivers what a dead node held once this passes.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub delivery_lease: u64,
    /// A command other than serving.
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Commands other than serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Cmd {
    /// Copy a whole helpdesk (tickets with their logs, people, rules,
    /// sessions, attachments, undelivered notifications) from one store
    /// into an empty one, sled to PostgreSQL or back, and verify the copy.
    /// Stop the servers of the source first.
    Migrate(MigrateArgs),
}

/// `helpdesk migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The store to copy: a sled data directory or a postgres:// URL.
    #[arg(long)]
    pub from: String,
    /// The empty store to copy into: a new sled data directory or a postgres:// URL.
    #[arg(long)]
    pub to: String,
    /// Tickets compared in full (state and log) after the copy, spread over all ids.
    #[arg(long, default_value_t = 1000)]
    pub sample: u64,
}

impl Args {
    /// The options with their defaults and the store at `data` (for embedding and tests).
    pub fn new(data: impl Into<PathBuf>) -> Args {
        let mut args = Args::parse_from(["helpdesk"]);
        args.data = data.into();
        args.database = None;
        args
    }
}

/// `--smtp-security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RelaySecurity {
    /// Plain text (a relay on loopback).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Which interfaces a binary serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interfaces {
    /// Agent server, portal and embed in one process (sled is single-process).
    All,
    /// The agent server only.
    Agent,
    /// The user portal only.
    Portal,
    /// The website embed only.
    Embed,
}

/// The relay settings of the options, if a relay is given.
pub fn smtp_config(args: &Args) -> Result<Option<SmtpConfig>, BoxError> {
    let Some(relay) = &args.smtp_relay else { return Ok(None) };
    let (host, port) = relay
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| format!("--smtp-relay {relay:?}: expected HOST:PORT"))?;
    let mut config = SmtpConfig::plain(host, port);
    config.security = match args.smtp_security {
        RelaySecurity::None => SmtpSecurity::None,
        RelaySecurity::Starttls => SmtpSecurity::StartTls,
        RelaySecurity::Tls => SmtpSecurity::Tls,
    };
    if let Some(user) = &args.smtp_user {
        let password = std::env::var(SMTP_PASSWORD_ENV)
            .map_err(|_| format!("--smtp-user is set but {SMTP_PASSWORD_ENV} is not"))?;
        config.credentials = Some((user.clone(), password));
    }
    Ok(Some(config))
}

/// How long requests under way may take to finish when the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A running server.
pub struct Running {
    /// Where the HTTP interfaces listen.
    pub addr: SocketAddr,
    /// Where incoming SMTP is taken, if asked.
    pub smtp_addr: Option<SocketAddr>,
    /// The URL people reach it at.
    pub public_url: String,
    /// The web layer (its helpdesk, sessions, notifications).
    pub app: App,
    http_stop: oneshot::Sender<()>,
    http: tokio::task::JoinHandle<()>,
    smtp: Option<SmtpListener>,
    automation: (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>),
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .field("smtp_addr", &self.smtp_addr)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Stops taking requests and mail (those under way finish), stops the
    /// automation sweep and the delivery worker, and flushes the store.
    pub async fn stop(self) -> Result<(), BoxError> {
        self.app.close_streams();
        let _ = self.http_stop.send(());
        let mut http = self.http;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut http).await.is_err() {
            tracing::warn!("requests still running after {} s are cut off", SHUTDOWN_GRACE.as_secs());
            http.abort();
        }
        if let Some(l) = self.smtp {
            l.stop().await;
        }
        let app = self.app.clone();
        let (stop_automation, automation) = self.automation;
        tokio::task::spawn_blocking(move || {
            let _ = stop_automation.send(());
            let _ = automation.join();
            app.shutdown();
            app.helpdesk().flush()
        })
        .await??;
        Ok(())
    }
}

/// Sweeps due escalations and SLA timers every `every`, on a thread of its
/// own; on a store several nodes share, one node at a time sweeps
/// ([`Store::exclusive`](helpdesk_core::Store::exclusive): if it dies,
/// another takes the next sweep).
fn start_automation(
    hd: Helpdesk,
    every: Duration,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("helpdesk-automation".into())
        .spawn(move || loop {
            let mut result = None;
            match hd.store().exclusive("automation-sweep", &mut || result = Some(hd.tick())) {
                Ok(true) => {}
                Ok(false) => tracing::debug!("another node is sweeping"),
                Err(e) => tracing::error!("automation sweep could not start (retried next sweep): {e}"),
            }
            match result {
                Some(Ok(r)) if !r.changed.is_empty() => {
                    tracing::info!(due = r.due.len(), changed = r.changed.len(), "automation sweep")
                }
                Some(Ok(_)) | None => {}
                Some(Err(e)) => tracing::error!("automation sweep failed (retried next sweep): {e}"),
            }
            match stopped.recv_timeout(every) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => break,
            }
        })
        .expect("spawn the automation thread");
    (stop, thread)
}

/// Opens the store (PostgreSQL at `args.database`, else sled in
/// `args.data`) and starts serving `which`, with the
/// delivery worker, the automation sweep and (with `--smtp-listen`) the
/// SMTP listener. Must run inside a tokio runtime.
pub async fn start(args: &Args, which: Interfaces) -> Result<Running, BoxError> {
    let (data, database) = (args.data.clone(), args.database.clone());
    let hd = tokio::task::spawn_blocking(move || match &database {
        Some(url) => Helpdesk::connect(url),
        None => Helpdesk::open(&data),
    })
    .await??;
    if args.demo {
        let hd2 = hd.clone();
        if tokio::task::spawn_blocking(move || crate::demo::seed(&hd2)).await?? {
            tracing::info!("demo data seeded");
        }
    }
    if let Some(path) = &args.rules {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let hd2 = hd.clone();
        tokio::task::spawn_blocking(move || hd2.load_rules_toml(&text))
            .await?
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let smtp = smtp_config(args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let public_url = public_url.trim_end_matches('/').to_string();
    let config = Config {
        public_url: public_url.clone(),
        secure_cookies: args.secure_cookies,
        embed_origins: args.embed_origins.clone(),
        smtp_relay: smtp.clone(),
        ..Config::default()
    };

    // Outgoing mail: notifications (worker) and account emails (mailer).
    let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
    let mailer: Arc<dyn Mailer> = match &smtp {
        Some(relay) => {
            notifiers
                .push(Arc::new(EmailNotifier::new(hd.clone(), relay)?.with_public_url(public_url.clone())));
            let (name, from) = match &args.mail_from {
                Some(a) => (String::new(), a.clone()),
                None => {
                    let hd2 = hd.clone();
                    match tokio::task::spawn_blocking(move || hd2.email_accounts()).await??.into_iter().next()
                    {
                        Some(acc) => (acc.name, acc.address.to_string()),
                        None => {
                            return Err(
                                "--smtp-relay needs --mail-from or an email account to send from".into()
                            )
                        }
                    }
                }
            };
            Arc::new(SmtpMailer::new(PlainSender::new(relay, &name, &from)?))
        }
        None => {
            // Accounts with a relay of their own still send.
            notifiers
                .push(Arc::new(EmailNotifier::accounts_only(hd.clone()).with_public_url(public_url.clone())));
            tracing::warn!(
                "no --smtp-relay: email notifications are sent only from email accounts with a relay of their own (the rest are recorded as skipped); account emails are only logged"
            );
            Arc::new(LogMailer)
        }
    };
    notifiers.push(Arc::new(WebhookNotifier::new(hd.clone(), Duration::from_secs(10))));
    let hd2 = hd.clone();
    let app = tokio::task::spawn_blocking(move || App::with_mailer(hd2, config, mailer)).await?;
    app.start_delivery_leased(notifiers, Duration::from_secs(1), Duration::from_secs(args.delivery_lease));
    let automation = start_automation(hd.clone(), Duration::from_secs(args.automation_every));

    let smtp_listener = match args.smtp_listen {
        Some(at) => Some(
            SmtpListener::start(at, MailGateway::new(hd.clone()), SmtpListenerConfig::default())
                .await
                .map_err(|e| format!("cannot listen for SMTP on {at}: {e}"))?,
        ),
        None => None,
    };
    let smtp_addr = smtp_listener.as_ref().map(SmtpListener::local_addr);

    let routes = match which {
        Interfaces::All => crate::routes(app.clone()),
        Interfaces::Agent => crate::finish(crate::agent_routes(app.clone())),
        Interfaces::Portal => crate::finish(crate::portal_routes(app.clone())),
        Interfaces::Embed => crate::finish(crate::embed_routes(app.clone())),
    };
    let (http_stop, stopped) = oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        warp::serve(routes)
            .incoming(listener)
            .graceful(async {
                let _ = stopped.await;
            })
            .run()
            .await
    });
    Ok(Running { addr, smtp_addr, public_url, app, http_stop, http, smtp: smtp_listener, automation })
}

/// Parses the options, starts the server and serves `which` until Ctrl-C.
pub async fn main_for(which: Interfaces) -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sled=warn".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(Cmd::Migrate(m)) = args.command.clone() {
        return tokio::task::spawn_blocking(move || migrate(&m)).await?;
    }
    let running = start(&args, which).await?;
    let u = &running.public_url;
    if matches!(which, Interfaces::All | Interfaces::Agent) {
        println!("agent interface:  {u}/agent   (API: {u}/api/agent/..., OpenAPI: {u}/api/openapi.json)");
        println!("inbound mail:     POST {u}/api/mail/inbound (raw RFC 5322, admin API key)");
    }
    if matches!(which, Interfaces::All | Interfaces::Portal) {
        println!("user portal:      {u}/");
    }
    if matches!(which, Interfaces::All | Interfaces::Embed) {
        println!(
            "website embed:    <script src=\"{u}/embed/widget.js\" data-department=\"1\" async></script>"
        );
    }
    if let Some(a) = running.smtp_addr {
        println!("inbound SMTP:     {a}");
    }
    if args.demo {
        let (a, ap) = crate::demo::ADMIN;
        let (s, sp) = crate::demo::AGENT;
        let (p, pp) = crate::demo::USER;
        println!("demo logins: agent {a} / {ap}, agent {s} / {sp}, portal user {p} / {pp}");
    }
    if matches!(which, Interfaces::All | Interfaces::Agent) {
        let app = running.app.clone();
        let hint = tokio::task::spawn_blocking(move || {
            app.helpdesk().needs_setup().map(|needed| needed.then(|| crate::admin::setup::console_hint(&app)))
        })
        .await??;
        if let Some(hint) = hint {
            println!("{hint}");
        }
    }
    stop_signal().await;
    tracing::info!("stopping");
    running.stop().await
}

/// Ctrl-C, or SIGTERM (systemd, docker stop) on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Opens the store `spec` names: a `postgres://` (or `postgresql://`) URL,
/// else a sled directory, which must hold a store (`existing`) or be new.
fn open_store(spec: &str, existing: bool) -> Result<Helpdesk, BoxError> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return Helpdesk::connect(spec).map_err(|e| format!("cannot open {}: {e}", redact(spec)).into());
    }
    let path = std::path::Path::new(spec);
    let empty = match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(format!("cannot read {spec}: {e}").into()),
    };
    match (existing, empty) {
        (true, true) => Err(format!("there is no sled store at {spec}").into()),
        (false, false) => Err(format!("{spec} is not empty: migrate into a new directory").into()),
        _ => Helpdesk::open(path).map_err(|e| format!("cannot open {spec}: {e}").into()),
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// `helpdesk migrate`: copies with a progress bar on the terminal, then
/// verifies; fails if the copy differs from the source.
pub fn migrate(m: &MigrateArgs) -> Result<(), BoxError> {
    use helpdesk_store::migrate::{copy, verify, Step};
    use indicatif::{ProgressBar, ProgressStyle};
    let from = open_store(&m.from, true)?;
    let to = open_store(&m.to, false)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:24} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let copied = copy(from.store().as_ref(), to.store().as_ref(), &|step| match step {
        Step::Records(kind, n) => bar.set_message(format!("{n} records ({})", kind.as_str())),
        Step::Configs(n) => bar.set_message(format!("{n} configuration values")),
        Step::Audit(n) => bar.set_message(format!("{n} audit log entries")),
        Step::Blobs(n) => bar.set_message(format!("{n} blobs")),
        Step::Tickets(done, of) => {
            bar.set_message("tickets");
            bar.set_length(of);
            bar.set_position(done);
        }
        Step::Flushing => bar.set_message("flushing"),
    })?;
    bar.finish_and_clear();
    println!(
        "copied {} tickets ({} log events, {} undelivered notifications), {} records, {} configuration values, {} audit log entries and {} blobs in {:.1?}",
        copied.tickets,
        copied.events,
        copied.outbox,
        copied.records,
        copied.configs,
        copied.audit,
        copied.blobs,
        started.elapsed()
    );
    let v = verify(from.store().as_ref(), to.store().as_ref(), m.sample)?;
    if !v.differences.is_empty() {
        for d in &v.differences {
            eprintln!("difference: {d}");
        }
        return Err(format!("the copy in {} differs from the source", redact(&m.to)).into());
    }
    println!(
        "verified: {} records, {} configuration values, {} audit log entries, {} blobs, {} tickets and {} counters the same; {} tickets compared in full",
        v.records, v.configs, v.audit, v.blobs, v.tickets, v.counters, v.sampled
    );
    Ok(())
}

/// What a binary's `main` returns for `result`: success, or the error said
/// plainly on standard error and a failure exit status.
pub fn exit_code(result: Result<(), BoxError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
