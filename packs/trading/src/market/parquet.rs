//! The OHLCV Parquet loader (the `parquet` crate's row reader, Snappy and uncompressed pages;
//! no Arrow).

use std::path::Path;

use cadre_core::{Error, ErrorCode, Result};
use chrono::{DateTime, Utc};
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::csv::parse_date;
use super::{Bar, Bars};

const COLUMNS: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];

/// Loads an OHLCV Parquet file into [`Bars`], validated as [`load_csv`](super::load_csv)
/// validates a CSV file (every row a valid [`Bar`], times strictly increasing).
///
/// Columns (names case-insensitive; others, such as a pandas index, are ignored):
/// - `date`: a timestamp of any unit (seconds are stored as milliseconds by pyarrow) with or
///   without a time zone (a naive timestamp is taken as UTC), a `date32` (midnight UTC) or a
///   string in the CSV formats (RFC 3339 or `YYYY-MM-DD`);
/// - `open`, `high`, `low`, `close`, `volume`: floating point or integer.
///
/// Files as pandas and pyarrow write them load: Snappy-compressed or uncompressed pages (other
/// codecs are reported as an error naming the file).
///
/// # Errors
///
/// `InvalidInput` naming the file, and the row (1-based) and field where there is one:
/// `prices.parquet: row 17: field `high`: ...`. A file that is not Parquet or is corrupt is
/// an error, not a panic.
pub fn load_parquet(path: impl AsRef<Path>) -> Result<Bars> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let fail = |msg: String| Error::new(ErrorCode::InvalidInput, format!("{shown}: {msg}"));
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| fail(format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let mut index = [usize::MAX; 6];
    for (i, col) in schema.columns().iter().enumerate() {
        let name = col.name().to_ascii_lowercase();
        if let Some(k) = COLUMNS.iter().position(|c| *c == name) {
            index[k] = i;
        }
    }
    if let Some(k) = index.iter().position(|&i| i == usize::MAX) {
        let have: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
        return Err(fail(format!(
            "no `{}` column (the file has: {})",
            COLUMNS[k],
            have.join(", ")
        )));
    }
    let date_unit = match schema.column(index[0]).logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => Some(t.unit),
        _ => None,
    };
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| fail(format!("cannot read rows: {e}")))?;
    let mut bars = Bars::new();
    for (n, row) in rows.enumerate() {
        let line = n + 1;
        let at = |msg: String| fail(format!("row {line}: {msg}"));
        let row = row.map_err(|e| at(format!("cannot decode: {e}")))?;
        let mut fields: [Option<&Field>; 6] = [None; 6];
        for (name, field) in row.get_column_iter() {
            let name = name.to_ascii_lowercase();
            if let Some(k) = COLUMNS.iter().position(|c| *c == name) {
                fields[k] = Some(field);
            }
        }
        let get =
            |k: usize| fields[k].ok_or_else(|| at(format!("field `{}`: missing", COLUMNS[k])));
        let time =
            date(get(0)?, date_unit.as_ref()).map_err(|m| at(format!("field `date`: {m}")))?;
        let mut nums = [0.0; 5];
        for (k, slot) in nums.iter_mut().enumerate() {
            *slot =
                number(get(k + 1)?).map_err(|m| at(format!("field `{}`: {m}", COLUMNS[k + 1])))?;
        }
        let [open, high, low, close, volume] = nums;
        let bar = Bar::new(time, open, high, low, close, volume)
            .map_err(|e| at(e.message().to_owned()))?;
        bars.push(bar)
            .map_err(|e| at(format!("field `date`: {}", e.message())))?;
    }
    Ok(bars)
}

fn date(field: &Field, unit: Option<&TimeUnit>) -> std::result::Result<DateTime<Utc>, String> {
    let out_of_range = || format!("{field} is out of range");
    match field {
        Field::TimestampMillis(v) => DateTime::from_timestamp_millis(*v).ok_or_else(out_of_range),
        Field::TimestampMicros(v) => DateTime::from_timestamp_micros(*v).ok_or_else(out_of_range),
        Field::Long(v) if matches!(unit, Some(TimeUnit::NANOS)) => {
            Ok(DateTime::from_timestamp_nanos(*v))
        }
        Field::Date(days) => {
            DateTime::from_timestamp(i64::from(*days) * 86_400, 0).ok_or_else(out_of_range)
        }
        Field::Str(s) => parse_date(s.trim()),
        Field::Null => Err("is null".into()),
        other => Err(format!("{other} is not a timestamp, date or date string")),
    }
}

fn number(field: &Field) -> std::result::Result<f64, String> {
    let v = match field {
        Field::Double(v) => *v,
        Field::Float(v) => f64::from(*v),
        Field::Byte(v) => f64::from(*v),
        Field::Short(v) => f64::from(*v),
        Field::Int(v) => f64::from(*v),
        Field::Long(v) => *v as f64,
        Field::UByte(v) => f64::from(*v),
        Field::UShort(v) => f64::from(*v),
        Field::UInt(v) => f64::from(*v),
        Field::ULong(v) => *v as f64,
        Field::Null => return Err("is null".into()),
        other => return Err(format!("{other} is not a number")),
    };
    Ok(v)
}
