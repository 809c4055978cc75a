//! `armi-emulator`: runs the IMDS + ARM emulator as a process, for `make demo`, the benchmark
//! and tests that run armi where the emulator must sit at IMDS's real address, or on one of
//! the other managed-identity hosts (Arc, App Service, Cloud Shell, Service Fabric, Azure ML,
//! AKS workload identity), with the environment that host gives its processes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use armi_emulator::{
    AZURITE_ACCOUNT, Arc, Azurite, BlobClient, Debt, Emulator, Fault, Fleet, FleetIdentity, Grant,
    KeyVault, Lro, Outcome, PendingGrant, Role, STORAGE_AUDIENCE, Scenario, Throttling,
    UserIdentity, arm_cloud_for,
};

mod fault_flag;

const HELP: &str = "\
armi-emulator: Azure IMDS and ARM (and the other managed-identity hosts) as armi's tests
see them, on loopback by default

USAGE:
    armi-emulator [OPTIONS]

OPTIONS:
    --imds-listen ADDR        where IMDS listens (default 127.0.0.1:0)
    --arm-listen ADDR         where ARM listens over TLS (default 127.0.0.1:0)
    --arm-name NAME           extra DNS name on ARM's certificate (repeatable)
    --az-environment NAME     compute.azEnvironment, and the cloud ARM acts as
                              (default AZUREPUBLICCLOUD)
    --arm-cloud NAME          ARM acts as this cloud instead (AzurePublicCloud,
                              AzureUSGovernmentCloud, AzureChinaCloud): it refuses the
                              tokens of the cloud IMDS names, 401
                              InvalidAuthenticationTokenAudience
    --user-identity NAME:CLIENTID:OBJECTID
                              attach a user-assigned identity (repeatable); every
                              identity may read the VM's resource group
    --no-system-identity      the VM has no system-assigned identity
    --no-roles                no identity has a role on the VM's resource group: reading
                              it is 403 AuthorizationFailed (--subscription-reader and
                              --writer-system-identity still grant theirs)
    --writer-system-identity  the system identity may also write to the VM's resource
                              group (PUT, PATCH, DELETE, POST actions)
    --subscription-reader     every identity may read the whole subscription (to list
                              the groups of --extra-groups)
    --page-size N             ARM lists answer at most N items per page (default 1000)
    --endless-pages           lists never end: the last page links to the first again,
                              with a new nextLink each lap (a looping service)
    --resources-per-group N   N generated resources in every resource group
    --extra-groups N          N generated resource groups rg-gen-0001...
    --group NAME              one more resource group in the subscription (repeatable);
                              only --subscription-reader lets identities read it
    --lro async|location|none how writes complete: with Azure-AsyncOperation, with a
                              Location only, or at once (default none)
    --lro-polls N             times a long-running operation is still in progress
                              when polled, before it succeeds (default 2)
    --vault                   the foreign host acts as a Key Vault, at
                              ARMI_VAULT_ENDPOINT (every secret's value is s3cr3t);
                              it takes tokens whose audience is that URL

  Data planes:
    --keyvault NAME           a Key Vault NAME (repeatable) with secrets db-password (two
                              versions) and api-key, readable by every identity of the VM;
                              adds ARMI_VAULT_ENDPOINT=https://localhost:PORT (the vault is
                              NAME.localhost:PORT, which clients resolve to 127.0.0.1)
    --azurite                 start Azurite (tests/azurite, `make azurite`) with a
                              certificate from the same CA, holding container demo with
                              blob hello.txt; adds ARMI_BLOB_ENDPOINT (the account,
                              host-style: https://devstoreaccount1.blob.localhost:PORT),
                              ARMI_BLOB_URL (the demo blob) and ARMI_AZURITE_URL (path-style)
    --propagation SECS        the VM's role assignments (ARM Reader on its group, Key Vault
                              readers) take effect only SECS after start, as a new role
                              assignment does (for --wait-access)

  Other managed-identity hosts (each adds the variables that host sets):
    --arc                     Azure Arc agent: IDENTITY_ENDPOINT, IMDS_ENDPOINT, and
                              ARMI_ARC_TOKEN_DIR (its stand-in for /var/opt/azcmagent/tokens)
    --app-service             App Service / Functions: IDENTITY_ENDPOINT, IDENTITY_HEADER
    --cloud-shell             Cloud Shell: MSI_ENDPOINT, AZUREPS_HOST_ENVIRONMENT
    --service-fabric          Service Fabric: IDENTITY_ENDPOINT (HTTPS, self-signed),
                              IDENTITY_HEADER, IDENTITY_SERVER_THUMBPRINT,
                              IDENTITY_API_VERSION
    --azure-ml                Azure ML: MSI_ENDPOINT, MSI_SECRET,
                              DEFAULT_IDENTITY_CLIENT_ID
    --workload                AKS workload identity: AZURE_FEDERATED_TOKEN_FILE (rewritten
                              before it expires), AZURE_CLIENT_ID, AZURE_TENANT_ID,
                              AZURE_AUTHORITY_HOST (Entra ID over TLS, same CA as ARM)
                              At most one of --arc, --app-service, --service-fabric, and
                              one of --cloud-shell, --azure-ml: they share variables.

  Throttling (off unless one of these is given; defaults as documented):
    --throttle                ARM and IMDS limits with the defaults below
    --arm-read-bucket N       reads per principal and subscription: bucket (250)
    --arm-read-refill N         and tokens added per second (25)
    --arm-write-bucket N      writes: bucket (200)
    --arm-write-refill N        and refill per second (10)
    --arm-delete-bucket N     deletes: bucket (200)
    --arm-delete-refill N       and refill per second (10)
    --arm-global-factor N     the subscription's bucket for all principals is N times
                              a principal's (15: 3750 reads, 375 a second)
    --throttled-costs         a request answered 429 takes a token too
    --throttle-debt none|bucket
                              how far below zero that takes a bucket: not at all, or
                              down to minus its capacity (Retry-After grows with it)
    --imds-identity-rate N    IMDS identity requests per second per VM (20)
    --imds-identity-concurrency N
                              IMDS identity requests at once per VM (5)
    --imds-metadata-rate N    other IMDS requests per second per VM (5)
    --imds-token-delay-ms N   how long IMDS takes to hand out a token (0)

  Many VMs:
    --vms N                   N VMs, each with its own IMDS on 127.0.1.1, 127.0.1.2, ...
                              (ARMI_FLEET_IMDS_ENDPOINTS lists them), sharing ARM
    --fleet-identity shared|system
                              the VMs share one user-assigned identity
                              (ARMI_FLEET_CLIENT_ID, for --client-id), or each has its
                              own system-assigned one (default), each Reader on the group

  Faults (--fault is repeatable; the first fault still active for a request answers it):
    --fault WHERE,WHAT[,times=N|,for=SECS][,retry-after=V]
                              break WHERE with WHAT: the first N matching requests
                              (times=N), for SECS seconds from the first one (for=SECS),
                              or every one (the default); retry-after=V sends
                              Retry-After: V with a STATUS
      WHERE:
        imds                  every IMDS request
        imds-token            IMDS /metadata/identity/oauth2/token
        imds-instance         IMDS /metadata/instance
        arm                   every ARM request
        arc                   the Azure Arc agent (--arc)
        app-service           the App Service identity endpoint (--app-service)
        cloud-shell           Cloud Shell's token endpoint (--cloud-shell)
        service-fabric        Service Fabric's token service (--service-fabric)
        azure-ml              Azure ML's identity endpoint (--azure-ml)
        authority             Entra ID's token endpoint of workload identity (--workload)
      WHAT:
        STATUS                that HTTP status (404, 410, 429, 500, 503...) with the
                              service's own error body and headers
        hang                  read the request, never answer (the connection stays open)
        slow=SECS             the headers at once, the body trickled over SECS seconds
        malformed             200 from the service with a body that is not its JSON
        proxy-page            a web proxy's 200 block page (Server: squid) in its place
        truncated             200 with the body's Content-Length, half of it, then close
        oversized=BYTES       200 with a body of BYTES bytes
        redirect=URL          302 to URL
        reset                 the connection reset without an answer

  Output:
    --env-file PATH           once listening, write ARMI_IMDS_ENDPOINT, ARMI_ARM_ENDPOINT,
                              SSL_CERT_FILE (the CA, copied to PATH.ca.pem) and the hosts'
                              variables to PATH, atomically; both files are removed on exit
    --exit-on-stdin-eof       also stop when standard input reaches end of file
    --log                     one line per request on stderr
    -h, --help                this text

