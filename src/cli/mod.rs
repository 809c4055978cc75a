//! The command line: argv and the environment → a command to run with validated settings.
//!
//! lexopt only tokenises. One loop fills [`Given`] with what was written, flags before or after
//! the command; help and version short-circuit before any validation. Then a flag the command
//! does not take is refused by name, the shared flags become [`Settings`], and the command's own
//! `parse` validates its arguments into its own typed job. Bad input is exit 2 before anything
//! is sent.
//!
//! The commands themselves are a table of [`Command`]s (in `cmd`), which drives dispatch, help,
//! the unknown-command hint, the man page and the completions alike.

pub mod flags;
pub mod generate;
pub mod help;
mod settings;

use std::collections::VecDeque;
use std::ffi::OsString;

pub use flags::Flag;
pub use settings::{DEFAULT_TIMEOUT_SECS, Settings};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::text::echo;

/// One command: what help says about it, the flags it takes, the outputs it prints, and the
/// function that validates its arguments into the job to run (`J`, the runner's job type).
pub struct Command<J: ?Sized + 'static> {
    pub name: &'static str,
    /// Its arguments as help writes them: `[NAME]`, `METHOD PATH|URL`.
    pub args: &'static str,
    /// One line for the command list.
    pub summary: &'static str,
    /// What it does, for its own help and the man page: paragraphs of at most 78 columns.
    pub about: &'static str,
    /// Lines of examples, each a command (a `#` comment may follow).
    pub examples: &'static [&'static str],
    /// The flags it takes besides [`flags::EVERY_COMMAND`], in groups (such as
    /// [`flags::IDENTITY`]) so that commands share their lists.
    pub flags: &'static [&'static [&'static Flag]],
    /// Why a flag other commands take does not apply here, where that is worth saying.
    pub not_here: &'static [(&'static Flag, &'static str)],
    pub outputs: Outputs,
    pub parse: fn(&mut Args) -> Result<Box<J>>,
}

impl<J: ?Sized> Command<J> {
    /// Whether the command takes `flag`.
    pub fn takes(&self, flag: &Flag) -> bool {
        flags::EVERY_COMMAND
            .iter()
            .chain(self.flags.iter().copied().flatten())
            .any(|f| f.is(flag))
    }

    /// The flags it takes, in the order help lists them.
    pub fn all_flags(&self) -> impl Iterator<Item = &'static Flag> + '_ {
        flags::ALL_FLAGS.iter().copied().filter(|f| self.takes(f))
    }
}

/// What `-o` may say for a command: the data formats, and the command's own modes.
#[derive(Debug, Clone, Copy)]
pub struct Outputs {
    /// Modes only this command prints (`raw`, `env`, `header` for `token`; `report` for
    /// `doctor`). They are not data, so `--query` does not apply to them.
    pub own: &'static [&'static str],
    /// Without `-o`.
    pub default: &'static str,
    /// Without `-o`, when `--query` is given.
    pub with_query: &'static str,
}

impl Outputs {
    /// JSON unless told otherwise.
    pub const DATA: Outputs = Outputs {
        own: &[],
        default: "json",
        with_query: "json",
    };

    /// Every value `-o` takes for the command, the default first.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = vec![self.default];
        for name in self.own.iter().chain(&DATA_FORMATS) {
            if !names.contains(name) {
                names.push(name);
            }
        }
        names
    }
}

const DATA_FORMATS: [&str; 4] = ["json", "compact", "tsv", "none"];

/// What `-o` chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Data(Format),
    /// One of the command's own modes.
    Own(&'static str),
}

impl Output {
    /// The data format, JSON for a command's own mode.
    pub fn format(self) -> Format {
        match self {
            Output::Data(f) => f,
            Output::Own(_) => Format::Json,
        }
    }
}

/// What the command line asks for.
pub enum Parsed<J: ?Sized + 'static> {
    /// Print this on stdout, exit 0.
    Help(String),
    /// Print the version, exit 0.
    Version,
    /// Print this man page or completion script (`--generate`) on stdout, exit 0.
    Generate(String),
    /// No command: print this usage on stderr, exit 2.
    MissingCommand(String),
    Run {
        command: &'static Command<J>,
        job: Box<J>,
        settings: Box<Settings>,
        output: Output,
    },
}

/// What was written, before validation.
#[derive(Debug, Default)]
pub struct Given {
    pub command: Option<String>,
    positionals: Vec<String>,
    /// Each flag given, as spelled, with its value ("" for a switch).
    flags: Vec<(&'static Flag, String, String)>,
}

impl Given {
    pub fn has(&self, flag: &Flag) -> bool {
        self.flags.iter().any(|(f, _, _)| f.is(flag))
    }

    pub fn value(&self, flag: &Flag) -> Option<&str> {
        self.values(flag).next()
    }

    pub fn values(&self, flag: &Flag) -> impl Iterator<Item = &str> + '_ {
        let long = flag.long;
        self.flags
            .iter()
            .filter(move |(f, _, _)| f.long == long)
            .map(|(_, _, v)| v.as_str())
    }
}

