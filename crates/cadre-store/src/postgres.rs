//! The PostgreSQL backend: the same tables as the SQLite store, in a schema of their own.
//!
//! Every append is one transaction that first takes a transaction-level advisory lock
//! (`pg_advisory_xact_lock`) keyed by the schema, so appends to one store run one after the
//! other. That is what makes the global feed safe to tail: the global position comes from an
//! identity column, whose values are handed out when a row is inserted, not when its
//! transaction commits. Without the lock, a transaction could take position 10, a later one
//! position 11 and commit first, and a reader that had seen 11 would never look back at 10.
//! Holding the lock from before the first insert until after the commit means positions become
//! visible in the order they were handed out. Positions can still have gaps (a rolled-back
//! append has used its values), never reorderings.
//!
//! Appends run at `READ COMMITTED`, so each statement after the lock sees every append
//! committed before it; reads use whatever connection of the pool is free. Deleting a stream
//! takes the same lock, so it never interleaves with an append.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use cadre_core::{Error, ErrorCode, Payload};
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgDatabaseError, PgPool, PgPoolOptions, PgRow,
};
use sqlx::{Connection, Executor, Row};

use crate::query::{Arg, Dialect, prefix_upper_bound, validate_prefix};
use crate::sqlite::{Prepared, prepare};
use crate::store::MAX_READ;
use crate::url::redact;
use crate::{
    AppendResult, Direction, EventId, EventMetadata, EventPosition, EventQuery, EventStore,
    ExpectedVersion, NewEvent, RecordedEvent, StreamId, StreamSummary,
};

/// The schema [`PostgresStore::connect`] uses.
pub const DEFAULT_SCHEMA: &str = "cadre_store";

/// What `store_meta.format` holds in a cadre store schema.
const FORMAT: &str = "cadre-store";
/// The schema version this build writes and reads. A version 1 schema is upgraded in place.
const SCHEMA_VERSION: u32 = 2;
/// The first key of the advisory locks this backend takes (`cadr`); the second is a hash of
/// the schema name, so stores in different schemas do not wait for each other.
const LOCK_NAMESPACE: i32 = 0x6361_6472;
/// How long connecting, or waiting for a free connection of the pool, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per store.
const MAX_CONNECTIONS: u32 = 8;

const SCHEMA: &str = "
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE streams (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL
);
-- The global position: increasing, never reused; gaps where an append rolled back.
CREATE TABLE events (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id BIGINT NOT NULL REFERENCES streams (id),
    version BIGINT NOT NULL,
    id UUID NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version BIGINT NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_ms BIGINT NOT NULL,
    -- The metadata's conversation id and agent, for queries (version 2).
    conversation_id UUID,
    agent TEXT,
    UNIQUE (stream_id, version)
);
CREATE TABLE snapshots (
    stream_id BIGINT PRIMARY KEY REFERENCES streams (id),
    version BIGINT NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version BIGINT NOT NULL,
    payload TEXT NOT NULL,
    saved_ms BIGINT NOT NULL
);
-- One row per event not yet relayed to the bus, written in the append's transaction.
CREATE TABLE outbox (
    position BIGINT PRIMARY KEY
);
";

/// Version 1 to 2, written to run again harmlessly: the metadata's conversation id and agent
/// get columns of their own, filled from the `metadata` JSON of the stored events.
const UPGRADE_TO_2: &str = "
ALTER TABLE events ADD COLUMN IF NOT EXISTS conversation_id UUID;
ALTER TABLE events ADD COLUMN IF NOT EXISTS agent TEXT;
UPDATE events SET
    conversation_id = (metadata::jsonb ->> 'conversation_id')::uuid,
    agent = metadata::jsonb ->> 'agent'
WHERE metadata <> '{}' AND conversation_id IS NULL AND agent IS NULL;
";