The same variables are printed on stdout. Runs until SIGTERM or SIGINT.

EXAMPLE:
    armi-emulator --env-file /tmp/emu.env --log &
    until [ -e /tmp/emu.env ]; do sleep 0.1; done; . /tmp/emu.env
    armi-emulator --fault imds-token,410,times=3 --fault arm,429,times=1,retry-after=2
    armi-emulator --fault imds,proxy-page        # armi doctor: something else answers
";

/// The command line, as typed.
#[derive(Default)]
struct Options {
    imds_listen: Option<String>,
    arm_listen: Option<String>,
    arm_names: Vec<String>,
    az_environment: Option<String>,
    arm_cloud: Option<String>,
    no_roles: bool,
    groups: Vec<String>,
    faults: Vec<Fault>,
    user_identities: Vec<UserIdentity>,
    no_system_identity: bool,
    writer_system_identity: bool,
    subscription_reader: bool,
    page_size: Option<usize>,
    endless_pages: bool,
    resources_per_group: usize,
    extra_groups: usize,
    lro: Option<String>,
    lro_polls: Option<u32>,
    vault: bool,
    arc: bool,
    app_service: bool,
    cloud_shell: bool,
    service_fabric: bool,
    azure_ml: bool,
    workload: bool,
    key_vaults: Vec<String>,
    azurite: bool,
    propagation: Option<u64>,
    env_file: Option<PathBuf>,
    exit_on_stdin_eof: bool,
    log: bool,
    help: bool,
    throttling: Option<Throttling>,
    vms: Option<usize>,
    fleet_identity: Option<String>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("armi-emulator: {message}\n(see armi-emulator --help)");
            return ExitCode::from(2);
        }
    };
    if options.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("armi-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--imds-listen" => options.imds_listen = Some(value()?),
            "--arm-listen" => options.arm_listen = Some(value()?),
            "--arm-name" => options.arm_names.push(value()?),
            "--az-environment" => options.az_environment = Some(value()?),
            "--arm-cloud" => options.arm_cloud = Some(arm_cloud(&value()?)?),
            "--no-roles" => options.no_roles = true,
            "--group" => options.groups.push(value()?),
            "--fault" => options.faults.push(fault_flag::parse(&value()?)?),
            "--user-identity" => options.user_identities.push(user_identity(&value()?)?),
            "--env-file" => options.env_file = Some(PathBuf::from(value()?)),
            "--no-system-identity" => options.no_system_identity = true,
            "--writer-system-identity" => options.writer_system_identity = true,
            "--subscription-reader" => options.subscription_reader = true,
            "--page-size" => options.page_size = Some(number(&flag, &value()?)?),
            "--endless-pages" => options.endless_pages = true,
            "--resources-per-group" => options.resources_per_group = number(&flag, &value()?)?,
            "--extra-groups" => options.extra_groups = number(&flag, &value()?)?,
            "--lro" => options.lro = Some(lro_kind(&value()?)?),
            "--lro-polls" => options.lro_polls = Some(number(&flag, &value()?)?),
            "--vault" => options.vault = true,
            "--arc" => options.arc = true,
            "--app-service" => options.app_service = true,
            "--cloud-shell" => options.cloud_shell = true,
            "--service-fabric" => options.service_fabric = true,
            "--azure-ml" => options.azure_ml = true,
            "--workload" => options.workload = true,
            "--vms" => options.vms = Some(number(&flag, &value()?)?),
            "--fleet-identity" => options.fleet_identity = Some(fleet_identity(&value()?)?),
            "--throttle" => throttle_switch(&mut options, &flag),
            "--throttled-costs" => throttle_switch(&mut options, &flag),
            _ if THROTTLE_NUMBERS.contains(&flag.as_str()) => {
                throttle_number(&mut options, &flag, &value()?)?
            }
            "--keyvault" => options.key_vaults.push(vault_name(&value()?)?),
            "--azurite" => options.azurite = true,
            "--propagation" => options.propagation = Some(number(&flag, &value()?)?),
            "--exit-on-stdin-eof" => options.exit_on_stdin_eof = true,
            "--log" => options.log = true,
            "-h" | "--help" => options.help = true,
            _ => return Err(format!("unknown argument '{arg}'")),
        }
    }
    check_hosts(&options)?;
    Ok(options)
}

