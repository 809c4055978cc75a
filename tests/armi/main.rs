//! Integration tests: the real armi binary against the emulated IMDS and ARM, one behaviour per
//! test. One test binary, so that the many tests that mostly wait run side by side.

mod blobs;
mod clouds;
mod common;
mod doctor;
mod gibibyte;
mod group;
mod hostile;
mod lists;
mod rest;
mod retries;
mod scratch;
mod secrets;
mod security;
mod sources;
mod token;
mod usage;
mod verbose;
mod waits;
