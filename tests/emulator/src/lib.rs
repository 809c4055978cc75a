//! Test emulator for armi: Azure's Instance Metadata Service (IMDS) and Azure Resource Manager
//! (ARM), answering as the real services do (protocol.md and its samples), with fault
//! injection, plus a CONNECT proxy and a "foreign" host that tests assert armi never uses (or
//! that acts as a Key Vault, for tokens of another audience).
//!
//! The other managed-identity hosts run when the scenario switches them on (protocol.md §5):
//! the Azure Arc agent with its key-file challenge, App Service, Cloud Shell, Service Fabric
//! (TLS pinned by thumbprint), Azure ML, and Entra ID exchanging AKS workload identity's
//! federated tokens. Their tokens are minted like IMDS's, so ARM takes them.
//!
//! ARM keeps resource groups and resources in memory: lists come in pages with absolute
//! `nextLink`s, writes need a writer's grant, and writes complete at once or as long-running
//! operations (`Lro`) followed through `Azure-AsyncOperation` or `Location`.
//!
//! With `Scenario::throttling`, ARM throttles with the token buckets of its 2024 model (per
//! principal and subscription, and per subscription for all principals) and IMDS with its
//! per-VM limits; the model itself (`ArmThrottle`, `ImdsThrottle`) is pure and takes the time
//! as an argument, so that a simulation runs it in virtual time. With `Scenario::fleet`, many
//! VMs each have an IMDS of their own on their own loopback address, sharing one ARM.
//!
//! Beside ARM, the data planes a managed identity scripts against (data-plane.md):
//!
//! - **Key Vault** (`Scenario::key_vaults`, [`KeyVault`]): secrets by name and version, lists
//!   in pages, RBAC or access-policy denials, on `https://{vault}.localhost:PORT`
//!   ([`Emulator::key_vault_url`]).
//! - **Storage**: [`Azurite`], Microsoft's emulator, started by the tests with a certificate
//!   from the same test CA ([`Emulator::ca`]) and taking the emulator's tokens; a
//!   [`BlobClient`] for setup and checks; a [`Cutter`] in front of it that cuts downloads,
//!   and answers "not yet" (403) and "busy" (503) as Storage does.
//! - **Propagation**: grants that take effect a while after the start
//!   ([`Scenario::with_grant_after`], [`KeyVault::readable_after`]) and identities IMDS does not
//!   know yet ([`Scenario::with_identity_attaching`]), for `--wait-access`.
//!
//! ```no_run
//! use armi_emulator::{Emulator, Fault, Limit, Route, Scenario};
//!
//! let emulator = Emulator::start(
//!     Scenario::default().with_fault(Fault::status(Route::ImdsToken, 410, Limit::Times(2))),
//! );
//! println!("IMDS at {}, ARM at {}", emulator.imds_url(), emulator.arm_url());
//! ```
//!
//! ```no_run
//! use armi_emulator::{Azurite, BlobClient, Cutter, CutterOptions, Emulator, Scenario};
//!
//! let emulator = Emulator::start(Scenario::default());
//! let azurite = Azurite::start(emulator.ca());
//! let token = emulator.token_for("https://storage.azure.com/");
//! let setup = BlobClient::new(&azurite.url(), emulator.ca().pem(), &token);
//! setup.create_container("data").expect("create");
//! setup.put_blob("data", "big.bin", &vec![7u8; 1 << 20]).expect("put");
//! // armi downloads through the cutter, which drops the first two downloads after 64 KiB.
//! let cutter = Cutter::start(&azurite, emulator.ca(), CutterOptions::default().cut(65_536, 2));
//! println!("{}/data/big.bin, SSL_CERT_FILE={}", cutter.url(), emulator.ca_file().display());
//! ```

mod address;
mod app_service;
mod arc;
mod arm;
mod azure_ml;
mod azurite;
mod blob;
mod catalog;
mod cloud;
mod cloud_shell;
mod cutter;
mod emulator;
mod encoding;
mod entra;
mod faults;
mod federation;
mod fleet;
mod foreign;
mod gate;
mod host;
mod http;
mod identities;
mod ids;
mod imds;
mod instance;
mod key_vault;
mod links;
mod md5;
mod mi_hosts;
mod operations;
mod paging;
mod propagation;
mod proxy;
mod record;
mod relay;
mod rng;
mod scenario;
mod server;
mod service_fabric;
mod sha1;
mod state;
mod storage;
mod store;
mod throttle;
mod tls;
mod token;
mod token_proxy;
mod vault;
mod vaults;

pub use azurite::{AZURITE_ACCOUNT, Azurite};
pub use blob::{BlobClient, BlobReply, Downloaded, content_md5, hash_file};
pub use cutter::{AnsweredBy, CutHook, Cutter, CutterOptions, Forwarded};
pub use emulator::Emulator;
pub use fleet::{Fleet, FleetIdentity};
pub use gate::ThrottleStats;
pub use key_vault::vault_audience;
pub use md5::{Md5, md5};
pub use propagation::{Attaching, PendingGrant};
pub use record::{Recorded, Service};
pub use rng::SplitMix64;
pub use scenario::{
    Action, Arc, ArcRealm, CloudShellUser, Fault, Grant, Limit, LinkHost, Lro, Outcome, Role,
    Route, Scenario, TokenProxy, UserIdentity,
};
pub use storage::{STORAGE_AUDIENCE, STORAGE_VERSION};
/// The throttling model, pure and clock-injected, for simulations in virtual time.
pub use throttle::{
    ArmLimits, ArmThrottle, ArmVerdict, Bucket, BucketSpec, Debt, ImdsCategory, ImdsLimits,
    ImdsThrottle, Operation, Throttling, ideal_schedule,
};
pub use tls::{Issued, TestCa};
pub use vaults::{KEY_VAULT_PAGE_LIMIT, KeyVault, Secret, SecretVersion, VaultAccess, VaultReader};

/// Maps an IMDS `azEnvironment` name to the `arm_cloud` it implies (case-insensitive).
pub fn arm_cloud_for(az_environment: &str) -> &'static str {
    cloud::canonical_name(az_environment)
        .filter(|name| *name != "AzureGermanCloud")
        .unwrap_or("AzurePublicCloud")
}
