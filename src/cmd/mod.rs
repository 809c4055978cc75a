//! The commands: one file each, holding its help, the flags it takes, the validation of its
//! arguments and its run. [`COMMANDS`] is the table that dispatch, help, the man page and the
//! completions are made from. What several commands share (the context, the token, the scope,
//! printing) is here.

mod blob;
mod doctor;
mod get;
mod group;
mod groups;
mod instance;
mod resources;
mod rest;
mod secret;
mod target;
mod to_file;
mod token;
mod whoami;

#[cfg(test)]
mod tests;

use std::io::ErrorKind;

use serde_json::Value;

use crate::arm::pages::{self, Flow};
use crate::arm::{Origin, Session, Url};
use crate::cli::{self, Output, Parsed, Settings};
use crate::cloud::Cloud;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::http::{Deadline, Http};
use crate::output::{self, Failed, Format, ListPrinter, Miss, Query, Unprintable};
use crate::scope;
use crate::sources::imds::{self, Vm};
use crate::sources::{self, Source};
use crate::text;
use crate::token::Token;

/// A command's table row.
pub type Command = cli::Command<dyn Job>;

/// Every command, in the order help lists them.
pub static COMMANDS: &[&Command] = &[
    &group::COMMAND,
    &groups::COMMAND,
    &resources::COMMAND,
    &get::COMMAND,
    &rest::COMMAND,
    &token::COMMAND,
    &secret::COMMAND,
    &blob::COMMAND,
    &instance::COMMAND,
    &whoami::COMMAND,
    &doctor::COMMAND,
];

/// A command with its arguments validated, ready to run.
pub trait Job {
    fn run(&self, ctx: &Ctx) -> Result<()>;
}

/// What every command runs with.
pub struct Ctx<'a> {
    /// This VM, once instance metadata was read: hints name its group and name.
    vm: std::cell::OnceCell<Vm>,
    pub settings: &'a Settings,
    /// What `-o` chose, checked against the command's outputs.
    pub output: Output,
    pub env: &'a Env,
    pub http: &'a Http,
    pub source: &'a Source,
}

/// Parses the command line and runs what it asks for.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>, env: &Env) -> Result<()> {
    match cli::parse(args, env, COMMANDS)? {
        Parsed::Help(text) | Parsed::Generate(text) => output::print(text.as_bytes()),
        Parsed::Version => output::print(
            format!(
                "armi {} ({}, commit {})\n",
                env!("CARGO_PKG_VERSION"),
                env!("ARMI_TARGET"),
                env!("ARMI_COMMIT")
            )
            .as_bytes(),
        ),
        Parsed::MissingCommand(usage) => {
            crate::error::say(usage.trim_end());
            Err(Error::usage("no command given"))
        }
        Parsed::Run {
            job,
            settings,
            output,
            ..
        } => {
            let source = sources::detect(settings.source, &settings.imds_endpoint, env)?;
            let deadline = Deadline::from(settings.started, settings.timeout);
            let http = Http::new(deadline, settings.verbose, settings.remote.clone());
            let ctx = Ctx {
                vm: std::cell::OnceCell::new(),
                settings: &settings,
                output,
                env,
                http: &http,
                source: &source,
            };
            job.run(&ctx)
        }
    }
}