/// Refuses hosts whose variables would overwrite each other's: a real machine is one of them.
fn check_hosts(options: &Options) -> Result<(), String> {
    let identity_endpoint = [
        ("--arc", options.arc),
        ("--app-service", options.app_service),
        ("--service-fabric", options.service_fabric),
    ];
    let msi_endpoint = [
        ("--cloud-shell", options.cloud_shell),
        ("--azure-ml", options.azure_ml),
    ];
    for group in [&identity_endpoint[..], &msi_endpoint[..]] {
        let on: Vec<&str> = group
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect();
        if on.len() > 1 {
            return Err(format!(
                "{} set the same variables; choose one",
                on.join(" and ")
            ));
        }
    }
    Ok(())
}

fn user_identity(spec: &str) -> Result<UserIdentity, String> {
    match spec.split(':').collect::<Vec<_>>().as_slice() {
        [name, client_id, object_id]
            if ![name, client_id, object_id].iter().any(|s| s.is_empty()) =>
        {
            Ok(UserIdentity::new(name, client_id, object_id))
        }
        _ => Err(format!(
            "--user-identity wants NAME:CLIENTID:OBJECTID, got '{spec}'"
        )),
    }
}

fn number<T: std::str::FromStr>(flag: &str, raw: &str) -> Result<T, String> {
    raw.parse()
        .map_err(|_| format!("{flag} wants a number, got '{raw}'"))
}

/// The throttling flags that take a value.
const THROTTLE_NUMBERS: [&str; 12] = [
    "--arm-read-bucket",
    "--arm-read-refill",
    "--arm-write-bucket",
    "--arm-write-refill",
    "--arm-delete-bucket",
    "--arm-delete-refill",
    "--arm-global-factor",
    "--throttle-debt",
    "--imds-identity-rate",
    "--imds-identity-concurrency",
    "--imds-metadata-rate",
    "--imds-token-delay-ms",
];

fn throttle_switch(options: &mut Options, flag: &str) {
    let throttling = options.throttling.get_or_insert_with(Throttling::default);
    if flag == "--throttled-costs" {
        throttling.arm.throttled_costs = true;
    }
}

fn throttle_number(options: &mut Options, flag: &str, raw: &str) -> Result<(), String> {
    let t = options.throttling.get_or_insert_with(Throttling::default);
    let n = || number::<u32>(flag, raw);
    match flag {
        "--arm-read-bucket" => t.arm.reads.capacity = n()?,
        "--arm-read-refill" => t.arm.reads.refill_per_sec = n()?,
        "--arm-write-bucket" => t.arm.writes.capacity = n()?,
        "--arm-write-refill" => t.arm.writes.refill_per_sec = n()?,
        "--arm-delete-bucket" => t.arm.deletes.capacity = n()?,
        "--arm-delete-refill" => t.arm.deletes.refill_per_sec = n()?,
        "--arm-global-factor" => t.arm.global_factor = n()?,
        "--throttle-debt" => {
            t.arm.debt = match raw {
                "none" => Debt::None,
                "bucket" => Debt::OneBucket,
                _ => return Err(format!("{flag} wants none or bucket, got '{raw}'")),
            }
        }
        "--imds-identity-rate" => t.imds.identity_per_sec = n()?,
        "--imds-identity-concurrency" => t.imds.identity_concurrent = n()?,
        "--imds-metadata-rate" => t.imds.metadata_per_sec = n()?,
        _ => t.imds_token_delay = Duration::from_millis(number(flag, raw)?),
    }
    Ok(())
}

