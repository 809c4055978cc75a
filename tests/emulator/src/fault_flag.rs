//! `--fault WHERE,WHAT[,times=N|,for=SECS][,retry-after=V]`: the command line's way to the
//! scenario's fault injection (`Fault`), with one help line per place and per kind of fault.

use std::time::Duration;

use armi_emulator::{Action, Fault, Limit, Route};

/// The fault a `--fault` value describes.
pub fn parse(spec: &str) -> Result<Fault, String> {
    let bad = |why: String| format!("--fault '{spec}': {why}");
    let mut fields = spec.split(',');
    let route = route(fields.next().unwrap_or_default()).map_err(bad)?;
    let what = fields
        .next()
        .ok_or_else(|| bad("no WHAT after WHERE".into()))?;
    let mut limit = Limit::Always;
    let mut retry_after = None;
    for field in fields {
        match field.split_once('=') {
            Some(("times", n)) => limit = Limit::Times(number("times", n).map_err(bad)?),
            Some(("for", secs)) => limit = Limit::For(seconds("for", secs).map_err(bad)?),
            Some(("retry-after", value)) if !value.is_empty() => {
                retry_after = Some(value.to_string())
            }
            _ => return Err(bad(format!("unknown part '{field}'"))),
        }
    }
    let action = action(what, retry_after).map_err(bad)?;
    Ok(Fault::new(route, action, limit))
}

fn route(name: &str) -> Result<Route, String> {
    Ok(match name {
        "imds" => Route::AnyImds,
        "imds-token" => Route::ImdsToken,
        "imds-instance" => Route::ImdsInstance,
        "arm" => Route::Arm,
        "arc" => Route::Arc,
        "app-service" => Route::AppService,
        "cloud-shell" => Route::CloudShell,
        "service-fabric" => Route::ServiceFabric,
        "azure-ml" => Route::AzureMl,
        "authority" => Route::Authority,
        _ => return Err(format!("unknown WHERE '{name}'")),
    })
}

fn action(what: &str, retry_after: Option<String>) -> Result<Action, String> {
    if let Ok(code) = what.parse::<u16>() {
        if !(100..=599).contains(&code) {
            return Err(format!("{code} is not an HTTP status"));
        }
        return Ok(Action::Status { code, retry_after });
    }
    if retry_after.is_some() {
        return Err("retry-after goes with a STATUS only".into());
    }
    let (kind, value) = match what.split_once('=') {
        Some((kind, value)) => (kind, Some(value)),
        None => (what, None),
    };
    let action = match (kind, value) {
        ("hang", None) => Action::Hang,
        ("slow", Some(secs)) => Action::SlowBody {
            total: seconds("slow", secs)?,
        },
        ("malformed", None) => Action::Malformed,
        ("proxy-page", None) => Action::ProxyPage,
        ("truncated", None) => Action::Truncated,
        ("oversized", Some(bytes)) => Action::Oversized {
            bytes: number("oversized", bytes)?,
        },
        ("redirect", Some(to)) if !to.is_empty() => Action::Redirect { to: to.into() },
        ("reset", None) => Action::Reset,
        _ => return Err(format!("unknown WHAT '{what}'")),
    };
    Ok(action)
}

fn number<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, String> {
    raw.parse()
        .map_err(|_| format!("{name} wants a number, got '{raw}'"))
}

fn seconds(name: &str, raw: &str) -> Result<Duration, String> {
    raw.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{name} wants seconds, got '{raw}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_take_a_count_a_window_and_a_retry_after() {
        let fault = parse("imds-token,410,times=3").expect("valid");
        assert!(matches!(fault.route, Route::ImdsToken));
        assert!(matches!(
            fault.action,
            Action::Status {
                code: 410,
                retry_after: None
            }
        ));
        assert!(matches!(fault.limit, Limit::Times(3)));
        let fault = parse("arm,429,for=2.5,retry-after=7").expect("valid");
        assert!(matches!(fault.limit, Limit::For(d) if d == Duration::from_millis(2500)));
        assert!(
            matches!(fault.action, Action::Status { code: 429, retry_after: Some(ref v) } if v == "7")
        );
        assert!(matches!(
            parse("imds,503").expect("valid").limit,
            Limit::Always
        ));
    }

    #[test]
    fn every_kind_of_answer_has_a_name() {
        let cases = [
            ("imds,hang", "Hang"),
            ("imds,slow=3", "SlowBody"),
            ("imds-instance,malformed", "Malformed"),
            ("imds,proxy-page", "ProxyPage"),
            ("arm,truncated", "Truncated"),
            ("arm,oversized=40000000", "Oversized"),
            ("arm,redirect=https://127.0.0.1:1/elsewhere", "Redirect"),
            ("arc,reset", "Reset"),
        ];
        for (spec, kind) in cases {
            let fault = parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert!(format!("{:?}", fault.action).starts_with(kind), "{spec}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_do_naming_the_part() {
        for (spec, part) in [
            ("", "WHERE"),
            ("imds", "no WHAT"),
            ("vault,500", "WHERE 'vault'"),
            ("imds,teapot", "WHAT 'teapot'"),
            ("imds,999", "not an HTTP status"),
            ("imds,hang,retry-after=1", "STATUS only"),
            ("imds,410,times=x", "times"),
            ("imds,410,for=-1", "for"),
            ("imds,410,twice", "'twice'"),
            ("imds,slow", "WHAT 'slow'"),
        ] {
            let refused = parse(spec).expect_err(spec);
            assert!(refused.contains(part), "{spec}: {refused}");
        }
    }

    #[test]
    fn the_help_names_every_place_and_every_kind() {
        let places = [
            "imds",
            "imds-token",
            "imds-instance",
            "arm",
            "arc",
            "app-service",
            "cloud-shell",
            "service-fabric",
            "azure-ml",
            "authority",
        ];
        for place in places {
            assert!(route(place).is_ok(), "{place}");
            let line = format!("\n        {place} ");
            assert!(crate::HELP.contains(&line), "{place} missing in the help");
        }
        for kind in [
            "STATUS",
            "hang",
            "slow=SECS",
            "malformed",
            "proxy-page",
            "truncated",
            "oversized=BYTES",
            "redirect=URL",
            "reset",
        ] {
            let line = format!("\n        {kind} ");
            assert!(crate::HELP.contains(&line), "{kind} missing in the help");
        }
    }
}
