//! The OHLCV CSV loader.

use std::path::Path;

use cadre_core::{Error, ErrorCode, Result};
use chrono::{DateTime, NaiveDate, Utc};

use super::{Bar, Bars};

const COLUMNS: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];

/// Loads an OHLCV CSV file into [`Bars`]. See [`parse_csv`] for the format.
///
/// Errors name the file, the line and the bad field (`data/spy.csv:12: field `high`: ...`).
pub fn load_csv(path: impl AsRef<Path>) -> Result<Bars> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("{}: cannot read: {e}", path.display()),
        )
    })?;
    parse_csv(&text, &path.display().to_string())
}

/// Parses OHLCV CSV text; `source` names it in errors (a file name).
///
/// The header must be `date,open,high,low,close,volume` (case and surrounding spaces ignored).
/// Dates are RFC 3339 (`2026-01-05T14:30:00Z`, any offset, converted to UTC) or `YYYY-MM-DD`
/// (midnight UTC). Fields may be double-quoted (and then hold commas and doubled quotes, but not
/// line breaks). Blank lines are skipped. Every row must make a valid [`Bar`] and come strictly
/// after the previous one.
pub fn parse_csv(text: &str, source: &str) -> Result<Bars> {
    let at = |line: usize, msg: String| crate::table::error_at(source, line, msg);
    let mut bars = Bars::new();
    for row in crate::table::read(text, source, &COLUMNS, "")? {
        let (line, fields) = (row.line, row.fields);
        let time = parse_date(&fields[0]).map_err(|m| at(line, format!("field `date`: {m}")))?;
        let mut nums = [0.0; 5];
        for (k, slot) in nums.iter_mut().enumerate() {
            let raw = &fields[k + 1];
            *slot = raw.parse::<f64>().map_err(|_| {
                at(
                    line,
                    format!("field `{}`: `{raw}` is not a number", COLUMNS[k + 1]),
                )
            })?;
        }
        let [open, high, low, close, volume] = nums;
        let bar = Bar::new(time, open, high, low, close, volume)
            .map_err(|e| at(line, e.message().to_owned()))?;
        bars.push(bar)
            .map_err(|e| at(line, format!("field `date`: {}", e.message())))?;
    }
    Ok(bars)
}

pub(crate) fn parse_date(raw: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(format!("`{raw}` is neither RFC 3339 nor YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_rfc3339() {
        let text = "\u{feff}Date,Open,High,Low,Close,Volume\n\
                    2026-01-05,10,11,9,10.5,1000\n\
                    \n\
                    \"2026-01-06T00:00:00+01:00\",10.5,12,10,11,0\n\
                    2026-01-06T09:30:00Z, 11 , 11.5 , 10.8 , 11.2 , 5e3\n";
        let bars = parse_csv(text, "x.csv").unwrap();
        assert_eq!(bars.len(), 3);
        assert_eq!(
            bars.as_slice()[0].time().to_rfc3339(),
            "2026-01-05T00:00:00+00:00"
        );
        assert_eq!(
            bars.as_slice()[1].time().to_rfc3339(),
            "2026-01-05T23:00:00+00:00"
        );
        assert_eq!(bars.as_slice()[2].volume(), 5000.0);
    }

    fn err(text: &str) -> String {
        parse_csv(text, "data/spy.csv").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let h = "date,open,high,low,close,volume\n";
        assert_eq!(
            err(&format!(
                "{h}2026-01-05,10,11,9,10.5,1000\n2026-01-06,10,x,9,10,1\n"
            )),
            "data/spy.csv:3: field `high`: `x` is not a number"
        );
        assert_eq!(
            err(&format!("{h}2026-13-05,10,11,9,10.5,1000\n")),
            "data/spy.csv:2: field `date`: `2026-13-05` is neither RFC 3339 nor YYYY-MM-DD"
        );
        assert!(
            err(&format!("{h}2026-01-05,10,9,9,10.5,1000\n")).starts_with("data/spy.csv:2: high 9")
        );
        assert!(
            err(&format!("{h}2026-01-05,10,11,9,10.5,-1\n")).starts_with("data/spy.csv:2: volume")
        );
        assert!(
            err(&format!(
                "{h}2026-01-05,10,11,9,10.5,1\n2026-01-05,10,11,9,10.5,1\n"
            ))
            .starts_with("data/spy.csv:3: field `date`: time 2026-01-05")
        );
        assert_eq!(
            err(&format!("{h}2026-01-05,10,11\n")),
            "data/spy.csv:2: 3 fields, expected 6"
        );
        assert!(err("time,o,h,l,c,v\n").starts_with("data/spy.csv:1: header is `time,o,h,l,c,v`"));
        assert!(err("").starts_with("data/spy.csv: empty file"));
        assert!(
            err(&format!("{h}2026-01-05,NaN,11,9,10.5,1\n")).starts_with("data/spy.csv:2: open")
        );
    }

    #[test]
    fn load_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.csv");
        let e = load_csv(&path).unwrap_err();
        assert!(e.to_string().contains("nope.csv: cannot read"), "{e}");
        std::fs::write(
            &path,
            "date,open,high,low,close,volume\n2026-01-05,1,1,1,1,1\n",
        )
        .unwrap();
        assert_eq!(load_csv(&path).unwrap().len(), 1);
    }
}