/// The indexes queries and listings use (version 2). Stream names compare in byte order
/// (`COLLATE \"C\"`), whatever the database's collation.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS events_conversation ON events (conversation_id, position)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_agent ON events (agent, position) WHERE agent IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_recorded ON events (recorded_ms);
CREATE INDEX IF NOT EXISTS streams_name_bytes ON streams (name COLLATE \"C\");
";

/// The columns every event query selects, in the order [`decode_row`] reads them.
const COLUMNS: &str = "e.position, s.name, e.version, e.id::text, e.event_type, e.payload_type, e.payload_version, e.payload, e.metadata, e.recorded_ms";

const INSERT: &str = "
WITH st AS (
    INSERT INTO streams AS s (name, version) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version
    RETURNING s.id
), ins AS (
    INSERT INTO events (stream_id, version, id, event_type, payload_type, payload_version, payload, metadata, recorded_ms, conversation_id, agent)
    SELECT st.id, b.version, b.id::uuid, b.event_type, b.payload_type, b.payload_version, b.payload, b.metadata, $3, b.conversation_id::uuid, b.agent
    FROM st, UNNEST($4::int8[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[])
        AS b (version, id, event_type, payload_type, payload_version, payload, metadata, conversation_id, agent)
    ORDER BY b.version
    RETURNING position, version
), ob AS (
    INSERT INTO outbox (position)
    SELECT ins.position FROM ins JOIN UNNEST($4::int8[], $13::bool[]) AS p (version, publish)
        ON p.version = ins.version
    WHERE p.publish
)
SELECT position, version FROM ins ORDER BY position";

/// The PostgreSQL event store. Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
/// use cadre_core::Payload;
/// use cadre_store::{EventStore, ExpectedVersion, NewEvent, PostgresStore, StreamId};
///
/// let store = PostgresStore::connect("postgres://cadre@127.0.0.1:5432/cadre").await?;
/// let order = StreamId::new("order-42")?;
/// let placed = NewEvent::new(Payload::from_json_text("order.placed", 1, r#"{"qty":3}"#)?);
/// store.append(&order, ExpectedVersion::NoStream, vec![placed]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    lock_key: i32,
    /// `user@host:port/database`: never the password.
    target: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`)
    /// and uses the schema [`DEFAULT_SCHEMA`], creating it and its tables if needed.
    ///
    /// # Errors
    /// As [`PostgresStore::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, DEFAULT_SCHEMA).await
    }

    /// Connects to the database at `url` and keeps the store in `schema` (1 to 63 lowercase
    /// ASCII letters, digits and `_`, not starting with a digit), creating the schema and its
    /// tables if needed. Stores in different schemas are independent.
    ///
    /// # Errors
    /// - `InvalidInput` for a URL that does not parse or a bad schema name;
    /// - `Unavailable` naming the server (never the password) when it cannot be reached or
    ///   refuses the login;
    /// - `Storage` when the schema holds other tables, or a store of a newer cadre.
    pub async fn connect_with(url: &str, schema: &str) -> Result<Self, Error> {
        validate_schema(schema)?;
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            Error::invalid_input(format!("invalid PostgreSQL URL `{}`: {e}", redact(url)))
        })?;
        let target = describe(&options);
        let options = options
            .application_name("cadre-store")
            .options([("search_path", schema)]);
        let lock_key = lock_key(schema);
        let fail = |what: &str| {
            let target = target.clone();
            let what = what.to_owned();
            move |e: sqlx::Error| convert(&target, &what, e)
        };
        let mut conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await
            {
                Ok(conn) => conn.map_err(fail("connecting"))?,
                Err(_) => {
                    return Err(Error::new(
                        ErrorCode::Unavailable,
                        format!(
                            "postgres {target}: connecting: no answer in {} s",
                            CONNECT_TIMEOUT.as_secs()
                        ),
                    ));
                }
            };
        prepare_schema(&mut conn, schema, lock_key, &target).await?;
        conn.close()
            .await
            .map_err(fail("closing the setup connection"))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            schema: schema.to_owned(),
            lock_key,
            target,
        })
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The server, as `user@host:port/database` (without the password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Closes the pool's connections; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Drops the store's schema with every table in it, then closes the pool (for benchmarks
    /// and tests that made a schema of their own).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn drop_schema(self) -> Result<(), Error> {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        self.pool
            .execute(sqlx::raw_sql(&sql))
            .await
            .map_err(self.err("dropping the schema"))?;
        self.pool.close().await;
        Ok(())
    }

    fn err(&self, what: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
        let what = what.to_owned();
        move |e| convert(&self.target, &what, e)
    }

    /// When every event of the batch is stored in the stream `sid`, the answer to the
    /// re-append; `None` when none is stored anywhere.
    ///
    /// # Errors
    /// `Conflict` when some are stored and others not, or one is stored in another stream.
    async fn already_stored(
        &self,
        stream: &StreamId,
        sid: Option<i64>,
        version: u64,
        events: &[Prepared],
    ) -> Result<Option<AppendResult>, Error> {
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        let rows = sqlx::query(
            "SELECT id::text, stream_id, version, position FROM events WHERE id = ANY($1::uuid[])",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("looking up event ids"))?;
        let mut stored: HashMap<uuid::Uuid, (i64, i64, i64)> = HashMap::with_capacity(rows.len());
        for row in rows {
            let get = |e| convert(&self.target, "looking up event ids", e);
            let id: String = row.try_get(0).map_err(get)?;
            let id = uuid::Uuid::parse_str(&id)
                .map_err(|e| Error::new(ErrorCode::Decode, format!("stored event id {id}: {e}")))?;
            stored.insert(
                id,
                (
                    row.try_get(1).map_err(get)?,
                    row.try_get(2).map_err(get)?,
                    row.try_get(3).map_err(get)?,
                ),
            );
        }
        let lookups = events.iter().map(|e| {
            let at = stored
                .get(e.id.as_uuid())
                .map(|&(stream_id, v, position)| (Some(stream_id) == sid, u(v), u(position)));
            (e.id, at)
        });
        crate::event::reappend(stream, lookups, version)
    }

    async fn read_events(
        &self,
        what: &str,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let rows = query.fetch_all(&self.pool).await.map_err(self.err(what))?;
        let mut names: HashMap<String, StreamId> = HashMap::new();
        rows.iter()
            .map(|row| decode_row(row, &mut names).map_err(|e| self.err(what)(e)))
            .collect::<Result<Result<Vec<_>, Error>, Error>>()?
    }
}

