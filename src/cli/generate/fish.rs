//! fish's completion: a `complete` line per command and per flag, each with the condition that the
//! command on the line (or none yet) takes it.

use super::{Value, any_output, value, valued};
use crate::cli::Command;
use crate::cli::flags::{self, Flag};
use crate::cli::help;

pub(super) fn script<J: ?Sized>(commands: &[&Command<J>]) -> String {
    let mut out = format!(
        "# fish completion for armi: armi --generate complete-fish\n\n\
         # The command on the line: the first word that is neither a flag nor a flag's value.\n\
         function __armi_command\n    \
         set -l words (commandline -opc)\n    \
         set -e words[1]\n    \
         set -l pending 0\n    \
         for word in $words\n        \
         if test $pending = 1\n            \
         set pending 0\n        \
         else if contains -- $word {}\n            \
         set pending 1\n        \
         else if not string match -q -- '-*' $word\n            \
         echo $word\n            \
         return 0\n        \
         end\n    \
         end\n    \
         return 1\n\
         end\n\n\
         # Whether the command on the line is one of the arguments ('' for none yet).\n\
         function __armi_in\n    \
         contains -- (__armi_command; or echo '') $argv\n\
         end\n\n\
         # A file after @, for --body @FILE.\n\
         function __armi_at_file\n    \
         set -l token (commandline -ct)\n    \
         string match -q -- '@*' $token\n    \
         and printf '@%s\\n' (__fish_complete_path (string sub -s 2 -- $token))\n\
         end\n\n\
         complete -c armi -f\n",
        valued(" ")
    );
    for c in commands {
        put!(
            out,
            "complete -c armi -n \"__armi_in ''\" -a {} -d {}\n",
            c.name,
            quote_fish(c.summary)
        );
    }
    put!(
        out,
        "complete -c armi -n \"__armi_in ''\" -a help -d {}\n",
        quote_fish(help::HELP_SUMMARY)
    );
    let names: Vec<&str> = commands.iter().map(|c| c.name).collect();
    put!(
        out,
        "complete -c armi -n '__armi_in help' -a '{}'\n",
        names.join(" ")
    );
    for f in flags::ALL_FLAGS {
        let mut takers: Vec<&str> = commands
            .iter()
            .filter(|c| c.takes(f))
            .map(|c| c.name)
            .collect();
        if f.global {
            takers.insert(0, "''");
        }
        if f.is(&flags::OUTPUT) {
            // Each command's own values: one line per set of them.
            let mut sets: Vec<(Vec<&str>, Vec<&str>)> = vec![(vec!["''"], any_output(commands))];
            for c in commands {
                let names = c.outputs.names();
                match sets.iter_mut().find(|(_, n)| *n == names) {
                    Some((cs, _)) => cs.push(c.name),
                    None => sets.push((vec![c.name], names)),
                }
            }
            for (cs, names) in sets {
                fish_flag(&mut out, f, &cs, &names);
            }
        } else if !takers.is_empty() {
            fish_flag(&mut out, f, &takers, &[]);
        }
    }
    out
}

fn fish_flag(out: &mut String, f: &Flag, commands: &[&str], outputs: &[&'static str]) {
    let mut line = format!("complete -c armi -n \"__armi_in {}\"", commands.join(" "));
    if let Some(c) = f.short {
        put!(line, " -s {c}");
    }
    put!(line, " -l {}", f.long);
    match value(f, outputs) {
        Value::None => {}
        Value::Words(w) => put!(line, " -x -a '{}'", w.join(" ")),
        Value::File => line.push_str(" -r -F"),
        Value::AtFile => line.push_str(" -x -a '(__armi_at_file)'"),
        Value::Any => line.push_str(" -x"),
    }
    put!(line, " -d {}\n", quote_fish(f.help));
    out.push_str(&line);
}

/// A single-quoted word for fish, where `\` and `'` are escaped inside the quotes.
fn quote_fish(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}