/// Parses argv (without the program name) against the table of commands.
pub fn parse<I, J: ?Sized>(
    args: I,
    env: &Env,
    commands: &'static [&'static Command<J>],
) -> Result<Parsed<J>>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let given = tokenise(args)?;
    if given.has(&flags::VERSION) {
        return Ok(Parsed::Version);
    }
    if let Some(what) = given.value(&flags::GENERATE) {
        return generate::generate(what, commands).map(Parsed::Generate);
    }
    let asks_help = given.command.as_deref() == Some("help");
    if given.has(&flags::HELP) || asks_help {
        let topic = if asks_help {
            given.positionals.first()
        } else {
            given.command.as_ref()
        };
        return match topic {
            None => Ok(Parsed::Help(help::top(commands))),
            Some(name) if name == "help" => Ok(Parsed::Help(help::top(commands))),
            Some(name) => find(commands, name).map(|c| Parsed::Help(help::command(c))),
        };
    }
    let Some(name) = given.command.as_deref() else {
        return Ok(Parsed::MissingCommand(help::top(commands)));
    };
    let command = find(commands, name)?;
    refuse_flags_elsewhere(command, &given)?;
    let settings = Settings::resolve(&given, command, env)?;
    let mut args = Args {
        command_name: command.name,
        outputs: command.outputs,
        positionals: given.positionals.iter().cloned().collect(),
        given: &given,
        settings: &settings,
    };
    let job = (command.parse)(&mut args)?;
    args.finish()?;
    let output = args.output()?;
    Ok(Parsed::Run {
        command,
        job,
        settings: Box::new(settings),
        output,
    })
}

/// The command named `name`, or a usage error listing them all.
pub fn find<J: ?Sized>(
    commands: &'static [&'static Command<J>],
    name: &str,
) -> Result<&'static Command<J>> {
    commands
        .iter()
        .copied()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = commands.iter().map(|c| c.name).collect();
            Error::usage(format!("unknown command '{}'", echo(name)))
                .with_hint(format!("commands: {}; see armi --help", names.join(", ")))
        })
}

/// A flag the command does not take is refused, not silently ignored.
fn refuse_flags_elsewhere<J: ?Sized>(command: &Command<J>, given: &Given) -> Result<()> {
    for (flag, spelled, _) in &given.flags {
        if command.takes(flag) {
            continue;
        }
        let why = command
            .not_here
            .iter()
            .find(|(f, _)| f.is(flag))
            .map(|(_, why)| format!(" ({why})"))
            .unwrap_or_default();
        return Err(Error::usage(format!(
            "{spelled} does not apply to '{}'{why}",
            command.name
        ))
        .with_hint(format!(
            "see armi {} --help for the flags it takes",
            command.name
        )));
    }
    Ok(())
}

/// One pass over argv: flags anywhere, the first value is the command, the rest positionals.
fn tokenise<I>(args: I) -> Result<Given>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut given = Given::default();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        let (flag, spelled) = match &arg {
            Short(c) => (
                flags::ALL_FLAGS.iter().find(|f| f.short == Some(*c)),
                format!("-{c}"),
            ),
            Long(l) => (
                flags::ALL_FLAGS.iter().find(|f| f.long == *l),
                format!("--{l}"),
            ),
            Value(v) => {
                let v = v
                    .clone()
                    .into_string()
                    .map_err(|v| Error::usage(format!("argument {v:?} is not valid UTF-8")))?;
                if given.command.is_none() {
                    given.command = Some(v);
                } else {
                    given.positionals.push(v);
                }
                continue;
            }
        };
        let Some(flag) = flag.copied() else {
            return Err(Error::from(arg.unexpected()).with_hint("see armi --help"));
        };
        let value = match flag.value {
            None => String::new(),
            Some(_) => parser
                .value()?
                .into_string()
                .map_err(|v| Error::usage(format!("{spelled}: {v:?} is not valid UTF-8")))?,
        };
        if flag.value.is_some() && !flag.repeats && given.has(flag) {
            return Err(Error::usage(format!("{spelled} was given more than once")));
        }
        given.flags.push((flag, spelled, value));
    }
    Ok(given)
}

/// What a command's `parse` reads: its positional arguments, its flags, the shared settings.
pub struct Args<'a> {
    command_name: &'static str,
    outputs: Outputs,
    positionals: VecDeque<String>,
    given: &'a Given,
    pub settings: &'a Settings,
}

impl Args<'_> {
    /// The next positional argument, which must be there.
    pub fn positional(&mut self, what: &str) -> Result<String> {
        self.positionals.pop_front().ok_or_else(|| {
            Error::usage(format!("armi {}: {what} is missing", self.command_name))
                .with_hint(format!("see armi {} --help", self.command_name))
        })
    }

    /// The next positional argument, if there is one.
    pub fn optional(&mut self) -> Option<String> {
        self.positionals.pop_front()
    }

    pub fn value(&self, flag: &Flag) -> Option<&str> {
        self.given.value(flag)
    }

    pub fn values(&self, flag: &Flag) -> Vec<&str> {
        self.given.values(flag).collect()
    }

    pub fn switch(&self, flag: &Flag) -> bool {
        self.given.has(flag)
    }

    /// `-o`, checked against what the command prints.
    pub fn output(&self) -> Result<Output> {
        let query = self.settings.query.is_some();
        let name = match self.given.value(&flags::OUTPUT) {
            Some(name) => name,
            None if query => self.outputs.with_query,
            None => self.outputs.default,
        };
        if let Some(own) = self.outputs.own.iter().find(|o| **o == name) {
            if query {
                return Err(Error::usage(format!(
                    "--output {own} is not data, so --query cannot apply to it; choose json, compact or tsv"
                )));
            }
            return Ok(Output::Own(own));
        }
        match name.parse::<Format>() {
            Ok(format) => Ok(Output::Data(format)),
            Err(_) => Err(Error::usage(format!(
                "--output: '{}' is not one of {} for 'armi {}'",
                echo(name),
                self.outputs.names().join(", "),
                self.command_name
            ))),
        }
    }

    /// No positional argument left over.
    fn finish(&mut self) -> Result<()> {
        match self.positionals.front() {
            Some(v) => Err(Error::usage(format!(
                "armi {}: unexpected argument '{}'",
                self.command_name,
                echo(v)
            ))
            .with_hint(format!("see armi {} --help", self.command_name))),
            None => Ok(()),
        }
    }
}
