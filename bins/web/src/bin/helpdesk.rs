//! `helpdesk`: see `--help`. Serves the agent server, the user portal and the website embed over one store (sled, or PostgreSQL with `--database`); `helpdesk migrate` moves a helpdesk between stores.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    helpdesk_web::serve::exit_code(helpdesk_web::serve::main_for(helpdesk_web::serve::Interfaces::All).await)
}
