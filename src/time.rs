//! Civil time for tokens: the many `expires_on` forms identity hosts send, read as epoch
//! seconds, and RFC 3339 UTC for what armi prints. No time zone database: offsets are written in
//! the dates themselves, and a missing one means UTC.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// 9999-12-31T23:59:59Z, the last second RFC 3339 can write with a four-digit year.
pub(crate) const MAX_EPOCH: u64 = 253_402_300_799;
/// Longer strings are not dates; bounding them keeps hostile input cheap.
const MAX_DATE_CHARS: usize = 64;

/// The current time in epoch seconds, for [`Token::parse`]'s `now`; 0 if the clock is before 1970.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Parses an expires_on value the identity hosts send. Returns epoch seconds.
///
/// Accepts epoch seconds (number or numeric string) and the date formats listed in the module doc;
/// `None` for anything else, including values before 1970 or after 9999.
pub fn parse_expires_on(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => seconds_from_str(text).or_else(|| parse_date(text)),
        other => parse_seconds(other),
    }
}

/// A count of seconds, or an epoch: a JSON number or a string holding one, whole and in range.
pub(crate) fn parse_seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(whole) => in_range(whole),
            None => n.as_f64().and_then(whole_seconds),
        },
        Value::String(text) => seconds_from_str(text),
        _ => None,
    }
}

fn in_range(seconds: u64) -> Option<u64> {
    (seconds <= MAX_EPOCH).then_some(seconds)
}

/// A float is accepted only when it is a whole number (`3599.0`): negative, NaN, infinite or fractional
/// values are not seconds any host means.
fn whole_seconds(seconds: f64) -> Option<u64> {
    let whole = seconds.is_finite() && seconds >= 0.0 && seconds.fract() == 0.0;
    // In range first, so the cast below is exact.
    (whole && seconds <= MAX_EPOCH as f64).then_some(seconds as u64)
}

/// ASCII digits, optionally followed by `.` and zeros (`"1586984735.0"`); surrounding whitespace is
/// ignored. Unicode digits, signs and exponents are not seconds.
fn seconds_from_str(text: &str) -> Option<u64> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (text, "0"),
    };
    let digits = !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit());
    if !digits || !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    // Overflow (a megabyte of digits) is an Err here, not a panic.
    whole.parse::<u64>().ok().and_then(in_range)
}

/// A calendar date and time of day as written, before the zone offset is applied.
struct Civil {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Seconds east of UTC.
    offset: i64,
}

fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.len() > MAX_DATE_CHARS || !text.is_ascii() {
        return None;
    }
    let mut scan = Scan::new(text);
    // Slashes mean the App Service month/day/year form; otherwise year-month-day.
    let (year, month, day) = if text.contains('/') {
        scan.us_date()?
    } else {
        scan.iso_date()?
    };
    let date_time_separator = scan.eat(b'T') || scan.eat(b't') || scan.spaces();
    if !date_time_separator {
        return None;
    }
    let (hour, minute, second) = scan.time()?;
    scan.spaces();
    let afternoon = scan.meridiem();
    scan.spaces();
    let offset = scan.offset()?;
    if !scan.done() {
        return None;
    }
    let civil = Civil {
        year,
        month,
        day,
        hour: hour_of_day(hour, afternoon)?,
        minute,
        second,
        offset,
    };
    epoch_of(&civil)
}

/// 12-hour clock when AM/PM was given (12 AM is midnight, 12 PM noon), else 24-hour.
fn hour_of_day(hour: u32, afternoon: Option<bool>) -> Option<u32> {
    match afternoon {
        None => (hour < 24).then_some(hour),
        Some(_) if !(1..=12).contains(&hour) => None,
        Some(false) => Some(hour % 12),
        Some(true) => Some(hour % 12 + 12),
    }
}

