//! `helpdesk`: see `--help`. Serves the agent server, the user portal and the website embed over one sled store.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    helpdesk_web::serve::main_for(helpdesk_web::serve::Interfaces::All).await
}
