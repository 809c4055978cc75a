//! The man page, man(7) as both groff and mandoc read it: every command with its arguments, help,
//! flags and outputs; every flag; the exit codes; every variable armi reads; the examples.

use super::spelled;
use crate::cli::Command;
use crate::cli::flags::{self, Flag};
use crate::cli::help::{self, EXIT_CODES};
use crate::time;

/// When the commit armi is built from was made, in seconds since 1970 (build.rs).
const SOURCE_DATE_EPOCH: &str = env!("ARMI_SOURCE_DATE_EPOCH");

/// The page's date, `YYYY-MM-DD`: the commit's day, so that the page is the same whenever and
/// wherever it is generated.
pub(super) fn date() -> String {
    let time = time::rfc3339(SOURCE_DATE_EPOCH.parse().unwrap_or(0));
    time.split('T').next().unwrap_or_default().to_string()
}

pub(super) fn page<J: ?Sized>(commands: &[&Command<J>]) -> String {
    let intro = help::INTRO.trim_start_matches("armi: ");
    let whatis = intro.split(": ").next().unwrap_or(intro);
    let version = env!("CARGO_PKG_VERSION");
    // Flags must not be hyphenated at a line's end, nor spread out by justification.
    let date = date();
    let mut out = format!(".TH ARMI 1 {date} \"armi {version}\" \"User Commands\"\n.nh\n.ad l\n");
    put!(out, ".SH NAME\narmi \\- {}\n.SH SYNOPSIS\n", roff(whatis));
    out.push_str("\\fBarmi\\fR [\\fIFLAGS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n");
    for c in commands {
        put!(out, ".br\n\\fBarmi {}\\fR{}\n", c.name, roff_args(c.args));
    }
    out.push_str(".br\n\\fBarmi help\\fR [\\fICOMMAND\\fR]\n");
    out.push_str(".br\n\\fBarmi \\-\\-generate\\fR \\fIWHAT\\fR\n.SH DESCRIPTION\n");
    paragraphs(&mut out, help::INTRO);
    out.push_str(".PP\n");
    paragraphs(&mut out, help::FOOTER);
    out.push_str(".PP\n");
    fill(
        &mut out,
        "Flags go before or after the command; a flag wins over its variable.",
    );
    out.push_str(".SH COMMANDS\n");
    for c in commands {
        man_command(&mut out, c);
    }
    out.push_str(".SS armi help [COMMAND]\n");
    fill(
        &mut out,
        &format!(
            "{}: the same as \\fBarmi \\-\\-help\\fR, or \\fBarmi\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR.",
            capitalised(help::HELP_SUMMARY)
        ),
    );
    out.push_str(".SH OPTIONS\n");
    for f in flags::ALL_FLAGS {
        man_flag(&mut out, f, commands);
    }
    out.push_str(".SH \"EXIT STATUS\"\n");
    for (code, _, sentence) in EXIT_CODES {
        put!(out, ".TP\n.B {code}\n");
        fill(&mut out, &format!("{}.", roff(&capitalised(sentence))));
    }
    out.push_str(".SH ENVIRONMENT\n");
    for f in flags::ALL_FLAGS {
        if let Some(var) = f.env {
            let name = roff(&f.name());
            put!(out, ".TP\n\\fB{var}\\fR\n");
            fill(
                &mut out,
                &format!("\\fB{name}\\fR when it is not given: {}.", roff(f.help)),
            );
        }
    }
    for v in flags::VARIABLES {
        let names: Vec<String> = v.names.iter().map(|n| format!("\\fB{n}\\fR")).collect();
        put!(out, ".TP\n{}\n", names.join(", "));
        fill(&mut out, &format!("{}.", roff(v.help)));
    }
    out.push_str(".SH EXAMPLES\n");
    example_block(&mut out, help::EXAMPLES);
    for c in commands {
        put!(out, ".SS {}\n", roff(&help::usage(c)));
        example_block(&mut out, c.examples);
    }
    out
}

