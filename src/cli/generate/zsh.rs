//! zsh's completion (`_armi`, found by compinit on fpath): `_arguments` with armi's own flags up
//! to the command, then the command's flags and arguments.

use super::{Value, any_output, spelled, top_flags, value};
use crate::cli::Command;
use crate::cli::flags::Flag;
use crate::cli::help;

pub(super) fn script<J: ?Sized>(commands: &[&Command<J>]) -> String {
    let mut out = String::from(
        "#compdef armi\n# zsh completion for armi: armi --generate complete-zsh\n\n\
         _armi() {\n    \
         local curcontext=$curcontext state state_descr line ret=1\n    \
         typeset -A opt_args\n    \
         # Options before the command are armi's own; after it, the command's (-A).\n    \
         _arguments -C -A '-*' \\\n",
    );
    let outputs = any_output(commands);
    for f in top_flags() {
        put!(out, "        {} \\\n", zsh_flag(f, &outputs));
    }
    out.push_str(
        "        '1: :->command' \\\n        '*:: :->argument' && ret=0\n    \
         case $state in\n        \
         command) _armi_commands && ret=0 ;;\n        \
         argument)\n            \
         curcontext=${curcontext%:*:*}:armi-$words[1]:\n            \
         case $words[1] in\n",
    );
    for c in commands {
        put!(
            out,
            "                {})\n                    _arguments \\\n",
            c.name
        );
        for f in c.all_flags() {
            let spec = zsh_flag(f, &c.outputs.names());
            put!(out, "                        {spec} \\\n");
        }
        let mut optional = false;
        for (i, word) in c.args.split_whitespace().enumerate() {
            let name = word.trim_matches(|c| c == '[' || c == ']');
            optional |= name.len() < word.len();
            let colon = if optional { "::" } else { ":" };
            let spec = format!("{}{colon}{}: ", i + 1, zsh_text(name));
            put!(out, "                        {} \\\n", quote_sh(&spec));
        }
        out.push_str("                        && ret=0 ;;\n");
    }
    out.push_str(
        "                help) _arguments '1: :_armi_commands' && ret=0 ;;\n            \
         esac\n            ;;\n    esac\n    return ret\n}\n\n\
         _armi_commands() {\n    local -a commands=(\n",
    );
    let mut summaries: Vec<(&str, &str)> = commands.iter().map(|c| (c.name, c.summary)).collect();
    summaries.push(("help", help::HELP_SUMMARY));
    for (name, summary) in summaries {
        let entry = format!("{name}:{summary}");
        put!(out, "        {}\n", quote_sh(&entry));
    }
    out.push_str(
        "    )\n    _describe -t commands 'armi command' commands\n}\n\n\
         # A file after @, else the value as typed.\n\
         _armi_at_file() {\n    \
         if compset -P '@'; then _files; else _message \"$1\"; fi\n}\n\n\
         _armi \"$@\"\n",
    );
    out
}

/// One `_arguments` spec: `'(-s --subscription)'{-s+,--subscription=}'[help]:ID: '`.
fn zsh_flag(f: &Flag, outputs: &[&'static str]) -> String {
    // A flag given once excludes its other spelling; `*` lets one be repeated. A value follows
    // a short flag (+) or a long one's = or the next word.
    let (short, long) = match f.value {
        Some(_) => ("+", "="),
        None => ("", ""),
    };
    let prefix = match (f.repeats, f.short) {
        (true, _) => "*".to_string(),
        (false, None) => String::new(),
        (false, Some(_)) => format!("({})", spelled(f, " ")),
    };
    let mut rest = format!("[{}]", zsh_text(f.help));
    if let Some(v) = f.value {
        let action = match value(f, outputs) {
            Value::Words(w) => format!("({})", w.join(" ")),
            Value::File => "_files".to_string(),
            Value::AtFile => format!("_armi_at_file {}", zsh_word(v)),
            Value::None | Value::Any => " ".to_string(),
        };
        put!(rest, ":{}:{action}", zsh_text(v));
    }
    match f.short {
        None => quote_sh(&format!("{prefix}--{}{long}{rest}", f.long)),
        Some(c) => format!(
            "{}{{-{c}{short},--{}{long}}}{}",
            quote_sh(&prefix),
            f.long,
            quote_sh(&rest)
        ),
    }
}

/// A word of an `_arguments` action, which zsh splits and evaluates as a command line.
fn zsh_word(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text inside an `_arguments` spec: its brackets and colons are syntax.
fn zsh_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '\\' | '[' | ']' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A single-quoted word for sh, bash and zsh.
fn quote_sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
