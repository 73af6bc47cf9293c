//! Examples for helpdesk-rs: see `quickstart.rs` (`cargo run --example quickstart`).