fn fleet_identity(raw: &str) -> Result<String, String> {
    match raw {
        "shared" | "system" => Ok(raw.to_string()),
        _ => Err(format!(
            "--fleet-identity wants shared or system, got '{raw}'"
        )),
    }
}

/// The clouds ARM can act as, by their canonical names (any case).
fn arm_cloud(raw: &str) -> Result<String, String> {
    ["AzurePublicCloud", "AzureUSGovernmentCloud", "AzureChinaCloud"]
        .into_iter()
        .find(|name| name.eq_ignore_ascii_case(raw))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "--arm-cloud wants AzurePublicCloud, AzureUSGovernmentCloud or AzureChinaCloud, got '{raw}'"
            )
        })
}

/// Vault names are 3–24 letters, digits and `-`, starting with a letter, not ending in `-`,
/// without `--`.
fn vault_name(raw: &str) -> Result<String, String> {
    let valid = (3..=24).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_alphabetic())
        && !raw.ends_with('-')
        && !raw.contains("--")
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(raw.to_string())
    } else {
        Err(format!(
            "--keyvault wants a vault name (3-24 letters, digits and -), got '{raw}'"
        ))
    }
}

fn lro_kind(raw: &str) -> Result<String, String> {
    match raw {
        "async" | "location" | "none" => Ok(raw.to_string()),
        _ => Err(format!("--lro wants async, location or none, got '{raw}'")),
    }
}

fn scenario(options: &Options) -> Scenario {
    let mut scenario = Scenario::default();
    if let Some(addr) = &options.imds_listen {
        scenario.imds_listen = addr.clone();
    }
    if let Some(addr) = &options.arm_listen {
        scenario.arm_listen = addr.clone();
    }
    if let Some(name) = &options.az_environment {
        scenario.az_environment = name.clone();
        scenario.arm_cloud = arm_cloud_for(name).to_string();
    }
    if let Some(cloud) = &options.arm_cloud {
        scenario.arm_cloud = cloud.clone();
    }
    scenario.arm_hostnames = options.arm_names.clone();
    scenario.system_identity = !options.no_system_identity;
    let own_group = scenario.group_scope(&scenario.resource_group);
    for user in &options.user_identities {
        scenario
            .grants
            .push(Grant::new(&user.object_id, &own_group));
    }
    scenario.user_identities = options.user_identities.clone();
    if options.writer_system_identity {
        let writer = Grant::new(&scenario.system_object_id(), &own_group);
        scenario.writers.push(writer);
    }
    if options.subscription_reader {
        let sub_scope = scenario.subscription_scope();
        let mut readers: Vec<String> = options
            .user_identities
            .iter()
            .map(|u| u.object_id.clone())
            .collect();
        readers.push(scenario.system_object_id());
        for reader in readers {
            scenario.grants.push(Grant::new(&reader, &sub_scope));
        }
    }
    if options.no_roles {
        scenario
            .grants
            .retain(|grant| !grant.scope.eq_ignore_ascii_case(&own_group));
    }
    scenario.groups.extend(options.groups.iter().cloned());
    scenario.faults.extend(options.faults.iter().cloned());
    scenario.page_size = options.page_size;
    scenario.endless_pages = options.endless_pages;
    scenario.resources_per_group = options.resources_per_group;
    scenario.extra_group_count = options.extra_groups;
    let polls = options.lro_polls.unwrap_or(2);
    scenario.lro = match options.lro.as_deref() {
        Some("async") => Lro::AsyncOperation {
            polls,
            outcome: Outcome::Succeeded,
        },
        Some("location") => Lro::Location {
            polls,
            outcome: Outcome::Succeeded,
        },
        _ => Lro::None,
    };
    scenario.vault = options.vault;
    scenario.arc = options.arc.then(Arc::default);
    scenario.app_service = options.app_service;
    scenario.cloud_shell = options.cloud_shell;
    scenario.service_fabric = options.service_fabric;
    scenario.azure_ml = options.azure_ml;
    scenario.workload = options.workload;
    scenario.throttling = options.throttling.clone();
    scenario.fleet = options
        .vms
        .map(|vms| match options.fleet_identity.as_deref() {
            Some("shared") => Fleet::shared(vms),
            _ => Fleet::system(vms),
        });
    let readers = vm_principals(&scenario);
    let delay = Duration::from_secs(options.propagation.unwrap_or(0));
    for name in &options.key_vaults {
        let vault = readers.iter().fold(demo_vault(name), |vault, reader| {
            vault.readable_after(reader, delay)
        });
        scenario.key_vaults.push(vault);
    }
    if options.propagation.is_some() {
        delay_grants(&mut scenario, &readers, delay);
    }
    scenario
}

/// The object ids of the VM's own identities.
fn vm_principals(scenario: &Scenario) -> Vec<String> {
    let system = scenario
        .system_identity
        .then(|| scenario.system_object_id());
    system
        .into_iter()
        .chain(scenario.user_identities.iter().map(|u| u.object_id.clone()))
        .collect()
}

/// A vault with the demo's secrets: `db-password` in two versions, `api-key`.
fn demo_vault(name: &str) -> KeyVault {
    KeyVault::new(name)
        .with_secret("db-password", "old-password")
        .with_secret("db-password", "s3cr3t")
        .with_secret("api-key", "k-0123456789")
}

