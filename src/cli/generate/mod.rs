//! `armi --generate WHAT`: the man page and the bash, zsh and fish completions, made from the
//! table of commands, the flag definitions and the exit codes, like `--help`, so that none of
//! them can disagree with what the parser accepts. The output depends on nothing but the
//! sources: the man page's date is the commit's (from build.rs), never today's.
//!
//! One file per output; what they share is here: which flags a shell offers where, and what it
//! offers for a flag's value.

/// Appends formatted text to a `String` (which cannot fail), without a `String` of its own
/// per piece: the generators write many, and each `format!` costs the binary more code.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = $out.write_fmt(format_args!($($arg)*));
    }};
}

mod bash;
mod fish;
mod man;
mod zsh;

use super::Command;
use super::flags::{self, Completes, Flag};
use crate::error::{Error, Result};
use crate::text::echo;

/// What `--generate WHAT` prints, for each of [`flags::GENERATE_NAMES`].
pub fn generate<J: ?Sized>(what: &str, commands: &[&Command<J>]) -> Result<String> {
    match what {
        "man" => Ok(man::page(commands)),
        "complete-bash" => Ok(bash::script(commands)),
        "complete-zsh" => Ok(zsh::script(commands)),
        "complete-fish" => Ok(fish::script(commands)),
        _ => Err(Error::usage(format!(
            "--generate: '{}' is not one of {}",
            echo(what),
            flags::GENERATE_NAMES.join(", ")
        ))),
    }
}

/// The flags offered before a command: those `armi --help` lists.
fn top_flags() -> impl Iterator<Item = &'static Flag> {
    flags::ALL_FLAGS.iter().copied().filter(|f| f.global)
}

/// The command names, `help` last, as `armi --help` lists them.
fn names<J: ?Sized>(commands: &[&Command<J>]) -> Vec<&'static str> {
    let mut names: Vec<&str> = commands.iter().map(|c| c.name).collect();
    names.push("help");
    names
}

/// Every `-o` value of any command, for `-o` given before the command.
fn any_output<J: ?Sized>(commands: &[&Command<J>]) -> Vec<&'static str> {
    let mut all = Vec::new();
    for name in commands.iter().flat_map(|c| c.outputs.names()) {
        if !all.contains(&name) {
            all.push(name);
        }
    }
    all
}

/// What a shell offers for a flag's value, `-o`'s being the command's outputs.
enum Value<'a> {
    None,
    Words(&'a [&'a str]),
    File,
    /// A file after `@` (`--body @file.json`), as the value's name in help says.
    AtFile,
    /// Anything: armi cannot guess it.
    Any,
}

