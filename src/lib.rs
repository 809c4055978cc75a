//! armi: act as this Azure machine's managed identity from a shell.
//!
//! The library holds everything; `main.rs` only parses, runs and reports. The modules the fuzz
//! targets (`fuzz/`) drive are public; the library has no other users and no stable API.

pub mod arm;
pub mod claims;
pub mod cli;
pub mod cloud;
pub mod commands;
mod doctor;
pub mod error;
#[cfg(test)]
mod garbage;
pub mod http;
pub mod imds;
pub mod output;
mod pinned;
pub mod sources;
pub mod token;
