//! What the binaries share: command-line options and starting a server.

use crate::{App, Config};
use clap::Parser;
use helpdesk_store::Helpdesk;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Command-line options of the `helpdesk*` binaries.
#[derive(Debug, Clone, Parser)]
#[command(version, about = "helpdesk-rs reference server")]
pub struct Args {
    /// Directory of the sled database (created if missing; one process at a time).
    #[arg(long, default_value = "helpdesk-data")]
    pub data: PathBuf,
    /// Address to listen on.
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

/// Parses the options, opens the store and serves `which` until Ctrl-C.
pub async fn main_for(which: Interfaces) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sled=warn".into()),
        )
        .init();
    let args = Args::parse();
    let data = args.data.clone();
    let hd = tokio::task::spawn_blocking(move || Helpdesk::open(&data)).await??;
    if args.demo {
        let hd2 = hd.clone();
        if tokio::task::spawn_blocking(move || crate::demo::seed(&hd2)).await?? {
            tracing::info!("demo data seeded");
        }
    }
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.listen));
    let config = Config {
        public_url: public_url.trim_end_matches('/').to_string(),
        secure_cookies: args.secure_cookies,
        embed_origins: args.embed_origins.clone(),
        ..Config::default()
    };
    let app = App::new(hd.clone(), config);
    let routes = match which {
        Interfaces::All => crate::routes(app),
        Interfaces::Agent => crate::finish(crate::agent_routes(app)),
        Interfaces::Portal => crate::finish(crate::portal_routes(app)),
        Interfaces::Embed => crate::finish(crate::embed_routes(app)),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let u = &public_url;
    if matches!(which, Interfaces::All | Interfaces::Agent) {
        println!("agent interface:  {u}/agent   (API: {u}/api/agent/..., OpenAPI: {u}/api/openapi.json)");
    }
    if matches!(which, Interfaces::All | Interfaces::Portal) {
        println!("user portal:      {u}/");
    }
    if matches!(which, Interfaces::All | Interfaces::Embed) {
        println!(
            "website embed:    <script src=\"{u}/embed/widget.js\" data-department=\"1\" async></script>"
        );
    }
    if args.demo {
        let (a, ap) = crate::demo::ADMIN;
        let (s, sp) = crate::demo::AGENT;
        let (p, pp) = crate::demo::USER;
        println!("demo logins: agent {a} / {ap}, agent {s} / {sp}, portal user {p} / {pp}");
    }
    warp::serve(routes)
        .incoming(listener)
        .graceful(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .run()
        .await;
    hd.flush()?;
    Ok(())
}