fn value<'a>(f: &Flag, outputs: &'a [&'a str]) -> Value<'a> {
    match (f.value, f.completes) {
        (None, _) => Value::None,
        _ if f.is(&flags::OUTPUT) => Value::Words(outputs),
        (Some(v), Completes::File) if v.contains("@FILE") => Value::AtFile,
        (_, Completes::File) => Value::File,
        (_, Completes::Choices(c)) => Value::Words(c),
        (_, Completes::Nothing) => Value::Any,
    }
}

/// `-s|--subscription`: the spellings a shell word may be, joined by `sep`.
fn spelled(f: &Flag, sep: &str) -> String {
    let mut out = String::new();
    if let Some(c) = f.short {
        put!(out, "-{c}{sep}");
    }
    put!(out, "--{}", f.long);
    out
}

/// Every flag's spellings, those of the flags that take a value, joined by `sep`.
fn valued(sep: &str) -> String {
    let all: Vec<String> = flags::ALL_FLAGS
        .iter()
        .filter(|f| f.value.is_some())
        .map(|f| spelled(f, sep))
        .collect();
    all.join(sep)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::cli::help::{self, EXIT_CODES};
    use crate::cli::{Parsed, parse};
    use crate::cmd::{COMMANDS, Job};
    use crate::env::Env;
    use crate::error::Kind;
    use crate::time;

    fn output(what: &str) -> String {
        generate(what, COMMANDS).expect("a --generate name")
    }

    /// The long flags a command takes, or armi's own before any command (`None`).
    fn expected(command: Option<&Command<dyn Job>>) -> BTreeSet<String> {
        match command {
            Some(c) => c.all_flags().map(|f| f.name()).collect(),
            None => top_flags().map(|f| f.name()).collect(),
        }
    }

    fn words(text: &str) -> BTreeSet<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn longs(text: &str) -> BTreeSet<String> {
        words(&text.replace([',', '{', '}', '(', ')', '\''], " "))
            .into_iter()
            .map(|w| w.trim_end_matches(['=', '+']).to_string())
            .filter(|w| w.starts_with("--"))
            .collect()
    }

    /// Each command (`None`: before any) with the text of its part of a script.
    fn commands_and_none() -> Vec<Option<&'static Command<dyn Job>>> {
        std::iter::once(None)
            .chain(COMMANDS.iter().copied().map(Some))
            .collect()
    }

    fn outputs_of(command: Option<&Command<dyn Job>>) -> BTreeSet<String> {
        match command {
            Some(c) => c.outputs.names().iter().map(|s| s.to_string()).collect(),
            None => any_output(COMMANDS).iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn every_name_generates_and_any_other_is_a_usage_error() {
        for what in flags::GENERATE_NAMES {
            assert!(!output(what).is_empty(), "{what}");
        }
        let e = generate("complete-tcsh", COMMANDS).expect_err("not a name");
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("complete-fish"), "{}", e.message);
    }

    #[test]
    fn generate_needs_no_command_and_comes_before_validation() {
        let env = Env::of(&[]);
        for args in [
            &["--generate", "man"][..],
            &["group", "-s", "not-a-guid", "--generate", "complete-zsh"],
            &["--generate=complete-bash", "frobnicate"],
        ] {
            match parse(args.iter().copied(), &env, COMMANDS) {
                Ok(Parsed::Generate(text)) => assert!(!text.is_empty()),
                _ => panic!("{args:?} is not --generate"),
            }
        }
        let bad = parse(["--generate", "html"], &env, COMMANDS);
        assert!(matches!(bad, Err(e) if e.kind == Kind::Usage));
    }

    #[test]
    fn the_date_is_the_commits_day() {
        let seconds: u64 = env!("ARMI_SOURCE_DATE_EPOCH")
            .parse()
            .expect("build.rs sets it");
        let date = man::date();
        assert_eq!(date.len(), 10, "{date}");
        assert_eq!(time::rfc3339(seconds).get(..10), Some(date.as_str()));
    }

    #[test]
    fn generation_is_deterministic() {
        for what in flags::GENERATE_NAMES {
            assert_eq!(output(what), output(what), "{what}");
        }
    }

    #[test]
    fn the_man_page_names_every_command_flag_variable_and_exit_code() {
        let page = output("man");
        let section = |name: &str| -> String {
            let start = page.find(&format!(".SH {name}\n")).expect(name);
            let rest = &page[start + 4..];
            rest[..rest.find("\n.SH ").unwrap_or(rest.len())].to_string()
        };
        let commands = section("COMMANDS");
        for c in COMMANDS {
            assert!(
                commands.contains(&format!(".SS armi {}", c.name)),
                "{}",
                c.name
            );
            assert!(
                commands.contains(&help::output_help(&c.outputs)),
                "{}",
                c.name
            );
        }
        assert!(commands.contains(".SS armi help"));
        let options = section("OPTIONS");
        for f in flags::ALL_FLAGS {
            let spelled = format!("\\fB\\-\\-{}\\fR", f.long.replace('-', "\\-"));
            assert!(options.contains(&spelled), "{}", f.long);
        }
        let environment = section("ENVIRONMENT");
        let variables = flags::ALL_FLAGS.iter().filter_map(|f| f.env);
        for var in variables.chain(
            flags::VARIABLES
                .iter()
                .flat_map(|v| v.names.iter().copied()),
        ) {
            assert!(environment.contains(&format!("\\fB{var}\\fR")), "{var}");
        }
        let exit = section("\"EXIT STATUS\"");
        for (code, _, _) in EXIT_CODES {
            assert!(exit.contains(&format!(".TP\n.B {code}\n")), "{code}");
        }
        let examples = section("EXAMPLES");
        for line in COMMANDS.iter().flat_map(|c| c.examples) {
            assert!(examples.contains(&man_text(line)), "{line}");
        }
        assert!(page.starts_with(&format!(".TH ARMI 1 {} ", man::date())));
    }

    /// How a line of text reads in the page's source.
    fn man_text(line: &str) -> String {
        line.replace('\\', "\\e")
            .replace('-', "\\-")
            .replace('\'', "\\(aq")
            .replace('"', "\\(dq")
    }

    #[test]
    fn the_man_page_is_plain_roff_that_lints_clean() {
        let page = output("man");
        let macros = [
            "TH", "SH", "SS", "PP", "TP", "B", "br", "nf", "fi", "EX", "EE", "nh", "ad",
        ];
        let mut filled = true;
        for line in page.lines() {
            assert!(!line.is_empty() && line.trim_end() == line, "{line:?}");
            if let Some(request) = line.strip_prefix('.') {
                let name = request.split(' ').next().unwrap_or_default();
                assert!(macros.contains(&name), "{line:?}");
                filled = match name {
                    "nf" | "EX" => false,
                    "fi" | "EE" => true,
                    _ => filled,
                };
                continue;
            }
            assert!(!line.starts_with('\''), "{line:?}");
            // Every minus is escaped: a bare - is a hyphen, and copies badly.
            assert!(!line.replace("\\-", "").contains('-'), "{line:?}");
            assert!(!filled || line.len() <= 80, "{line:?}");
            assert!(line.is_ascii(), "{line:?}");
        }
    }

    #[test]
    fn bash_offers_each_command_exactly_its_flags_and_outputs() {
        let script = output("complete-bash");
        for c in commands_and_none() {
            let label = c.map_or("*", |c| c.name);
            let line = script
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{label}) flags=")))
                .unwrap_or_else(|| panic!("no case for {label}"));
            let (flags, outputs) = line.split_once(" outputs=").expect("outputs");
            assert_eq!(longs(flags), expected(c), "{label}");
            assert_eq!(
                words(&outputs.replace(['\'', ';'], " ")),
                outputs_of(c),
                "{label}"
            );
        }
        assert!(script.contains("\ncomplete -F _armi armi\n"));
    }

    #[test]
    fn zsh_offers_each_command_exactly_its_flags_and_outputs() {
        let script = output("complete-zsh");
        assert!(script.starts_with("#compdef armi\n"));
        let top_start = script.find("_arguments -C -A").expect("the top spec");
        let top = &script[top_start..script[top_start..].find("->command").unwrap() + top_start];
        let mut parts = vec![(None, top.to_string())];
        for c in COMMANDS {
            let start = script
                .find(&format!("\n                {})\n", c.name))
                .unwrap_or_else(|| panic!("no case for {}", c.name));
            let end = start + script[start..].find("&& ret=0").expect("its end");
            parts.push((Some(*c), script[start..end].to_string()));
        }
        for (c, part) in parts {
            let specs: Vec<&str> = part.lines().filter(|l| l.contains('[')).collect();
            let flags: BTreeSet<String> = specs
                .iter()
                .flat_map(|l| longs(l.split('[').next().unwrap_or_default()))
                .collect();
            assert_eq!(flags, expected(c), "{part}");
            let output = specs.iter().find(|l| l.contains("--output=")).expect("-o");
            let values = output.rsplit_once(":(").expect("-o's values").1;
            assert_eq!(
                words(&values.replace(['(', ')', '\'', '\\'], " ")),
                outputs_of(c)
            );
        }
        for name in names(COMMANDS) {
            assert!(script.contains(&format!("\n        '{name}:")), "{name}");
        }
    }

    #[test]
    fn fish_offers_each_command_exactly_its_flags_and_outputs() {
        let script = output("complete-fish");
        for c in commands_and_none() {
            let label = c.map_or("''", |c| c.name);
            let mut flags = BTreeSet::new();
            let mut outputs = Vec::new();
            for line in script
                .lines()
                .filter(|l| l.starts_with("complete ") && l.contains(" -l "))
            {
                let condition = line.split('"').nth(1).expect("a condition");
                if !condition.split(' ').skip(1).any(|w| w == label) {
                    continue;
                }
                assert!(line.contains(" -x") || !line.contains(" -a "), "{line}");
                let long = line.split(" -l ").nth(1).and_then(|r| r.split(' ').next());
                flags.insert(format!("--{}", long.expect("a long name")));
                if line.contains(" -l output ") {
                    outputs.push(
                        line.split(" -a '")
                            .nth(1)
                            .and_then(|r| r.split('\'').next()),
                    );
                }
            }
            assert_eq!(flags, expected(c), "{label}");
            assert_eq!(outputs.len(), 1, "{label}");
            assert_eq!(
                words(outputs[0].expect("-o's values")),
                outputs_of(c),
                "{label}"
            );
        }
        for name in names(COMMANDS) {
            assert!(script.contains(&format!("-a {name} -d ")), "{name}");
        }
    }

    #[test]
    fn names_and_choices_need_no_quoting_in_any_shell() {
        let plain = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        for f in flags::ALL_FLAGS {
            assert!(plain(f.long), "{}", f.long);
            if let Completes::Choices(choices) = f.completes {
                assert!(choices.iter().all(|c| plain(c)), "{}", f.long);
            }
        }
        for c in COMMANDS {
            assert!(plain(c.name));
            assert!(c.outputs.names().iter().all(|o| plain(o)), "{}", c.name);
        }
    }

    #[test]
    fn a_value_named_at_file_completes_a_file_after_the_at() {
        assert!(matches!(value(&flags::BODY, &[]), Value::AtFile));
        assert!(matches!(value(&flags::CA_FILE, &[]), Value::File));
        assert!(matches!(value(&flags::OUTPUT, &["x"]), Value::Words(["x"])));
        assert!(matches!(value(&flags::VERBOSE, &[]), Value::None));
    }

    /// A variable named in armi's code (a string literal such as "HTTPS_PROXY" outside tests)
    /// is in the man page: a flag's variable or one of [`flags::VARIABLES`].
    #[test]
    fn every_variable_armi_reads_is_documented() {
        let documented: BTreeSet<&str> = flags::ALL_FLAGS
            .iter()
            .filter_map(|f| f.env)
            .chain(
                flags::VARIABLES
                    .iter()
                    .flat_map(|v| v.names.iter().copied()),
            )
            .collect();
        let mut files = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut seen = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                let entries = std::fs::read_dir(&path).expect("src/ is readable");
                files.extend(entries.map(|e| e.expect("an entry").path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for literal in line.split('"').skip(1).step_by(2) {
                    let variable = literal.contains('_')
                        && literal
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    // env!("…") names a variable of the build, not of the run.
                    if variable && !line.contains(&format!("env!(\"{literal}\")")) {
                        seen += 1;
                        assert!(
                            documented.contains(literal),
                            "{literal} ({}) is not in flags::VARIABLES",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(seen > 20, "only {seen} variables found in src/");
    }
}