/// Checks that `schema` is a plain lowercase identifier (it is written into SQL).
fn validate_schema(schema: &str) -> Result<(), Error> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        let shown: String = schema.chars().take(64).collect();
        Err(Error::invalid_input(format!(
            "invalid PostgreSQL schema name `{shown}`: use 1 to 63 lowercase letters, digits and _, not starting with a digit"
        )))
    }
}

/// FNV-1a of the schema name: the second key of the store's advisory lock.
fn lock_key(schema: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// `user@host:port/database`, for messages.
fn describe(options: &PgConnectOptions) -> String {
    let db = options.get_database().unwrap_or(options.get_username());
    format!(
        "{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        db
    )
}

/// Maps a driver error to a cadre error naming the server (`target` holds no password).
fn convert(target: &str, what: &str, e: sqlx::Error) -> Error {
    let at = format!("postgres {target}: {what}");
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let detail = db
                .try_downcast_ref::<PgDatabaseError>()
                .and_then(PgDatabaseError::detail)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let message = format!("{at}: {}{detail} [SQLSTATE {code}]", db.message());
            match code.as_str() {
                // unique_violation
                "23505" => Error::new(ErrorCode::Conflict, message).with_retryable(false),
                // connection exceptions, shutdowns, too many connections
                c if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
                    Error::new(ErrorCode::Unavailable, message)
                }
                // invalid authorization, unknown database
                c if c.starts_with("28") || c == "3D000" => {
                    Error::new(ErrorCode::Unavailable, message).with_retryable(false)
                }
                // serialization failure, deadlock
                "40001" | "40P01" => Error::new(ErrorCode::Storage, message).with_retryable(true),
                _ => Error::new(ErrorCode::Storage, message),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::new(ErrorCode::Unavailable, format!("{at}: {e}")),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            Error::new(ErrorCode::Decode, format!("{at}: {e}"))
        }
        other => Error::new(ErrorCode::Storage, format!("{at}: {other}")),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn limit(max: usize) -> i64 {
    i64::try_from(max.min(MAX_READ)).unwrap_or(0)
}

/// Creates the schema and its tables, or checks that an existing schema holds a store of a
/// version this build reads, upgrading a version 1 store to version 2. Runs under the
/// store's advisory lock so that two processes connecting at once do not both create (or
/// upgrade) it.
async fn prepare_schema(
    conn: &mut PgConnection,
    schema: &str,
    lock_key: i32,
    target: &str,
) -> Result<(), Error> {
    let fail = |what: &'static str| move |e: sqlx::Error| convert(target, what, e);
    let not_a_store = |why: String| {
        Error::new(
            ErrorCode::Storage,
            format!("postgres {target}: schema `{schema}` is not a cadre store: {why}"),
        )
        .with_retryable(false)
    };
    let mut tx = conn
        .begin()
        .await
        .map_err(fail("beginning a transaction"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(LOCK_NAMESPACE)
        .bind(lock_key)
        .execute(&mut *tx)
        .await
        .map_err(fail("locking the store"))?;
    // The name was validated: lowercase letters, digits and `_` only.
    let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    (&mut *tx)
        .execute(sqlx::raw_sql(&create))
        .await
        .map_err(fail("creating the schema"))?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&mut *tx)
    .await
    .map_err(fail("listing the schema's tables"))?;
    if tables.is_empty() {
        (&mut *tx)
            .execute(sqlx::raw_sql(SCHEMA))
            .await
            .map_err(fail("creating tables"))?;
        (&mut *tx)
            .execute(sqlx::raw_sql(INDEXES))
            .await
            .map_err(fail("creating indexes"))?;
        sqlx::query(
            "INSERT INTO store_meta (key, value) VALUES ('format', $1), ('schema_version', $2)",
        )
        .bind(FORMAT)
        .bind(SCHEMA_VERSION.to_string())
        .execute(&mut *tx)
        .await
        .map_err(fail("creating tables"))?;
        tx.commit().await.map_err(fail("committing"))?;
        return Ok(());
    }
    if !tables.iter().any(|t| t == "store_meta") {
        let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
        return Err(not_a_store(format!(
            "it holds other tables ({}) and no `store_meta`",
            shown.join(", ")
        )));
    }
    let meta: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT key, value FROM store_meta")
            .fetch_all(&mut *tx)
            .await
            .map_err(fail("reading store_meta"))?
            .into_iter()
            .collect();
    match meta.get("format") {
        Some(f) if f == FORMAT => {}
        other => {
            return Err(not_a_store(format!(
                "its format is {other:?}, expected {FORMAT:?}"
            )));
        }
    }
    let version = meta
        .get("schema_version")
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| not_a_store("it has no readable schema version".into()))?;
    if version > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorCode::Storage,
            format!(
                "postgres {target}: schema `{schema}`: store schema version {version} is newer than this build's ({SCHEMA_VERSION}); upgrade cadre"
            ),
        )
        .with_retryable(false));
    }
    if version < SCHEMA_VERSION {
        if version != 1 {
            return Err(not_a_store(format!(
                "it has an unknown schema version {version}"
            )));
        }
        // Under the lock, in this transaction: all of the upgrade happens, or none.
        let upgrade = "upgrading the store from schema version 1 to 2";
        (&mut *tx)
            .execute(sqlx::raw_sql(UPGRADE_TO_2))
            .await
            .map_err(fail(upgrade))?;
        (&mut *tx)
            .execute(sqlx::raw_sql(INDEXES))
            .await
            .map_err(fail(upgrade))?;
        sqlx::query("UPDATE store_meta SET value = $1 WHERE key = 'schema_version'")
            .bind(SCHEMA_VERSION.to_string())
            .execute(&mut *tx)
            .await
            .map_err(fail(upgrade))?;
        tracing::info!(
            target_db = target,
            schema,
            "event store upgraded from schema version 1 to 2"
        );
    }
    tx.commit().await.map_err(fail("committing"))?;
    Ok(())
}

