//! `helpdesk-portal`: see `--help`. Serves only the Portal interface.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    helpdesk_web::serve::exit_code(
        helpdesk_web::serve::main_for(helpdesk_web::serve::Interfaces::Portal).await,
    )
}
