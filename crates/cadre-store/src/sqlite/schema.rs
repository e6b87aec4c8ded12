//! The tables, and the check that a file is a store database.

use cadre_core::{Error, ErrorCode};
use rusqlite::{Connection, OptionalExtension, params};

/// What `store_meta.format` holds in a cadre store database.
pub(super) const FORMAT: &str = "cadre-store";
/// The schema version this build writes and reads.
pub(super) const SCHEMA_VERSION: u32 = 1;

const SCHEMA: &str = "
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- The global position is the rowid: increasing, never reused (events are never deleted).
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL REFERENCES streams (id),
    version INTEGER NOT NULL,
    id BLOB NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE snapshots (
    stream_id INTEGER PRIMARY KEY REFERENCES streams (id),
    version INTEGER NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    saved_ms INTEGER NOT NULL
);
-- One row per event not yet relayed to the bus, written in the append's transaction.
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY
);
";

fn not_a_store(shown: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Storage,
        format!("{shown} is not a cadre store database: {why}"),
    )
    .with_retryable(false)
}

/// Creates the tables in an empty database, or checks that an existing one is a store
/// database of a version this build reads.
pub(super) fn prepare(conn: &mut Connection, shown: &str) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| not_a_store(shown, e))?;
    let tables: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(|e| not_a_store(shown, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| not_a_store(shown, e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| not_a_store(shown, e))?
    };
    if tables.is_empty() {
        tx.execute_batch(SCHEMA).map_err(|e| {
            Error::new(ErrorCode::Storage, format!("{shown}: creating tables: {e}"))
        })?;
        tx.execute(
            "INSERT INTO store_meta (key, value) VALUES ('format', ?1), ('schema_version', ?2)",
            params![FORMAT, SCHEMA_VERSION.to_string()],
        )
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
        tx.commit()
            .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
        return Ok(());
    }
    if !tables.iter().any(|t| t == "store_meta") {
        let shown_tables: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
        return Err(not_a_store(
            shown,
            format!(
                "it holds other tables ({}) and no `store_meta`",
                shown_tables.join(", ")
            ),
        ));
    }
    let meta = |key: &str| -> Result<Option<String>, Error> {
        tx.query_row(
            "SELECT value FROM store_meta WHERE key = ?1",
            params![key],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| not_a_store(shown, e))
    };
    match meta("format")? {
        Some(f) if f == FORMAT => {}
        other => {
            return Err(not_a_store(
                shown,
                format!("its format is {other:?}, expected {FORMAT:?}"),
            ));
        }
    }
    let version = meta("schema_version")?
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| not_a_store(shown, "it has no readable schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorCode::Storage,
            format!(
                "{shown}: store schema version {version} is newer than this build's ({SCHEMA_VERSION}); upgrade cadre"
            ),
        )
        .with_retryable(false));
    }
    Ok(())
}