/// Turns the ARM grants of `principals` into grants that take effect only after `delay`.
fn delay_grants(scenario: &mut Scenario, principals: &[String], delay: Duration) {
    let ours = |grant: &Grant| {
        principals
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&grant.principal_object_id))
    };
    let (readers, others): (Vec<Grant>, Vec<Grant>) =
        scenario.grants.drain(..).partition(|g| ours(g));
    let (writers, other_writers): (Vec<Grant>, Vec<Grant>) =
        scenario.writers.drain(..).partition(|g| ours(g));
    scenario.grants = others;
    scenario.writers = other_writers;
    let pending = readers
        .into_iter()
        .map(|grant| (Role::Reader, grant))
        .chain(writers.into_iter().map(|grant| (Role::Contributor, grant)));
    for (role, grant) in pending {
        scenario.pending_grants.push(PendingGrant {
            role,
            grant,
            effective_after: delay,
        });
    }
}

fn run(options: Options) -> Result<(), String> {
    let emulator =
        Emulator::try_start(scenario(&options)).map_err(|e| format!("cannot start: {e}"))?;
    emulator.set_log(options.log);
    let azurite = match options.azurite {
        true => Some(start_azurite(&emulator)?),
        false => None,
    };
    signals::install();
    // The projected token lives at one path that the kubelet rewrites before it expires.
    let token_file = options
        .workload
        .then(|| emulator.write_federated_token(false));
    let world = World {
        emulator: &emulator,
        azurite: azurite.as_ref(),
        token_file: token_file.as_deref(),
    };
    let written = match &options.env_file {
        Some(path) => Some(write_env_file(&world, path)?),
        None => None,
    };
    let ca = written
        .as_ref()
        .map_or_else(|| emulator.ca_file(), |w| w.ca.clone());
    println!("{}", env_lines(&world, &ca));
    if options.exit_on_stdin_eof {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            signals::STOP.store(true, Ordering::SeqCst);
        });
    }
    let mut refreshed = Instant::now();
    while !signals::STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(path) = &token_file
            && refreshed.elapsed() >= TOKEN_REFRESH
        {
            let fresh = emulator.write_federated_token(false);
            std::fs::rename(&fresh, path).map_err(|e| format!("refreshing the token: {e}"))?;
            refreshed = Instant::now();
        }
    }
    if let Some(written) = written {
        let _ = std::fs::remove_file(&written.env);
        let _ = std::fs::remove_file(&written.ca);
    }
    drop(azurite);
    drop(emulator);
    Ok(())
}

/// What the printed variables describe.
struct World<'a> {
    emulator: &'a Emulator,
    azurite: Option<&'a Azurite>,
    token_file: Option<&'a Path>,
}

/// The demo's blob: container and name.
const DEMO_CONTAINER: &str = "demo";
const DEMO_BLOB: &str = "hello.txt";

/// Azurite with a certificate from the emulator's CA, holding the demo blob (put with a token
/// the emulator minted, so Azurite took it as it takes the VM's).
fn start_azurite(emulator: &Emulator) -> Result<Azurite, String> {
    let azurite = Azurite::try_start(emulator.ca())?;
    let token = emulator.token_for(STORAGE_AUDIENCE);
    let client = BlobClient::new(&azurite.url(), emulator.ca().pem(), &token);
    let created = client
        .create_container(DEMO_CONTAINER)
        .map_err(|e| format!("Azurite: creating the demo container: {e}"))?;
    let put = client
        .put_blob(
            DEMO_CONTAINER,
            DEMO_BLOB,
            b"Hello from Azurite, read as this VM.\n",
        )
        .map_err(|e| format!("Azurite: putting the demo blob: {e}"))?;
    if created.status != 201 || put.status != 201 {
        return Err(format!(
            "Azurite refused the demo blob: {} {}",
            created.status,
            put.text()
        ));
    }
    Ok(azurite)
}

/// The kubelet renews a projected token at 80 % of its hour.
const TOKEN_REFRESH: Duration = Duration::from_secs(48 * 60);