fn decode_row(
    row: &PgRow,
    names: &mut HashMap<String, StreamId>,
) -> Result<Result<RecordedEvent, Error>, sqlx::Error> {
    let position: i64 = row.try_get(0)?;
    let name: String = row.try_get(1)?;
    let version: i64 = row.try_get(2)?;
    let id: String = row.try_get(3)?;
    let event_type: String = row.try_get(4)?;
    let payload_type: String = row.try_get(5)?;
    let payload_version: i64 = row.try_get(6)?;
    let payload: String = row.try_get(7)?;
    let metadata: String = row.try_get(8)?;
    let recorded_ms: i64 = row.try_get(9)?;
    Ok((|| {
        let stream = match names.get(&name) {
            Some(s) => s.clone(),
            None => {
                let s = StreamId::new(&name)
                    .map_err(|e| e.context(format!("stored event at position {position}")))?;
                names.insert(name, s.clone());
                s
            }
        };
        let id = uuid::Uuid::parse_str(&id)
            .map(EventId::from_uuid)
            .map_err(|e| {
                Error::new(
                    ErrorCode::Decode,
                    format!("stored event at position {position}: bad id: {e}"),
                )
            })?;
        let at = |e: Error| e.context(format!("stored event {id} at position {position}"));
        let payload_version = u32::try_from(payload_version).map_err(|_| {
            at(Error::new(
                ErrorCode::Decode,
                format!("bad payload version {payload_version}"),
            ))
        })?;
        let payload =
            Payload::from_json_text(payload_type, payload_version, payload).map_err(at)?;
        let metadata: EventMetadata = serde_json::from_str(&metadata)
            .map_err(|e| at(Error::new(ErrorCode::Decode, format!("bad metadata: {e}"))))?;
        Ok(RecordedEvent {
            stream,
            version: u(version),
            global_position: u(position),
            id,
            event_type,
            payload,
            metadata,
            recorded_at: chrono::DateTime::from_timestamp_millis(recorded_ms).unwrap_or_default(),
        })
    })())
}

