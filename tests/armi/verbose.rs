//! The `-v` trace reads as sentences: each line names the service it is about once, and says
//! which identity source was chosen once per run.

use crate::common::*;

const VAULT: &str = "https://vault.azure.net";

/// The trace: every stderr line of a successful run, or those before the final error.
fn trace(run: &Run) -> Vec<&str> {
    let lines: Vec<&str> = run.stderr.lines().collect();
    let end = match run.code {
        0 => lines.len(),
        _ => lines
            .iter()
            .rposition(|line| line.starts_with("armi: "))
            .unwrap_or(lines.len()),
    };
    lines[..end].to_vec()
}

/// A word said twice in a row ("IMDS IMDS answered"), ignoring case and punctuation.
fn doubled_word(line: &str) -> Option<String> {
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0].clone())
}

#[track_caller]
fn assert_no_doubled_word(run: &Run) {
    for line in run.stderr.lines() {
        if let Some(word) = doubled_word(line) {
            panic!("'{word}' twice in a row in: {line}\n{run:#?}");
        }
    }
}

#[test]
fn verbose_names_imds_once_when_it_answers_410_and_armi_retries() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(410), Limit::Times(2)));
    let run = run(&emu, &["token", VAULT, "-v"]);
    run.expect_code(0);
    let retries: Vec<&str> = trace(&run)
        .into_iter()
        .filter(|line| line.contains("; retry "))
        .collect();
    assert_eq!(retries.len(), 2, "{run:#?}");
    for (n, line) in retries.iter().enumerate() {
        let start = format!("armi: IMDS answered 410; retry {} in ", n + 1);
        assert!(line.starts_with(&start), "{line}");
        assert_eq!(line.matches("IMDS").count(), 1, "{line}");
    }
    assert_no_doubled_word(&run);
}

#[test]
fn verbose_names_imds_once_when_nothing_listens_there() {
    let imds = format!("http://127.0.0.1:{}", closed_port());
    let run = run_env(
        &["token", VAULT, "-v", "--timeout", "2"],
        &[("ARMI_IMDS_ENDPOINT", &imds)],
    );
    assert_ne!(run.code, 0, "{run:#?}");
    let refused = format!("cannot connect to IMDS at {imds}: ");
    let trace = trace(&run);
    let requests: Vec<&&str> = trace.iter().filter(|l| l.contains(" -> ")).collect();
    let retries: Vec<&&str> = trace.iter().filter(|l| l.contains("; retry ")).collect();
    assert!(!requests.is_empty() && !retries.is_empty(), "{run:#?}");
    for line in &requests {
        assert!(line.contains(&format!(" -> {refused}")), "{line}");
        assert_eq!(line.matches("IMDS").count(), 1, "{line}");
    }
    for line in &retries {
        assert!(line.starts_with(&format!("armi: {refused}")), "{line}");
        assert_eq!(line.matches("IMDS").count(), 1, "{line}");
    }
    assert_no_doubled_word(&run);
}

#[test]
fn verbose_names_the_identity_source_once_per_run() {
    let mut scenario = writable();
    scenario.lro = armi_emulator::Lro::AsyncOperation {
        polls: 1,
        outcome: armi_emulator::Outcome::Succeeded,
    };
    let emu = Emulator::start(scenario);
    let vm = emu.scenario().vm_resource_id();
    let restart = format!("{vm}/restart");
    let commands: [&[&str]; 6] = [
        &["group"],
        &["token"],
        &["whoami"],
        &["resources"],
        &["doctor"],
        &[
            "rest",
            "POST",
            &restart,
            "--api-version",
            "2024-07-01",
            "--wait",
        ],
    ];
    for args in commands {
        let mut args = args.to_vec();
        args.push("-v");
        let run = run(&emu, &args);
        run.expect_code(0);
        let sources = run
            .stderr
            .lines()
            .filter(|line| line.contains("identity source:"))
            .count();
        assert_eq!(sources, 1, "{args:?}: {}", run.stderr);
        assert_no_doubled_word(&run);
    }
}

#[test]
fn the_doubled_word_check_finds_imds_imds() {
    assert_eq!(
        doubled_word("armi: IMDS IMDS answered 410"),
        Some("imds".into())
    );
    assert_eq!(doubled_word("armi: (0 ms) (0 ms)"), None);
    assert_eq!(doubled_word("armi: IMDS answered 410; retry 1"), None);
}