fn env_lines(world: &World, ca: &Path) -> String {
    let emulator = world.emulator;
    let mut vars = vec![
        ("ARMI_IMDS_ENDPOINT", emulator.imds_url()),
        ("ARMI_ARM_ENDPOINT", emulator.arm_url()),
        ("SSL_CERT_FILE", ca.display().to_string()),
    ];
    vars.extend(host_vars(emulator, world.token_file));
    vars.extend(fleet_vars(emulator));
    if !emulator.scenario().key_vaults.is_empty() {
        vars.push(("ARMI_VAULT_ENDPOINT", emulator.key_vault_url()));
    }
    if let Some(azurite) = world.azurite {
        let account = format!(
            "https://{AZURITE_ACCOUNT}.blob.localhost:{}",
            azurite.port()
        );
        vars.push((
            "ARMI_BLOB_URL",
            format!("{account}/{DEMO_CONTAINER}/{DEMO_BLOB}"),
        ));
        vars.push(("ARMI_BLOB_ENDPOINT", account));
        vars.push(("ARMI_AZURITE_URL", azurite.url()));
    }
    vars.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fleet's IMDS endpoints, quoted for a shell, and the shared identity's client id.
fn fleet_vars(emulator: &Emulator) -> Vec<(&'static str, String)> {
    let Some(fleet) = &emulator.scenario().fleet else {
        return Vec::new();
    };
    let urls: Vec<String> = (0..emulator.vm_count())
        .map(|vm| emulator.vm_imds_url(vm))
        .collect();
    let mut vars = vec![(
        "ARMI_FLEET_IMDS_ENDPOINTS",
        format!("\"{}\"", urls.join(" ")),
    )];
    if let FleetIdentity::Shared(identity) = &fleet.identity {
        vars.push(("ARMI_FLEET_CLIENT_ID", identity.client_id.clone()));
    }
    vars
}

/// What each switched-on host puts in its processes' environment (protocol.md §5).
fn host_vars(emulator: &Emulator, token_file: Option<&Path>) -> Vec<(&'static str, String)> {
    let scenario = emulator.scenario();
    let mut vars = Vec::new();
    if scenario.vault {
        vars.push(("ARMI_VAULT_ENDPOINT", emulator.foreign_url()));
    }
    if scenario.arc.is_some() {
        vars.push(("IDENTITY_ENDPOINT", emulator.arc_url()));
        vars.push(("IMDS_ENDPOINT", emulator.arc_imds_url()));
        let key_dir = emulator.arc_key_dir().display().to_string();
        vars.push(("ARMI_ARC_TOKEN_DIR", key_dir));
    }
    if scenario.app_service {
        vars.push(("IDENTITY_ENDPOINT", emulator.app_service_url()));
        vars.push(("IDENTITY_HEADER", emulator.app_service_secret()));
    }
    if scenario.service_fabric {
        vars.push(("IDENTITY_ENDPOINT", emulator.service_fabric_url()));
        vars.push(("IDENTITY_HEADER", emulator.service_fabric_secret()));
        vars.push((
            "IDENTITY_SERVER_THUMBPRINT",
            emulator.service_fabric_thumbprint(),
        ));
        vars.push(("IDENTITY_API_VERSION", "2019-07-01-preview".into()));
    }
    if scenario.cloud_shell {
        vars.push(("MSI_ENDPOINT", emulator.cloud_shell_url()));
        vars.push(("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0".into()));
    }
    if scenario.azure_ml {
        vars.push(("MSI_ENDPOINT", emulator.azure_ml_url()));
        vars.push(("MSI_SECRET", emulator.azure_ml_secret()));
        // The platform names the compute's own identity (MSAL JS#7609).
        vars.push(("DEFAULT_IDENTITY_CLIENT_ID", scenario.system_client_id()));
    }
    if let Some(token_file) = token_file {
        vars.push((
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ));
        vars.push(("AZURE_CLIENT_ID", emulator.workload_client_id()));
        vars.push(("AZURE_TENANT_ID", emulator.workload_tenant_id()));
        vars.push(("AZURE_AUTHORITY_HOST", emulator.authority_url()));
    }
    vars
}

struct Written {
    env: PathBuf,
    ca: PathBuf,
}

/// Writes the CA copy, then the env file, each under a temporary name renamed into place, so a
/// reader polling for the env file finds it whole and finds the CA it names.
fn write_env_file(world: &World, path: &Path) -> Result<Written, String> {
    let emulator = world.emulator;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("--env-file directory {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("--env-file {} names no file", path.display()))?
        .to_string_lossy()
        .into_owned();
    let env = dir.join(&name);
    let ca = dir.join(format!("{name}.ca.pem"));
    let pem = std::fs::read(emulator.ca_file()).map_err(|e| format!("reading the CA: {e}"))?;
    write_atomically(&ca, &pem)?;
    let lines = env_lines(world, &ca);
    write_atomically(&env, format!("{lines}\n").as_bytes())?;
    Ok(Written { env, ca })
}

fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), String> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp{}", std::process::id()));
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, contents)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// SIGTERM and SIGINT only raise a flag, so the main loop can stop the emulator and remove
/// its files instead of dying with them in place.
mod signals {
    use std::sync::atomic::{AtomicBool, Ordering};

    pub static STOP: AtomicBool = AtomicBool::new(false);

    extern "C" fn raise_flag(_signal: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }

    pub fn install() {
        let handler = raise_flag as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGINT, handler);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_repeatable_and_inline_flags() {
        let options = parse(args(&[
            "--arm-name",
            "management.azure.com",
            "--arm-name=localhost.example",
            "--user-identity",
            "uai:c1:o1",
            "--no-system-identity",
            "--imds-listen=169.254.169.254:80",
        ]))
        .expect("valid flags");
        assert_eq!(options.arm_names.len(), 2);
        assert_eq!(options.user_identities[0].object_id, "o1");
        assert!(options.no_system_identity);
        assert_eq!(options.imds_listen.as_deref(), Some("169.254.169.254:80"));
    }

    #[test]
    fn rejects_unknown_flags_and_bad_identities() {
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(parse(args(&["--user-identity", "only:two"])).is_err());
        assert!(parse(args(&["--env-file"])).is_err());
    }

    #[test]
    fn list_and_write_flags_shape_the_scenario() {
        let options = parse(args(&[
            "--page-size=10",
            "--endless-pages",
            "--resources-per-group",
            "50000",
            "--extra-groups",
            "22",
            "--writer-system-identity",
            "--lro",
            "location",
            "--lro-polls=3",
        ]))
        .expect("valid flags");
        let scenario = scenario(&options);
        assert_eq!(scenario.page_size, Some(10));
        assert!(scenario.endless_pages);
        assert!(!super::scenario(&parse(args(&[])).expect("valid")).endless_pages);
        assert_eq!(scenario.resources_per_group, 50_000);
        assert_eq!(scenario.extra_group_count, 22);
        assert_eq!(scenario.writers.len(), 1);
        assert!(matches!(scenario.lro, Lro::Location { polls: 3, .. }));
        assert!(parse(args(&["--lro", "sometimes"])).is_err());
        assert!(parse(args(&["--page-size", "many"])).is_err());
    }

