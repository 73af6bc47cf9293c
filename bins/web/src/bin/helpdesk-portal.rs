//! `helpdesk-portal`: see `--help`. Serves only the Portal interface.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    helpdesk_web::serve::main_for(helpdesk_web::serve::Interfaces::Portal).await
}
