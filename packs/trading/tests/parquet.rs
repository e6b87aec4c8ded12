//! The Parquet loader against the CSV loader on the same bars (`tests/golden/generate_parquet.py`
//! writes both with pyarrow): every `date` encoding loads equal to the CSV, bad rows and
//! corrupt files are errors naming the file and row, never panics.

use std::path::PathBuf;

use cadre_core::ErrorCode;
use cadre_pack_trading::market::{load_bars, load_csv, load_parquet};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn every_date_encoding_loads_equal_to_the_csv() {
    let csv = load_csv(golden("prices.csv")).unwrap();
    assert_eq!(csv.len(), 12);
    for name in [
        "prices_ns_utc.parquet",
        "prices_us_naive.parquet",
        "prices_ms_tz.parquet",
        "prices_date32.parquet",
        "prices_string.parquet",
    ] {
        let bars = load_parquet(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bars, csv, "{name}");
        assert_eq!(load_bars(golden(name)).unwrap(), csv, "{name} by extension");
    }
    assert_eq!(load_bars(golden("prices.csv")).unwrap(), csv);
}

#[test]
fn a_bad_row_names_the_file_and_row() {
    let e = load_parquet(golden("bad_high.parquet")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    let msg = e.to_string();
    assert!(msg.contains("bad_high.parquet: row 3: high"), "{msg}");
}

#[test]
fn corrupt_and_foreign_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(golden("prices_ns_utc.parquet")).unwrap();
    // Not Parquet at all.
    let csv_named_parquet = dir.path().join("prices.parquet");
    std::fs::copy(golden("prices.csv"), &csv_named_parquet).unwrap();
    let e = load_bars(&csv_named_parquet).unwrap_err().to_string();
    assert!(
        e.contains("prices.parquet: not a readable Parquet file"),
        "{e}"
    );
    // Truncated: the footer is gone.
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    assert!(
        load_parquet(&cut)
            .unwrap_err()
            .to_string()
            .contains("cut.parquet: ")
    );
    // Data pages overwritten, footer intact: decoding fails somewhere, as an error.
    let mut garbled = good.clone();
    for b in garbled.iter_mut().skip(4).take(good.len() / 2) {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let path = dir.path().join("garbled.parquet");
    std::fs::write(&path, &garbled).unwrap();
    let e = load_parquet(&path).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", path.display())), "{e}");
    // Missing file and a Parquet file without the OHLCV columns.
    let e = load_parquet(dir.path().join("nope.parquet"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.parquet: cannot read"), "{e}");
}

#[test]
fn a_missing_column_is_named() {
    let e = load_parquet(golden("no_volume.parquet"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "no_volume.parquet: no `volume` column (the file has: date, open, high, low, close)"
        ),
        "{e}"
    );
}