    #[test]
    fn host_flags_switch_hosts_on_and_refuse_shared_variables() {
        let options = parse(args(&["--arc", "--cloud-shell", "--workload"])).expect("valid");
        let scenario = scenario(&options);
        assert!(scenario.arc.is_some() && scenario.cloud_shell && scenario.workload);
        assert!(!scenario.app_service && !scenario.service_fabric && !scenario.azure_ml);
        assert!(parse(args(&["--arc", "--app-service"])).is_err());
        assert!(parse(args(&["--app-service", "--service-fabric"])).is_err());
        assert!(parse(args(&["--cloud-shell", "--azure-ml"])).is_err());
        assert!(parse(args(&["--service-fabric", "--azure-ml", "--workload"])).is_ok());
    }

    #[test]
    fn the_env_names_what_each_host_sets() {
        let options =
            parse(args(&["--service-fabric", "--azure-ml", "--workload"])).expect("valid");
        let emulator = Emulator::start(scenario(&options));
        let token_file = emulator.write_federated_token(false);
        let world = World {
            emulator: &emulator,
            azurite: None,
            token_file: Some(&token_file),
        };
        let lines = env_lines(&world, Path::new("/ca.pem"));
        for name in [
            "ARMI_IMDS_ENDPOINT=http://127.0.0.1:",
            "IDENTITY_ENDPOINT=https://127.0.0.1:",
            "IDENTITY_HEADER=",
            "IDENTITY_SERVER_THUMBPRINT=",
            "MSI_ENDPOINT=http://127.0.0.1:",
            "MSI_SECRET=",
            "AZURE_FEDERATED_TOKEN_FILE=/",
            "AZURE_CLIENT_ID=",
            "AZURE_TENANT_ID=",
            "AZURE_AUTHORITY_HOST=https://127.0.0.1:",
        ] {
            assert!(
                lines.lines().any(|line| line.starts_with(name)),
                "{name} missing in {lines}"
            );
        }
    }

    #[test]
    fn throttling_is_off_unless_a_throttling_flag_is_given() {
        let options = parse(args(&[])).expect("valid");
        assert!(scenario(&options).throttling.is_none());
        let options = parse(args(&["--throttle"])).expect("valid");
        assert_eq!(scenario(&options).throttling, Some(Throttling::default()));
    }

    #[test]
    fn throttling_flags_set_every_number() {
        let options = parse(args(&[
            "--arm-read-bucket=10",
            "--arm-read-refill=2",
            "--arm-write-bucket=3",
            "--arm-write-refill=4",
            "--arm-delete-bucket=5",
            "--arm-delete-refill=6",
            "--arm-global-factor=7",
            "--throttled-costs",
            "--throttle-debt=bucket",
            "--imds-identity-rate=8",
            "--imds-identity-concurrency=9",
            "--imds-metadata-rate=11",
            "--imds-token-delay-ms=12",
        ]))
        .expect("valid");
        let t = scenario(&options).throttling.expect("on");
        assert_eq!((t.arm.reads.capacity, t.arm.reads.refill_per_sec), (10, 2));
        assert_eq!((t.arm.writes.capacity, t.arm.writes.refill_per_sec), (3, 4));
        assert_eq!(
            (t.arm.deletes.capacity, t.arm.deletes.refill_per_sec),
            (5, 6)
        );
        assert_eq!(t.arm.global_factor, 7);
        assert!(t.arm.throttled_costs);
        assert_eq!(t.arm.debt, Debt::OneBucket);
        assert_eq!(
            (t.imds.identity_per_sec, t.imds.identity_concurrent),
            (8, 9)
        );
        assert_eq!(t.imds.metadata_per_sec, 11);
        assert_eq!(t.imds_token_delay, Duration::from_millis(12));
        assert!(parse(args(&["--throttle-debt", "lots"])).is_err());
        assert!(parse(args(&["--arm-read-bucket", "-1"])).is_err());
    }

    #[test]
    fn a_fleet_lists_its_imds_endpoints_and_shared_client_id() {
        let options = parse(args(&["--vms", "3", "--fleet-identity", "shared"])).expect("valid");
        let emulator = Emulator::start(scenario(&options));
        let world = World {
            emulator: &emulator,
            azurite: None,
            token_file: None,
        };
        let lines = env_lines(&world, Path::new("/ca.pem"));
        let endpoints = lines
            .lines()
            .find_map(|line| line.strip_prefix("ARMI_FLEET_IMDS_ENDPOINTS="))
            .expect("the fleet's endpoints");
        assert!(endpoints.starts_with("\"http://127.0.1.1:"), "{endpoints}");
        assert_eq!(endpoints.split(' ').count(), 3);
        let client = Fleet::shared_identity().client_id;
        assert!(lines.contains(&format!("ARMI_FLEET_CLIENT_ID={client}")));
        assert!(parse(args(&["--fleet-identity", "both"])).is_err());
    }

