//! Test emulator for armi: Azure's Instance Metadata Service (IMDS) and Azure Resource Manager
//! (ARM), answering as the real services do (protocol.md and its samples), with fault
//! injection, plus a CONNECT proxy and a "foreign" host that tests assert armi never uses.
//!
//! ```no_run
//! use armi_emulator::{Emulator, Fault, Limit, Route, Scenario};
//!
//! let emulator = Emulator::start(
//!     Scenario::default().with_fault(Fault::status(Route::ImdsToken, 410, Limit::Times(2))),
//! );
//! println!("IMDS at {}, ARM at {}", emulator.imds_url(), emulator.arm_url());
//! ```

mod arm;
mod cloud;
mod emulator;
mod encoding;
mod faults;
mod foreign;
mod http;
mod ids;
mod imds;
mod instance;
mod proxy;
mod record;
mod scenario;
mod server;
mod state;
mod tls;
mod token;

pub use emulator::Emulator;
pub use record::{Recorded, Service};
pub use scenario::{Action, Fault, Grant, Limit, Route, Scenario, UserIdentity};

/// Maps an IMDS `azEnvironment` name to the `arm_cloud` it implies (case-insensitive).
pub fn arm_cloud_for(az_environment: &str) -> &'static str {
    cloud::canonical_name(az_environment)
        .filter(|name| *name != "AzureGermanCloud")
        .unwrap_or("AzurePublicCloud")
}