#[async_trait]
impl EventStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        let events = prepare(events)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let what = format!("stream `{stream}`: appending");
        let fail = |e| convert(&self.target, &what, e);
        let mut tx = self.pool.begin().await.map_err(fail)?;
        // Appends to this store run one at a time from here to the commit: global positions
        // become visible in the order they are handed out (see the module docs).
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(LOCK_NAMESPACE)
            .bind(self.lock_key)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT id, version FROM streams WHERE name = $1")
                .bind(stream.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?;
        let sid = row.map(|r| r.0);
        let current = row.map_or(0, |r| u(r.1));
        let actual = (current > 0).then_some(current);
        if !expected.matches(actual) {
            tx.rollback().await.map_err(fail)?;
            // A retry of an append that did happen is not a conflict. Stored events never
            // change, so looking them up after the rollback is safe.
            return match self.already_stored(stream, sid, current, &events).await? {
                Some(done) => Ok(done),
                None => Err(expected.conflict(stream, actual)),
            };
        }
        let n = events.len();
        let mut versions = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut payload_types = Vec::with_capacity(n);
        let mut payload_versions = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadata = Vec::with_capacity(n);
        let mut conversations = Vec::with_capacity(n);
        let mut agents = Vec::with_capacity(n);
        let mut publish = Vec::with_capacity(n);
        for (k, e) in events.iter().enumerate() {
            versions.push(i(current + k as u64 + 1));
            ids.push(e.id.to_string());
            types.push(e.event_type.as_str());
            payload_types.push(e.payload.type_name());
            payload_versions.push(i64::from(e.payload.version()));
            payloads.push(e.payload.data()?.get());
            metadata.push(e.metadata.as_str());
            conversations.push(e.conversation_id.as_deref());
            agents.push(e.agent.as_deref());
            publish.push(e.publish);
        }
        let new_version = current + n as u64;
        let inserted = sqlx::query(INSERT)
            .bind(stream.as_str())
            .bind(i(new_version))
            .bind(now_ms)
            .bind(&versions)
            .bind(&ids)
            .bind(&types)
            .bind(&payload_types)
            .bind(&payload_versions)
            .bind(&payloads)
            .bind(&metadata)
            .bind(&conversations)
            .bind(&agents)
            .bind(&publish)
            .fetch_all(&mut *tx)
            .await;
        let rows = match inserted {
            Ok(rows) => rows,
            Err(e) if is_unique_violation(&e) => {
                // An id of the batch is stored already: answer as a re-append.
                let conflict = fail(e);
                tx.rollback().await.map_err(fail)?;
                return self
                    .already_stored(stream, sid, current, &events)
                    .await?
                    .ok_or(conflict);
            }
            Err(e) => return Err(fail(e)),
        };
        tx.commit().await.map_err(fail)?;
        let mut position_of: HashMap<i64, i64> = HashMap::with_capacity(n);
        for row in &rows {
            let position: i64 = row.try_get(0).map_err(fail)?;
            let version: i64 = row.try_get(1).map_err(fail)?;
            position_of.insert(version, position);
        }
        let positions = events
            .iter()
            .zip(&versions)
            .map(|(e, v)| {
                let position = position_of.get(v).copied().ok_or_else(|| {
                    Error::internal(format!(
                        "stream `{stream}`: the insert returned no position for version {v}"
                    ))
                })?;
                Ok(EventPosition {
                    id: e.id,
                    version: u(*v),
                    global_position: u(position),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(AppendResult {
            positions,
            stream_version: new_version,
            already_stored: false,
        })
    }

    async fn read(
        &self,
        stream: &StreamId,
        from: u64,
        max: usize,
        direction: Direction,
    ) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let sql = match direction {
            Direction::Forward => format!(
                "SELECT {COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id
                 WHERE s.name = $1 AND e.version >= $2 ORDER BY e.version ASC LIMIT $3"
            ),
            Direction::Backward => format!(
                "SELECT {COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id
                 WHERE s.name = $1 AND e.version <= $2 ORDER BY e.version DESC LIMIT $3"
            ),
        };
        let query = sqlx::query(&sql)
            .bind(stream.as_str())
            .bind(i(from))
            .bind(limit(max));
        self.read_events("reading events", query).await
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id
             WHERE e.position >= $1 ORDER BY e.position ASC LIMIT $2"
        );
        let query = sqlx::query(&sql).bind(i(from)).bind(limit(max));
        self.read_events("reading events", query).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, Error> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM streams WHERE name = $1")
            .bind(stream.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading a stream's version"))?;
        Ok(v.map(u).filter(|v| *v > 0))
    }

    async fn save_snapshot(
        &self,
        stream: &StreamId,
        version: u64,
        state: Payload,
    ) -> Result<(), Error> {
        let json = state.data()?.get();
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT id, version FROM streams WHERE name = $1")
                .bind(stream.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(self.err("saving a snapshot"))?;
        // A version that exists now exists at the insert too, unless the stream is deleted
        // in between: then the foreign key refuses the insert.
        let current = row.map_or(0, |r| u(r.1));
        let sid = match row {
            Some((sid, _)) if version >= 1 && version <= current => sid,
            _ => {
                return Err(Error::invalid_input(format!(
                    "stream `{stream}`: cannot snapshot version {version}, the stream is at version {current}"
                )));
            }
        };
        sqlx::query(
            "INSERT INTO snapshots AS n (stream_id, version, payload_type, payload_version, payload, saved_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (stream_id) DO UPDATE SET
                version = EXCLUDED.version, payload_type = EXCLUDED.payload_type,
                payload_version = EXCLUDED.payload_version, payload = EXCLUDED.payload,
                saved_ms = EXCLUDED.saved_ms
             WHERE EXCLUDED.version >= n.version",
        )
        .bind(sid)
        .bind(i(version))
        .bind(state.type_name())
        .bind(i64::from(state.version()))
        .bind(json)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(self.err("saving a snapshot"))?;
        Ok(())
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<(u64, Payload)>, Error> {
        let row: Option<(i64, String, i64, String)> = sqlx::query_as(
            "SELECT n.version, n.payload_type, n.payload_version, n.payload
             FROM snapshots n JOIN streams s ON s.id = n.stream_id WHERE s.name = $1",
        )
        .bind(stream.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading a snapshot"))?;
        row.map(|(version, ty, ver, json)| {
            let at = |e: Error| e.context(format!("snapshot of stream `{stream}`"));
            let ver = u32::try_from(ver).map_err(|_| {
                at(Error::new(
                    ErrorCode::Decode,
                    format!("bad payload version {ver}"),
                ))
            })?;
            let payload = Payload::from_json_text(ty, ver, json).map_err(at)?;
            Ok((u(version), payload))
        })
        .transpose()
    }

    async fn outbox_pending(&self, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox o JOIN events e ON e.position = o.position
             JOIN streams s ON s.id = e.stream_id ORDER BY o.position ASC LIMIT $1"
        );
        let query = sqlx::query(&sql).bind(limit(max));
        self.read_events("reading the outbox", query).await
    }

    async fn outbox_mark_sent(&self, positions: &[u64]) -> Result<(), Error> {
        if positions.is_empty() {
            return Ok(());
        }
        let positions: Vec<i64> = positions.iter().map(|p| i(*p)).collect();
        sqlx::query("DELETE FROM outbox WHERE position = ANY($1::int8[])")
            .bind(&positions)
            .execute(&self.pool)
            .await
            .map_err(self.err("marking outbox entries sent"))?;
        Ok(())
    }

    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        max: usize,
    ) -> Result<Vec<StreamSummary>, Error> {
        validate_prefix(prefix)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        // Names in byte order, through the `COLLATE "C"` index; first and last event through
        // the (stream, version) index.
        let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            r#"SELECT s.name, s.version,
                (SELECT recorded_ms FROM events WHERE stream_id = s.id ORDER BY version ASC LIMIT 1),
                (SELECT recorded_ms FROM events WHERE stream_id = s.id ORDER BY version DESC LIMIT 1)
             FROM streams s
             WHERE s.name COLLATE "C" > $1 AND s.name COLLATE "C" >= $2 AND s.name COLLATE "C" < $3
                AND EXISTS (SELECT 1 FROM events WHERE stream_id = s.id)
             ORDER BY s.name COLLATE "C" LIMIT $4"#,
        )
        .bind(after.map_or("", StreamId::as_str))
        .bind(prefix)
        .bind(prefix_upper_bound(prefix))
        .bind(limit(max))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing streams"))?;
        rows.into_iter()
            .map(|(name, version, first, last)| {
                let stream = StreamId::new(&name)
                    .map_err(|e| e.context("a stored stream name".to_owned()))?;
                Ok(StreamSummary {
                    stream,
                    version: u(version),
                    first_recorded_at: time(first.unwrap_or_default()),
                    last_recorded_at: time(last.unwrap_or_default()),
                })
            })
            .collect()
    }

    async fn delete_stream(&self, stream: &StreamId) -> Result<u64, Error> {
        let what = format!("stream `{stream}`: deleting");
        let fail = |e| convert(&self.target, &what, e);
        let mut tx = self.pool.begin().await.map_err(fail)?;
        // The appends' lock: no append to this store runs until the delete commits.
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(LOCK_NAMESPACE)
            .bind(self.lock_key)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        let sid: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE name = $1")
            .bind(stream.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
        let Some(sid) = sid else {
            tx.rollback().await.map_err(fail)?;
            return Ok(0);
        };
        let by_stream = |sql: &'static str| sqlx::query(sql).bind(sid);
        by_stream(
            "DELETE FROM outbox WHERE position IN (SELECT position FROM events WHERE stream_id = $1)",
        )
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        by_stream("DELETE FROM snapshots WHERE stream_id = $1")
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        let deleted = by_stream("DELETE FROM events WHERE stream_id = $1")
            .execute(&mut *tx)
            .await
            .map_err(fail)?
            .rows_affected();
        // A later append to the name starts a new stream row, at version 1.
        by_stream("DELETE FROM streams WHERE id = $1")
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(deleted)
    }

    async fn query(
        &self,
        query: &EventQuery,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        query.validate()?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let (sql, args) = crate::query::query_sql(Dialect::Postgres, COLUMNS, query, from, max);
        let mut q = sqlx::query(&sql);
        for arg in args {
            q = match arg {
                Arg::Int(v) => q.bind(v),
                Arg::Text(t) => q.bind(t),
            };
        }
        self.read_events("querying events", q).await
    }
}

fn time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        for ok in ["cadre_store", "cadre_test_0190abc", "_x", "a"] {
            assert!(validate_schema(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1x", "Cadre", "a-b", "a\"b", &"x".repeat(64)] {
            let err = validate_schema(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad}");
        }
        assert_ne!(lock_key("a"), lock_key("b"));
    }

    #[test]
    fn targets_name_the_server_not_the_password() {
        let options =
            PgConnectOptions::from_str("postgres://cadre:s3cret@db.example:6543/events").unwrap();
        let shown = describe(&options);
        assert_eq!(shown, "cadre@db.example:6543/events");
        let err = convert(&shown, "connecting", sqlx::Error::PoolTimedOut);
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert!(err.to_string().contains("db.example:6543"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