    #[test]
    fn vault_runs_the_key_vault_and_names_it() {
        let options = parse(args(&["--vault"])).expect("valid");
        let emulator = Emulator::start(scenario(&options));
        assert!(emulator.scenario().vault);
        let world = World {
            emulator: &emulator,
            azurite: None,
            token_file: None,
        };
        let lines = env_lines(&world, Path::new("/ca.pem"));
        let vault = format!("ARMI_VAULT_ENDPOINT={}", emulator.foreign_url());
        assert!(
            lines.lines().any(|line| line == vault),
            "{vault} missing in {lines}"
        );
        let plain = Emulator::start(scenario(&parse(args(&[])).expect("valid")));
        let plain = World {
            emulator: &plain,
            azurite: None,
            token_file: None,
        };
        assert!(!env_lines(&plain, Path::new("/ca.pem")).contains("ARMI_VAULT_ENDPOINT"));
    }

    #[test]
    fn diagnosis_flags_shape_the_scenario() {
        let options = parse(args(&[
            "--arm-cloud",
            "azureusgovernmentcloud",
            "--no-roles",
            "--group=rg-web",
            "--fault",
            "imds,proxy-page",
            "--fault=imds-token,410,times=2",
        ]))
        .expect("valid flags");
        let scenario = scenario(&options);
        assert_eq!(scenario.arm_cloud, "AzureUSGovernmentCloud");
        assert_eq!(scenario.az_environment, "AZUREPUBLICCLOUD");
        let own_group = scenario.group_scope(&scenario.resource_group);
        assert!(!reads(&scenario.grants, &scenario, &own_group));
        assert_eq!(scenario.groups, ["rg-web"]);
        assert_eq!(scenario.faults.len(), 2);
        assert!(matches!(
            scenario.faults[1].limit,
            armi_emulator::Limit::Times(2)
        ));
        let healthy = scenario_of(&[]);
        assert!(reads(&healthy.grants, &healthy, &own_group));
        assert!(parse(args(&["--arm-cloud", "mars"])).is_err());
        assert!(parse(args(&["--fault", "imds"])).is_err());
    }

    #[test]
    fn no_roles_keeps_the_grants_of_other_flags() {
        let scenario = scenario_of(&["--no-roles", "--subscription-reader"]);
        let own_group = scenario.group_scope(&scenario.resource_group);
        assert!(reads(&scenario.grants, &scenario, &own_group));
        let writer = scenario_of(&["--no-roles", "--writer-system-identity"]);
        assert!(reads(&writer.writers, &writer, &own_group));
        assert!(!reads(&writer.grants, &writer, &own_group));
    }

    /// Whether one of `grants` covers `scope` for the system identity.
    fn reads(grants: &[Grant], scenario: &Scenario, scope: &str) -> bool {
        let oid = scenario.system_object_id();
        grants.iter().any(|grant| grant.covers(&oid, scope))
    }

    #[test]
    fn the_help_lists_every_flag_the_parser_takes_and_no_other() {
        // The flags of the parser's match arms, read from this file's own source.
        let source = include_str!("main.rs");
        let mut parsed: Vec<&str> = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix('"'))
            .filter(|rest| rest.starts_with("--") && rest.contains("\" =>"))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        // The throttling numbers share one arm, through their table.
        parsed.extend(THROTTLE_NUMBERS);
        assert!(parsed.len() > 20, "found only {parsed:?}");
        let listed: Vec<&str> = HELP
            .lines()
            .filter_map(|line| line.trim_start().split([' ', ',']).next())
            .filter(|word| word.starts_with("--"))
            .collect();
        for flag in &parsed {
            assert!(listed.contains(flag), "{flag} is not in --help");
        }
        for flag in &listed {
            assert!(
                parsed.contains(flag),
                "--help lists {flag}, which is not parsed"
            );
        }
    }

    fn scenario_of(list: &[&str]) -> Scenario {
        scenario(&parse(args(list)).expect("valid flags"))
    }

    #[test]
    fn data_plane_flags_add_vaults_and_delay_the_vm_grants() {
        let options = parse(args(&["--keyvault", "kv-demo", "--propagation=30"])).expect("valid");
        let scenario = scenario(&options);
        let system = scenario.system_object_id();
        assert_eq!(scenario.key_vaults.len(), 1);
        let vault = &scenario.key_vaults[0];
        assert_eq!(vault.name, "kv-demo");
        assert!(vault.secret("db-password").is_some() && vault.secret("api-key").is_some());
        assert_eq!(vault.readers[0].principal_object_id, system);
        assert_eq!(vault.readers[0].effective_after, Duration::from_secs(30));
        assert!(
            !scenario
                .grants
                .iter()
                .any(|g| g.principal_object_id == system)
        );
        let pending = &scenario.pending_grants;
        assert!(pending.iter().any(|p| p.grant.principal_object_id == system
            && p.effective_after == Duration::from_secs(30)));
        for bad in ["kv", "9vault", "kv--demo", "kv-demo-", "kv_demo"] {
            assert!(parse(args(&["--keyvault", bad])).is_err(), "{bad}");
        }
        let emulator = Emulator::start(scenario);
        let world = World {
            emulator: &emulator,
            azurite: None,
            token_file: None,
        };
        let lines = env_lines(&world, Path::new("/ca.pem"));
        assert!(
            lines.contains("ARMI_VAULT_ENDPOINT=https://localhost:"),
            "{lines}"
        );
    }

    #[test]
    fn az_environment_picks_the_arm_cloud() {
        let options = parse(args(&["--az-environment", "AzureUSGovernmentCloud"])).expect("valid");
        assert_eq!(scenario(&options).arm_cloud, "AzureUSGovernmentCloud");
    }
}