impl Ctx<'_> {
    /// Instance metadata, fetched only when something still needs it (the subscription or group,
    /// or the cloud when neither `--cloud` nor `ARMI_CLOUD` names one), and the cloud. Only VMs
    /// have instance metadata; elsewhere the cloud is `--cloud`'s, else public.
    pub fn vm_and_cloud(&self, needs_vm: bool) -> Result<(Option<Vm>, Cloud)> {
        let vm =
            if self.source.has_instance_metadata() && (needs_vm || self.settings.cloud.is_none()) {
                let doc = imds::instance(self.http, &self.settings.imds_endpoint)?;
                Some(Vm::from_instance(&doc))
            } else {
                None
            };
        let (cloud, why) = scope::cloud(self.settings.cloud, vm.as_ref())?;
        self.http.trace(&why);
        if let Some(vm) = &vm {
            let _ = self.vm.set(vm.clone());
        }
        Ok((vm, cloud))
    }

    /// A token for this cloud's ARM.
    pub fn arm_token(&self, cloud: &Cloud) -> Result<Token> {
        self.token_for(cloud.arm_audience, cloud)
    }

    /// Runs `call` with a token for `resource`; while the answer means "not yet" (a role still
    /// propagating, an identity not attached yet), asks for a new token and calls again, for
    /// up to `--wait-access` (`access::until_allowed`).
    pub fn with_token<T>(
        &self,
        resource: &str,
        cloud: &Cloud,
        mut call: impl FnMut(&Token) -> Result<T>,
    ) -> Result<T> {
        let mut done = None;
        crate::access::until_allowed(self.http, self.settings.wait_access, &mut || {
            done = Some(call(&self.token_for(resource, cloud)?)?);
            Ok(())
        })?;
        done.ok_or_else(|| Error::failed("internal: the call ended without an answer"))
    }

    /// A token for `resource` from the identity host.
    pub fn token_for(&self, resource: &str, cloud: &Cloud) -> Result<Token> {
        self.source
            .token(self.http, resource, &self.settings.identity, cloud)
            .map_err(|e| self.name_the_vm(e))
    }

    /// Fills in this VM's group and name where a hint has placeholders for them.
    fn name_the_vm(&self, mut e: Error) -> Error {
        let (Some(vm), Some(hint)) = (self.vm.get(), e.hint.as_mut()) else {
            return e;
        };
        if !vm.resource_group.is_empty() && !vm.name.is_empty() {
            let named = format!(
                "-g {} -n {}",
                text::shell_quote(&vm.resource_group),
                text::shell_quote(&vm.name)
            );
            *hint = hint.replace("-g GROUP -n VM", &named);
        }
        e
    }

    /// A session with ARM at `endpoint` for `token`.
    pub fn session<'t>(
        &'t self,
        endpoint: &crate::http::Endpoint,
        token: &'t Token,
    ) -> Session<'t> {
        Session::new(self.http, Origin::of(endpoint), token.access_token.expose())
    }

    /// Applies `--query` and prints in the chosen format.
    pub fn print_data(&self, value: Value) -> Result<()> {
        let format = self.output.format();
        let value = match &self.settings.query {
            Some(query) => query.select(&value).map_err(|miss| no_match(&miss))?,
            None => value,
        };
        output::print(output::render(&value, format).as_bytes())
    }

    /// Streams a list to stdout page by page.
    pub fn print_list(&self, session: &Session, first: Url, what: &str) -> Result<()> {
        let format = self.output.format();
        print_list(session, first, what, format, self.settings.query.as_ref())
    }
}

/// Streams a list to stdout page by page. A page is printed once it has all been read; if a
/// later page fails, the array printed so far is closed (`]`) so that it stays valid JSON, and
/// the error is the command's.
fn print_list(
    session: &Session,
    first: Url,
    what: &str,
    format: Format,
    query: Option<&Query>,
) -> Result<()> {
    let mut printer = ListPrinter::new(std::io::stdout().lock(), format, query);
    let mut closed = false;
    let listed = pages::each_page(session, first, what, &mut |page| {
        if printer.satisfied() {
            return Ok(Flow::Stop);
        }
        for item in &page.items {
            if let Err(e) = printer.push_text(item) {
                printer.abandon_page();
                return Err(unprintable(what, &e));
            }
            if printer.satisfied() {
                break;
            }
        }
        match printer.end_page() {
            Ok(()) if printer.satisfied() => Ok(Flow::Stop),
            Ok(()) => Ok(Flow::More),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                closed = true;
                Ok(Flow::Stop)
            }
            Err(e) => Err(write_failed(&e)),
        }
    });
    if let Err(e) = listed {
        // What was printed stays valid JSON; the exit code says the list is not whole.
        let _ = printer.close();
        return Err(e);
    }
    if closed {
        return Ok(());
    }
    match printer.end() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(miss)) => Err(no_match(&miss)),
        Err(Failed::Io(e)) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(Failed::Io(e)) => Err(write_failed(&e)),
        Err(Failed::Unprintable(e)) => Err(unprintable(what, &e)),
    }
}

fn unprintable(what: &str, e: &Unprintable) -> Error {
    match e {
        Unprintable::Refused(_) => Error::failed(format!(
            "{what}: ARM answered 200 but the body is not a list page ({e})"
        )),
        Unprintable::TooMuch => Error::failed(format!("{what}: {e}")).with_hint(
            "'[].key' takes a key from each item as it comes, and '[N]' stops at item N",
        ),
    }
}

fn write_failed(e: &std::io::Error) -> Error {
    Error::failed(format!("cannot write to stdout: {e}"))
}

fn no_match(miss: &Miss) -> Error {
    Error::failed(format!("--query matched nothing: {miss}"))
        .with_hint("check the path against the output without -q")
}
