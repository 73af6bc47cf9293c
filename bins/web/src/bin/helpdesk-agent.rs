//! `helpdesk-agent`: see `--help`. Serves only the Agent interface.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    helpdesk_web::serve::main_for(helpdesk_web::serve::Interfaces::Agent).await
}