fn epoch_of(civil: &Civil) -> Option<u64> {
    let valid_date = (1970..=9999).contains(&civil.year)
        && (1..=12).contains(&civil.month)
        && (1..=days_in_month(civil.year, civil.month)).contains(&civil.day);
    if !valid_date || civil.minute > 59 || civil.second > 60 {
        return None;
    }
    // A leap second is a real instant, but epoch seconds cannot name it: take the second before.
    let second = civil.second.min(59);
    let days = days_from_civil(
        i64::from(civil.year),
        i64::from(civil.month),
        i64::from(civil.day),
    );
    let local = days * 86_400
        + i64::from(civil.hour) * 3_600
        + i64::from(civil.minute) * 60
        + i64::from(second);
    u64::try_from(local - civil.offset).ok().and_then(in_range)
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = (month + 9) % 12; // March is 0, so the leap day ends the year.
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats epoch seconds as RFC 3339 UTC.
///
/// Values past 9999-12-31T23:59:59Z, which RFC 3339 cannot write, are clamped to it.
pub fn rfc3339(epoch: u64) -> String {
    let epoch = epoch.min(MAX_EPOCH) as i64;
    let (year, month, day) = civil_from_days(epoch / 86_400);
    let second_of_day = epoch % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// A cursor over an ASCII date string.
struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        Scan {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// Three numbers with `separator` between them, each of so many digits (`(min, max)`):
    /// `M/D/YYYY`, `YYYY-MM-DD` and `H:MM:SS` are all this shape.
    fn three(&mut self, separator: u8, digits: [(usize, usize); 3]) -> Option<[u32; 3]> {
        let mut out = [0; 3];
        for (i, (min, max)) in digits.into_iter().enumerate() {
            if i > 0 {
                self.require(separator)?;
            }
            out[i] = self.number(min, max)?;
        }
        Some(out)
    }

    /// `M/D/YYYY` with one- or two-digit month and day.
    fn us_date(&mut self) -> Option<(u32, u32, u32)> {
        let [month, day, year] = self.three(b'/', [(1, 2), (1, 2), (4, 4)])?;
        Some((year, month, day))
    }

    /// `YYYY-MM-DD`.
    fn iso_date(&mut self) -> Option<(u32, u32, u32)> {
        let [year, month, day] = self.three(b'-', [(4, 4), (1, 2), (1, 2)])?;
        Some((year, month, day))
    }

    /// `H:MM:SS` with an optional fraction, which is dropped.
    fn time(&mut self) -> Option<(u32, u32, u32)> {
        let [hour, minute, second] = self.three(b':', [(1, 2), (2, 2), (2, 2)])?;
        if self.eat(b'.') {
            self.number(1, MAX_DATE_CHARS)?;
        }
        Some((hour, minute, second))
    }

    /// `AM` → Some(false), `PM` → Some(true), neither → None; any case.
    fn meridiem(&mut self) -> Option<bool> {
        let word = self.bytes.get(self.pos..self.pos + 2)?;
        let afternoon = match word.to_ascii_uppercase().as_slice() {
            b"AM" => false,
            b"PM" => true,
            _ => return None,
        };
        self.pos += 2;
        Some(afternoon)
    }

    /// `Z`, `±HH:MM`, `±HHMM`, or nothing (UTC); seconds east of UTC. `None` if malformed.
    fn offset(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') || self.done() {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2, 2)?;
        self.eat(b':');
        let minutes = self.number(2, 2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (i64::from(hours) * 3_600 + i64::from(minutes) * 60))
    }

    /// Between `min` and `max` ASCII digits. Used with `max` ≤ 4 for values, so no overflow; a longer
    /// run (a fraction) is only skipped.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while self.pos - start < max {
            match self.bytes.get(self.pos) {
                Some(b) if b.is_ascii_digit() => {
                    value = value.saturating_mul(10).saturating_add(u32::from(b - b'0'));
                    self.pos += 1;
                }
                _ => break,
            }
        }
        (self.pos - start >= min).then_some(value)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.pos) == Some(&byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn require(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Skips spaces; true if there were any.
    fn spaces(&mut self) -> bool {
        let start = self.pos;
        while self.eat(b' ') {}
        self.pos > start
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn on(value: Value) -> Option<u64> {
        parse_expires_on(&value)
    }

    #[test]
    fn app_service_2017_formats_from_the_sdk_docstring() {
        // 2020-01-16T05:24:12Z: 18277 days * 86400 + 5*3600 + 24*60 + 12 = 1579152252
        assert_eq!(
            on(json!("1/16/2020 5:24:12 AM +00:00")),
            Some(1_579_152_252)
        );
        // 2019-06-20T02:57:58Z: 18067 days * 86400 + 2*3600 + 57*60 + 58 = 1560999478
        assert_eq!(on(json!("06/20/2019 02:57:58 +00:00")), Some(1_560_999_478));
    }

    #[test]
    fn twelve_hour_clock_edges() {
        // 2020-01-16 00:24:12Z = 1579134252; 12:24:12Z = 1579177452; 17:24:12Z = 1579195452
        assert_eq!(
            on(json!("1/16/2020 12:24:12 AM +00:00")),
            Some(1_579_134_252)
        );
        assert_eq!(
            on(json!("1/16/2020 12:24:12 PM +00:00")),
            Some(1_579_177_452)
        );
        assert_eq!(
            on(json!("1/16/2020 5:24:12 PM +00:00")),
            Some(1_579_195_452)
        );
        assert_eq!(on(json!("1/16/2020 5:24:12 pm")), Some(1_579_195_452));
        assert_eq!(on(json!("1/16/2020 0:24:12 AM +00:00")), None);
        assert_eq!(on(json!("1/16/2020 13:24:12 PM +00:00")), None);
        assert_eq!(on(json!("1/16/2020 24:00:00 +00:00")), None);
    }

    #[test]
    fn offsets_are_subtracted_to_reach_utc() {
        // 06/20/2019 02:57:58 at +05:30 is 21:27:58Z the day before: 1560999478 - 19800 = 1560979678
        assert_eq!(on(json!("06/20/2019 02:57:58 +05:30")), Some(1_560_979_678));
        // at -08:00 it is 10:57:58Z: 1560999478 + 28800 = 1561028278
        assert_eq!(on(json!("06/20/2019 02:57:58 -08:00")), Some(1_561_028_278));
        assert_eq!(on(json!("06/20/2019 02:57:58 -0800")), Some(1_561_028_278));
        assert_eq!(on(json!("2019-06-20T02:57:58+05:30")), Some(1_560_979_678));
        assert_eq!(on(json!("2019-06-20T02:57:58-08:00")), Some(1_561_028_278));
        assert_eq!(
            on(json!("1/16/2020 5:24:12 AM -08:00")),
            Some(1_579_152_252 + 28_800)
        );
        assert_eq!(on(json!("06/20/2019 02:57:58 +24:00")), None);
        assert_eq!(on(json!("06/20/2019 02:57:58 +05:60")), None);
        assert_eq!(on(json!("06/20/2019 02:57:58 +5:30")), None);
        assert_eq!(on(json!("06/20/2019 02:57:58 05:30")), None);
    }

    #[test]
    fn iso_and_rfc3339_forms() {
        // MSAL.NET issue #4963 form. 2024-10-18T19:51:37Z = 1729281097
        assert_eq!(
            on(json!("2024-10-18T19:51:37.0000000+00:00")),
            Some(1_729_281_097)
        );
        assert_eq!(on(json!("2024-10-18T19:51:37Z")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18t19:51:37z")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18T19:51:37.999Z")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18T19:51:37+00:00")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18 19:51:37")), Some(1_729_281_097));
        // Go's reference time, assumed UTC: 2006-01-02T15:04:05Z = 1136214245
        assert_eq!(on(json!("2006-01-02 15:04:05")), Some(1_136_214_245));
        assert_eq!(on(json!(" 2006-01-02 15:04:05 ")), Some(1_136_214_245));
        assert_eq!(on(json!("2024-10-18T19:51:37.Z")), None);
        assert_eq!(on(json!("2024-10-18")), None);
        assert_eq!(on(json!("2024-10-18T19:51")), None);
        assert_eq!(on(json!("24-10-18T19:51:37Z")), None);
        assert_eq!(on(json!("2024-10-18T19:51:37Z trailing")), None);
        assert_eq!(on(json!("2024/10/18 19:51:37")), None);
    }

    #[test]
    fn leap_days_and_month_lengths() {
        // 2024-02-29T00:00:00Z = 1709164800
        assert_eq!(on(json!("02/29/2024 00:00:00 +00:00")), Some(1_709_164_800));
        assert_eq!(on(json!("2024-02-29T00:00:00Z")), Some(1_709_164_800));
        assert_eq!(on(json!("02/29/2023 00:00:00 +00:00")), None);
        assert_eq!(on(json!("02/29/2100 00:00:00 +00:00")), None);
        // 2000-02-29 = 951782400 (divisible by 400, so a leap year)
        assert_eq!(on(json!("02/29/2000 00:00:00")), Some(951_782_400));
        assert_eq!(on(json!("04/31/2024 00:00:00")), None);
        assert!(on(json!("12/31/2024 00:00:00")).is_some());
        assert_eq!(on(json!("13/01/2024 00:00:00")), None);
        assert_eq!(on(json!("00/10/2024 00:00:00")), None);
        assert_eq!(on(json!("01/00/2024 00:00:00")), None);
        assert_eq!(on(json!("01/32/2024 00:00:00")), None);
        assert_eq!(on(json!("01/01/2024 00:60:00")), None);
    }

    #[test]
    fn leap_second_counts_as_the_second_before() {
        // 2016-12-31T23:59:59Z = 1483228799
        assert_eq!(on(json!("2016-12-31T23:59:60Z")), Some(1_483_228_799));
        assert_eq!(on(json!("2016-12-31T23:59:61Z")), None);
    }

    #[test]
    fn dates_outside_1970_to_9999_are_rejected() {
        assert_eq!(on(json!("1969-12-31T23:59:59Z")), None);
        assert_eq!(on(json!("1970-01-01T00:00:00Z")), Some(0));
        // 05:30 at +05:30 on the first day is exactly the epoch; a second earlier is before it.
        assert_eq!(on(json!("1970-01-01T05:30:00+05:30")), Some(0));
        assert_eq!(on(json!("1970-01-01T05:29:59+05:30")), None);
        assert_eq!(on(json!("9999-12-31T23:59:59Z")), Some(MAX_EPOCH));
        assert_eq!(on(json!("9999-12-31T23:59:59-00:01")), None);
        assert_eq!(on(json!("0000-01-01T00:00:00Z")), None);
    }

    #[test]
    fn epoch_numbers_and_strings() {
        assert_eq!(on(json!(1_586_984_735)), Some(1_586_984_735));
        assert_eq!(on(json!("1586984735")), Some(1_586_984_735));
        assert_eq!(on(json!(1_586_984_735.0)), Some(1_586_984_735));
        assert_eq!(on(json!("1586984735.0")), Some(1_586_984_735));
        assert_eq!(on(json!("1586984735.000")), Some(1_586_984_735));
        assert_eq!(on(json!(" 1586984735\n")), Some(1_586_984_735));
        assert_eq!(on(json!("0001586984735")), Some(1_586_984_735));
        assert_eq!(on(json!(0)), Some(0));
        assert_eq!(on(json!(MAX_EPOCH)), Some(MAX_EPOCH));
    }

    #[test]
    fn absurd_numbers_are_rejected_without_overflow() {
        for bad in [
            json!(-1),
            json!(-1.0),
            json!(MAX_EPOCH + 1),
            json!(u64::MAX),
            json!(1e300),
            json!(1586984735.5),
            json!("1586984735.5"),
            json!("1586984735."),
            json!(".0"),
            json!("-1"),
            json!("+1586984735"),
            json!("1e9"),
            json!("1e309"),
            json!("NaN"),
            json!("inf"),
            json!("0x5E8F"),
            json!("18446744073709551616"),
            json!("99999999999999999999999999999999"),
            json!("١٢٣"),
            json!("１２３"),
            json!("12 34"),
            json!(""),
            json!(" "),
            json!(true),
            json!(null),
            json!([1586984735]),
            json!({"expires_on": 1586984735}),
        ] {
            assert_eq!(on(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        // 2025-01-01T00:00:00Z = 1735689600
        assert!(now() > 1_735_689_600);
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_790_388), "2026-11-27T14:39:48Z");
        assert_eq!(rfc3339(MAX_EPOCH), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(MAX_EPOCH + 1), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn calendar_round_trips_every_day_from_1970_to_9999() {
        let last_day = (MAX_EPOCH / 86_400) as i64;
        let mut expected = (1970, 1, 1);
        for days in 0..=last_day {
            let (y, m, d) = civil_from_days(days);
            assert_eq!((y, m, d), expected, "day {days}");
            assert_eq!(days_from_civil(y, m, d), days);
            expected = if d < i64::from(days_in_month(y as u32, m as u32)) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(expected, (10000, 1, 1));
    }

    #[test]
    fn every_parsed_date_prints_back_to_itself() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:34:56Z",
            "2024-10-18T19:51:37Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(on(json!(text)).map(rfc3339).as_deref(), Some(text));
        }
    }

    use crate::garbage::Garbage;

    #[test]
    fn garbage_dates_never_panic_and_stay_in_range() {
        let alphabet = b"0123456789//::-- ++.TZAMPamp9";
        let mut garbage = Garbage(0x2545_F491_4F6C_DD1D);
        for _ in 0..50_000 {
            let len = garbage.next() % 32;
            let text: String = (0..len)
                .map(|_| char::from(alphabet[(garbage.next() % alphabet.len() as u64) as usize]))
                .collect();
            if let Some(epoch) = on(Value::String(text.clone())) {
                assert!(epoch <= MAX_EPOCH, "{text}");
                let _ = rfc3339(epoch);
            }
        }
    }
}
