//! The CSV tables the pack reads (OHLCV bars, headlines): one reader for the byte order mark,
//! blank lines, the fixed header, quoting and field counts, with errors that name the source,
//! the line and the field.

use cadre_core::{Error, Result};

/// A data row of a table: its 1-based line and its fields, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) line: usize,
    pub(crate) fields: Vec<String>,
}

/// An `InvalidInput` error at `source:line`.
pub(crate) fn error_at(source: &str, line: usize, message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("{source}:{line}: {message}"))
}

/// Reads CSV `text` (named `source` in errors) whose header is `columns` (case and
/// surrounding spaces ignored). A UTF-8 byte order mark and blank lines are skipped. A field
/// may be double-quoted, and then hold commas and doubled quotes (`"He said ""buy"", twice"`),
/// but not line breaks. Every row must have one field per column; `count_hint` follows the
/// message when it has not (e.g. ` (quote a headline that has commas)`).
///
/// # Errors
///
/// `InvalidInput` as `source: empty file, ...`, `source:line: header is ...`,
/// `source:line: N fields, expected M...` or `source:line: field K: ...` (bad quoting).
pub(crate) fn read(
    text: &str,
    source: &str,
    columns: &[&str],
    count_hint: &str,
) -> Result<Vec<Row>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(Error::invalid_input(format!(
            "{source}: empty file, expected the header `{}`",
            columns.join(",")
        )));
    };
    let names: Vec<String> = split_row(header)
        .map_err(|m| error_at(source, header_line, m))?
        .iter()
        .map(|f| f.to_ascii_lowercase())
        .collect();
    if names != columns {
        return Err(error_at(
            source,
            header_line,
            format!(
                "header is `{}`, expected `{}`",
                header.trim(),
                columns.join(",")
            ),
        ));
    }
    lines
        .map(|(line, row)| {
            let fields = split_row(row).map_err(|m| error_at(source, line, m))?;
            if fields.len() != columns.len() {
                return Err(error_at(
                    source,
                    line,
                    format!(
                        "{} fields, expected {}{count_hint}",
                        fields.len(),
                        columns.len()
                    ),
                ));
            }
            Ok(Row { line, fields })
        })
        .collect()
}

/// Splits one CSV row into trimmed fields (RFC 4180 quoting within the line).
fn split_row(row: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = row.chars().peekable();
    loop {
        let mut field = String::new();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "field {}: unterminated quoted field",
                            fields.len() + 1
                        ));
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field.trim().to_owned());
                    return Ok(fields);
                }
                Some(',') => fields.push(field.trim().to_owned()),
                Some(c) => {
                    return Err(format!(
                        "field {}: `{c}` after a closing quote (double a quote inside a quoted field)",
                        fields.len() + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_owned());
                        return Ok(fields);
                    }
                    Some(',') => {
                        fields.push(field.trim().to_owned());
                        break;
                    }
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_hold_commas_and_doubled_quotes() {
        assert_eq!(
            split_row(r#" a , "b, ""c""" ,d "#).unwrap(),
            vec!["a", r#"b, "c""#, "d"]
        );
        assert_eq!(split_row("").unwrap(), vec![""]);
        assert_eq!(split_row("a,").unwrap(), vec!["a", ""]);
        assert_eq!(
            split_row(r#"a,"b"x"#).unwrap_err(),
            "field 2: `x` after a closing quote (double a quote inside a quoted field)"
        );
        assert_eq!(
            split_row(r#"a,"b"#).unwrap_err(),
            "field 2: unterminated quoted field"
        );
    }

    #[test]
    fn reads_rows_with_their_lines_after_the_header() {
        let text = "\u{feff} X , y\n\n1,2\n \"3\",\"4,5\"\n";
        let rows = read(text, "t.csv", &["x", "y"], "").unwrap();
        assert_eq!(
            rows,
            vec![
                Row {
                    line: 3,
                    fields: vec!["1".into(), "2".into()]
                },
                Row {
                    line: 4,
                    fields: vec!["3".into(), "4,5".into()]
                },
            ]
        );
        let err = |t: &str| {
            read(t, "t.csv", &["x", "y"], " (hint)")
                .unwrap_err()
                .to_string()
        };
        assert!(err("").starts_with("t.csv: empty file, expected the header `x,y`"));
        assert!(err("x,z\n").starts_with("t.csv:1: header is `x,z`, expected `x,y`"));
        assert!(err("x,y\n1,2,3\n").ends_with("t.csv:2: 3 fields, expected 2 (hint)"));
    }
}
