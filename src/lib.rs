//! armi: act as this Azure machine's managed identity from a shell.
//!
//! The library holds everything; `main.rs` only reads the environment, runs and reports. The
//! modules the fuzz targets (`fuzz/`) drive are public; the library has no other users and no
//! stable API. ARCHITECTURE.md is the map.

pub mod access;
pub mod answer;
pub mod arm;
pub mod checkup;
pub mod claims;
pub mod cli;
pub mod cloud;
pub mod cmd;
pub mod env;
pub mod error;
pub mod files;
#[cfg(test)]
mod garbage;
pub mod http;
pub mod identity;
pub mod json;
pub mod md5;
pub mod output;
pub mod scope;
pub mod secret;
pub mod sources;
pub mod storage;
pub mod text;
pub mod time;
pub mod token;
pub mod vault;
