//! The tables, and the check that a file is a store database.

use cadre_core::{Error, ErrorCode};
use rusqlite::{Connection, OptionalExtension, params};

/// What `store_meta.format` holds in a cadre store database.
pub(super) const FORMAT: &str = "cadre-store";
/// The schema version this build writes and reads. Version 1 files are migrated in place.
pub(super) const SCHEMA_VERSION: u32 = 2;
/// The `store_meta` key holding the highest global position ever handed out, when the event
/// holding it was deleted (see [`super::writer`]): the next event must be stored after it.
pub(super) const POSITION_FLOOR: &str = "position_floor";

const SCHEMA: &str = "
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- The global position is the rowid: increasing, never reused (when the newest events are
-- deleted, store_meta.position_floor keeps the next one above them).
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
    -- The metadata's conversation id and agent, for queries (version 2).
    conversation_id TEXT,
    agent TEXT,
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

/// The indexes queries use (version 2). Each index entry ends with the rowid, so an equality
/// on the indexed column walks its events in global order.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS events_conversation ON events (conversation_id)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_agent ON events (agent) WHERE agent IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_recorded ON events (recorded_ms);
";

/// Version 1 to 2: the metadata's conversation id and agent get columns of their own, filled
/// from the `metadata` JSON of the stored events, and indexes.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE events ADD COLUMN conversation_id TEXT;
ALTER TABLE events ADD COLUMN agent TEXT;
UPDATE events SET
    conversation_id = json_extract(metadata, '$.conversation_id'),
    agent = json_extract(metadata, '$.agent')
WHERE metadata <> '{}' AND json_valid(metadata);
";

fn not_a_store(shown: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Storage,
        format!("{shown} is not a cadre store database: {why}"),
    )
    .with_retryable(false)
}

/// Creates the tables in an empty database, or checks that an existing one is a store
/// database of a version this build reads, migrating a version 1 database to version 2.
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
        tx.execute_batch(SCHEMA)
            .and_then(|()| tx.execute_batch(INDEXES))
            .map_err(|e| {
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
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version != 1 {
        return Err(not_a_store(
            shown,
            format!("it has an unknown schema version {version}"),
        ));
    }
    migrate_1_to_2(&tx, shown)?;
    tx.commit()
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
    tracing::info!(
        path = shown,
        "event store migrated from schema version 1 to 2"
    );
    Ok(())
}

/// Upgrades a version 1 database in the open transaction: all of it happens, or none.
fn migrate_1_to_2(tx: &rusqlite::Transaction<'_>, shown: &str) -> Result<(), Error> {
    let fail = |e: rusqlite::Error| {
        Error::new(
            ErrorCode::Storage,
            format!("{shown}: migrating the store from schema version 1 to 2: {e}"),
        )
    };
    tx.execute_batch(MIGRATE_1_TO_2).map_err(fail)?;
    tx.execute_batch(INDEXES).map_err(fail)?;
    tx.execute(
        "UPDATE store_meta SET value = ?1 WHERE key = 'schema_version'",
        params![SCHEMA_VERSION.to_string()],
    )
    .map_err(fail)?;
    Ok(())
}
