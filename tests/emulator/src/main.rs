//! `armi-emulator`: runs the IMDS + ARM emulator as a process, for `make demo`, the benchmark
//! and tests that run armi where the emulator must sit at IMDS's real address.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use armi_emulator::{Emulator, Grant, Lro, Outcome, Scenario, UserIdentity, arm_cloud_for};

const HELP: &str = "\
armi-emulator: Azure IMDS and ARM as armi's tests see them, on loopback by default

USAGE:
    armi-emulator [OPTIONS]

OPTIONS:
    --imds-listen ADDR        where IMDS listens (default 127.0.0.1:0)
    --arm-listen ADDR         where ARM listens over TLS (default 127.0.0.1:0)
    --arm-name NAME           extra DNS name on ARM's certificate (repeatable)
    --az-environment NAME     compute.azEnvironment, and the cloud ARM acts as
                              (default AZUREPUBLICCLOUD)
    --user-identity NAME:CLIENTID:OBJECTID
                              attach a user-assigned identity (repeatable); every
                              identity may read the VM's resource group
    --no-system-identity      the VM has no system-assigned identity
    --writer-system-identity  the system identity may also write to the VM's resource
                              group (PUT, PATCH, DELETE, POST actions)
    --subscription-reader     every identity may read the whole subscription (to list
                              the groups of --extra-groups)
    --page-size N             ARM lists answer at most N items per page (default 1000)
    --resources-per-group N   N generated resources in every resource group
    --extra-groups N          N generated resource groups rg-gen-0001...
    --lro async|location|none how writes complete: with Azure-AsyncOperation, with a
                              Location only, or at once (default none)
    --lro-polls N             times a long-running operation is still in progress
                              when polled, before it succeeds (default 2)
    --env-file PATH           once listening, write ARMI_IMDS_ENDPOINT, ARMI_ARM_ENDPOINT
                              and SSL_CERT_FILE (the CA, copied to PATH.ca.pem) to PATH,
                              atomically; both files are removed on exit
    --exit-on-stdin-eof       also stop when standard input reaches end of file
    --log                     one line per request on stderr
    -h, --help                this text

The same variables are printed on stdout. Runs until SIGTERM or SIGINT.

EXAMPLE:
    armi-emulator --env-file /tmp/emu.env --log &
    until [ -e /tmp/emu.env ]; do sleep 0.1; done; . /tmp/emu.env
";

/// The command line, as typed.
#[derive(Default)]
struct Options {
    imds_listen: Option<String>,
    arm_listen: Option<String>,
    arm_names: Vec<String>,
    az_environment: Option<String>,
    user_identities: Vec<UserIdentity>,
    no_system_identity: bool,
    writer_system_identity: bool,
    subscription_reader: bool,
    page_size: Option<usize>,
    resources_per_group: usize,
    extra_groups: usize,
    lro: Option<String>,
    lro_polls: Option<u32>,
    env_file: Option<PathBuf>,
    exit_on_stdin_eof: bool,
    log: bool,
    help: bool,
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
            "--user-identity" => options.user_identities.push(user_identity(&value()?)?),
            "--env-file" => options.env_file = Some(PathBuf::from(value()?)),
            "--no-system-identity" => options.no_system_identity = true,
            "--writer-system-identity" => options.writer_system_identity = true,
            "--subscription-reader" => options.subscription_reader = true,
            "--page-size" => options.page_size = Some(number(&flag, &value()?)?),
            "--resources-per-group" => options.resources_per_group = number(&flag, &value()?)?,
            "--extra-groups" => options.extra_groups = number(&flag, &value()?)?,
            "--lro" => options.lro = Some(lro_kind(&value()?)?),
            "--lro-polls" => options.lro_polls = Some(number(&flag, &value()?)?),
            "--exit-on-stdin-eof" => options.exit_on_stdin_eof = true,
            "--log" => options.log = true,
            "-h" | "--help" => options.help = true,
            _ => return Err(format!("unknown argument '{arg}'")),
        }
    }
    Ok(options)
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
    scenario.page_size = options.page_size;
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
    scenario
}

fn run(options: Options) -> Result<(), String> {
    let emulator =
        Emulator::try_start(scenario(&options)).map_err(|e| format!("cannot start: {e}"))?;
    emulator.set_log(options.log);
    signals::install();
    let written = match &options.env_file {
        Some(path) => Some(write_env_file(&emulator, path)?),
        None => None,
    };
    let ca = written
        .as_ref()
        .map_or_else(|| emulator.ca_file(), |w| w.ca.clone());
    println!("{}", env_lines(&emulator, &ca));
    if options.exit_on_stdin_eof {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            signals::STOP.store(true, Ordering::SeqCst);
        });
    }
    while !signals::STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(written) = written {
        let _ = std::fs::remove_file(&written.env);
        let _ = std::fs::remove_file(&written.ca);
    }
    drop(emulator);
    Ok(())
}

fn env_lines(emulator: &Emulator, ca: &Path) -> String {
    format!(
        "ARMI_IMDS_ENDPOINT={}\nARMI_ARM_ENDPOINT={}\nSSL_CERT_FILE={}",
        emulator.imds_url(),
        emulator.arm_url(),
        ca.display()
    )
}

struct Written {
    env: PathBuf,
    ca: PathBuf,
}

/// Writes the CA copy, then the env file, each under a temporary name renamed into place, so a
/// reader polling for the env file finds it whole and finds the CA it names.
fn write_env_file(emulator: &Emulator, path: &Path) -> Result<Written, String> {
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
    write_atomically(&env, format!("{}\n", env_lines(emulator, &ca)).as_bytes())?;
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
        assert_eq!(scenario.resources_per_group, 50_000);
        assert_eq!(scenario.extra_group_count, 22);
        assert_eq!(scenario.writers.len(), 1);
        assert!(matches!(scenario.lro, Lro::Location { polls: 3, .. }));
        assert!(parse(args(&["--lro", "sometimes"])).is_err());
        assert!(parse(args(&["--page-size", "many"])).is_err());
    }

    #[test]
    fn az_environment_picks_the_arm_cloud() {
        let options = parse(args(&["--az-environment", "AzureUSGovernmentCloud"])).expect("valid");
        assert_eq!(scenario(&options).arm_cloud, "AzureUSGovernmentCloud");
    }
}
