//! Filters: built-in and custom ticket filters, their plans, and the index
//! keys and counters they are answered from.
pub mod filter;
pub mod index;
pub mod saved;
