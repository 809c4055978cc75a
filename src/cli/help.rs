//! `--help` text, made from the table of commands and the flag definitions, so that it cannot
//! disagree with what the parser accepts. Every line fits in 80 columns.

use super::flags::{self, Flag};
use super::{Command, Outputs};

const WIDTH: usize = 80;
/// Where a flag's help starts.
const HELP_COLUMN: usize = 28;

/// The first lines of `armi --help`, and the man page's NAME and DESCRIPTION.
pub const INTRO: &str = "\
armi: act as this Azure machine's managed identity: get a token from the
Instance Metadata Service (IMDS) and call Azure Resource Manager (ARM).";

/// What `armi help` does, in the command list.
pub const HELP_SUMMARY: &str = "print help for armi or a command";

/// The exit codes: the code, a few words for `--help`, and the sentence for the man page.
pub const EXIT_CODES: &[(u8, &str, &str)] = &[
    (0, "ok", "success"),
    (
        1,
        "failed",
        "failed for another reason: ARM 400/409, an answer that is not what the protocol promises, \
         a query that matched nothing",
    ),
    (
        2,
        "usage",
        "usage: a bad flag, argument or value; nothing was sent",
    ),
    (
        3,
        "identity endpoint unreachable",
        "the identity endpoint is unreachable: not on Azure, routing, firewall, a proxy in the way",
    ),
    (
        4,
        "no identity",
        "no identity: none assigned, the requested one not found, or several and none chosen",
    ),
    (
        5,
        "denied (401/403)",
        "denied: ARM, another API or the identity endpoint said 401 or 403",
    ),
    (6, "not found (404)", "not found: the service said 404"),
    (
        7,
        "gave up (retries or --timeout exhausted)",
        "gave up: transient failures outlasted the retries or --timeout",
    ),
];

/// The examples of `armi --help` and the man page.
pub const EXAMPLES: &[&str] = &[
    "armi group                              # this VM's resource group",
    "armi group -q properties.provisioningState -o tsv",
    "TOKEN=$(armi token)                     # a token for ARM",
    "armi token https://vault.azure.net -o header | curl -H @- https://...",
    "armi --client-id 11111111-2222-3333-4444-555555555555 group",
    "armi resources -q '[].name' -o tsv      # names of everything in this group",
];

/// The last lines of `armi --help`.
pub const FOOTER: &str = "\
armi never prints a token except on stdout for `armi token`, and never uses a
proxy for IMDS. HTTPS_PROXY, ALL_PROXY and NO_PROXY apply to ARM (curl's rules).";

/// `armi --help`.
pub fn top<J: ?Sized>(commands: &[&Command<J>]) -> String {
    let mut out = format!("{INTRO}\n\nUsage: armi [FLAGS] COMMAND [ARGS]\n\nCommands:\n");
    for c in commands {
        row(
            &mut out,
            &format!("  {}", usage(c).trim_start_matches("armi ")),
            c.summary,
            22,
        );
    }
    row(&mut out, "  help [COMMAND]", HELP_SUMMARY, 22);
    out.push_str("\nFlags (before or after the command; armi COMMAND --help lists its own):\n");
    for f in flags::ALL_FLAGS.iter().filter(|f| f.global) {
        flag_row(&mut out, f, None);
    }
    out.push_str("\nExit codes: ");
    let codes: Vec<String> = EXIT_CODES
        .iter()
        .map(|(code, short, _)| format!("{code} {short}"))
        .collect();
    wrap_into(&mut out, &codes.join(", "), 12, 0);
    out.push_str("\nExamples:\n");
    for e in EXAMPLES {
        out.push_str(&format!("  {e}\n"));
    }
    out.push('\n');
    out.push_str(FOOTER);
    out.push('\n');
    out
}

/// `armi COMMAND --help`.
pub fn command<J: ?Sized>(c: &Command<J>) -> String {
    let call = usage(c);
    let mut out = format!("{call}: {}\n\n", c.summary);
    out.push_str(c.about.trim_end());
    out.push_str(&format!("\n\nUsage: {call} [FLAGS]\n\nFlags:\n"));
    for f in c.all_flags() {
        flag_row(&mut out, f, Some(&c.outputs));
    }
    out.push_str("\nExamples:\n");
    for e in c.examples {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

/// `armi NAME ARGS`.
pub fn usage<J: ?Sized>(c: &Command<J>) -> String {
    if c.args.is_empty() {
        format!("armi {}", c.name)
    } else {
        format!("armi {} {}", c.name, c.args)
    }
}

/// The help line of `-o` for a command: its own choices.
pub fn output_help(outputs: &Outputs) -> String {
    let names = outputs.names();
    let rest: Vec<&str> = names[1..].to_vec();
    format!("{} (default), {}", names[0], rest.join(", "))
}

fn flag_row(out: &mut String, f: &Flag, outputs: Option<&Outputs>) {
    let mut left = format!("  {}", f.spellings());
    if f.short.is_none() {
        left = format!("    {left}");
    }
    if let Some(value) = f.value {
        left.push(' ');
        left.push_str(value);
    }
    let mut help = match (f.is(&flags::OUTPUT), outputs) {
        (true, Some(o)) => output_help(o),
        _ => f.help.to_string(),
    };
    if let Some(var) = f.env {
        help.push_str(&format!(" (env {var})"));
    }
    row(out, &left, &help, HELP_COLUMN);
}

/// `left` padded to `column`, then `text` wrapped to the width with a hanging indent; `left`
/// longer than the column puts the text on the next line.
fn row(out: &mut String, left: &str, text: &str, column: usize) {
    out.push_str(left);
    let used = left.chars().count();
    if used + 1 > column {
        out.push('\n');
        out.push_str(&" ".repeat(column));
    } else {
        out.push_str(&" ".repeat(column - used));
    }
    wrap_into(out, text, column, column);
}

/// Appends `text` wrapped at [`WIDTH`], the first line starting at column `first`, the others
/// indented by `indent`.
fn wrap_into(out: &mut String, text: &str, first: usize, indent: usize) {
    let mut col = first;
    let mut at_start = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !at_start && col + 1 + len > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
            at_start = true;
        }
        if !at_start {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
        at_start = false;
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_wrap_at_80_columns_with_a_hanging_indent() {
        let mut out = String::new();
        row(&mut out, "  --x V", &"word ".repeat(30), HELP_COLUMN);
        for line in out.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?}");
        }
        assert!(
            out.lines()
                .nth(1)
                .unwrap()
                .starts_with(&" ".repeat(HELP_COLUMN))
        );
    }

    #[test]
    fn a_long_left_column_puts_the_help_on_the_next_line() {
        let mut out = String::new();
        row(
            &mut out,
            "  --a-very-long-flag-name VALUE",
            "help",
            HELP_COLUMN,
        );
        assert_eq!(
            out,
            format!(
                "  --a-very-long-flag-name VALUE\n{}help\n",
                " ".repeat(HELP_COLUMN)
            )
        );
    }
}