fn man_command<J: ?Sized>(out: &mut String, c: &Command<J>) {
    put!(out, ".SS {}\n", roff(&help::usage(c)));
    fill(out, &format!("{}.", roff(&capitalised(c.summary))));
    out.push_str(".PP\n");
    paragraphs(out, c.about);
    let own: Vec<String> = c
        .all_flags()
        .filter(|f| !flags::EVERY_COMMAND.iter().any(|e| e.is(f)))
        .map(|f| format!("\\fB{}\\fR", roff(&f.name())))
        .collect();
    if !own.is_empty() {
        out.push_str(".PP\n");
        fill(
            out,
            &format!("Flags: {}, and those every command takes.", own.join(", ")),
        );
    }
    let mut outputs = format!("Output (\\fB\\-o\\fR): {}", help::output_help(&c.outputs));
    if c.outputs.with_query != c.outputs.default {
        put!(outputs, "; with \\fB\\-q\\fR, {}", c.outputs.with_query);
    }
    out.push_str(".PP\n");
    fill(out, &format!("{outputs}."));
}

fn man_flag<J: ?Sized>(out: &mut String, f: &Flag, commands: &[&Command<J>]) {
    let spellings = roff(&spelled(f, ", ")).replace(", ", "\\fR, \\fB");
    let mut head = format!("\\fB{spellings}\\fR");
    if let Some(v) = f.value {
        put!(head, " \\fI{}\\fR", roff(v));
    }
    let mut text = format!("{}.", roff(f.help));
    if let Some(var) = f.env {
        put!(text, " Variable: \\fB{var}\\fR.");
    }
    let takers: Vec<&str> = commands
        .iter()
        .filter(|c| c.takes(f))
        .map(|c| c.name)
        .collect();
    match takers.len() {
        0 => text.push_str(" Given without a command."),
        n if n == commands.len() => text.push_str(" Every command takes it."),
        _ => put!(text, " Commands: {}.", takers.join(", ")),
    }
    // The tag is one line: .TP takes the next line as the tag, whatever its length.
    out.push_str(".TP\n");
    text_line(out, &head);
    fill(out, &text);
}

/// Paragraphs separated by blank lines: filled, except those with an indented line (a table of
/// values, say), which are kept as written.
fn paragraphs(out: &mut String, text: &str) {
    for (i, para) in text.trim().split("\n\n").enumerate() {
        if i > 0 {
            out.push_str(".PP\n");
        }
        let table = para.lines().any(|l| l.starts_with(' '));
        if table {
            out.push_str(".nf\n");
        }
        for line in para.lines() {
            match table {
                true => text_line(out, &roff(line.trim_end())),
                false => fill(out, &roff(line.trim())),
            }
        }
        if table {
            out.push_str(".fi\n");
        }
    }
}

fn example_block(out: &mut String, lines: &[&str]) {
    out.push_str(".EX\n");
    for line in lines {
        text_line(out, &roff(line.trim_end()));
    }
    out.push_str(".EE\n");
}

/// Escaped text in lines of at most 80 bytes (roff fills them again), broken at spaces.
fn fill(out: &mut String, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        // text_line puts \& before a leading dot or quote.
        let guard = if line.starts_with(['.', '\'']) { 2 } else { 0 };
        if !line.is_empty() && guard + line.len() + 1 + word.len() > 80 {
            text_line(out, &line);
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        text_line(out, &line);
    }
}

/// One line of escaped text, kept from being read as a request.
fn text_line(out: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    if line.starts_with('.') || line.starts_with('\'') {
        out.push_str("\\&");
    }
    out.push_str(line);
    out.push('\n');
}

/// Text as roff prints it literally: `-` as a minus (what is typed, not a hyphen), backslashes,
/// quotes and backquotes as the ASCII characters rather than typographic ones.
fn roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\(aq"),
            '"' => out.push_str("\\(dq"),
            '`' => out.push_str("\\(ga"),
            _ => out.push(c),
        }
    }
    out
}

/// ` [\fINAME\fR]`: a command's arguments, the names in italics.
fn roff_args(args: &str) -> String {
    let mut out = String::new();
    for word in args.split_whitespace() {
        let name = word.trim_matches(|c| c == '[' || c == ']');
        let (open, close) = if name.len() < word.len() {
            ("[", "]")
        } else {
            ("", "")
        };
        put!(out, " {open}\\fI{}\\fR{close}", roff(name));
    }
    out
}

/// The first letter in upper case (ASCII: the texts are, and Unicode's tables would cost the
/// binary 10 KiB).
fn capitalised(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out
}
