//! Opening a store from a URL: [`connect`].

use std::sync::Arc;

use cadre_core::Error;

use crate::{EventStore, SqliteStore};

/// Opens the event store at `url`:
///
/// - `sqlite://PATH` opens (creating it if needed) the [`SqliteStore`] at `PATH`, relative to
///   the working directory (`sqlite://data/events.db`) or absolute
///   (`sqlite:///var/lib/cadre/events.db`);
/// - `postgres://…` or `postgresql://…` connects a `PostgresStore` to the schema
///   `cadre_store` (`PostgresStore::connect`; needs the cargo feature `postgres`, on by
///   default).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
/// # let dir = tempfile::tempdir().map_err(|e| cadre_core::Error::internal(e.to_string()))?;
/// let url = format!("sqlite://{}", dir.path().join("events.db").display());
/// let store = cadre_store::connect(&url).await?;
/// assert_eq!(store.backend(), "sqlite");
/// assert!(cadre_store::connect("mysql://db/events").await.is_err());
/// # Ok(()) }
/// ```
///
/// # Errors
/// - `InvalidInput` naming the URL (its password replaced by `***`) for another scheme, a
///   `sqlite://` URL without a path, or a PostgreSQL URL in a build without the `postgres`
///   feature;
/// - whatever [`SqliteStore::open`] or `PostgresStore::connect` returns.
pub async fn connect(url: &str) -> Result<Arc<dyn EventStore>, Error> {
    match parse(url)? {
        Target::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        Target::Postgres => postgres(url).await,
    }
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<Arc<dyn EventStore>, Error> {
    Ok(Arc::new(crate::PostgresStore::connect(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(url: &str) -> Result<Arc<dyn EventStore>, Error> {
    Err(Error::invalid_input(format!(
        "event store URL `{}`: this build of cadre-store has no PostgreSQL backend (cargo feature `postgres`)",
        redact(url)
    )))
}

/// Where a URL points.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Sqlite(&'a str),
    Postgres,
}

fn parse(url: &str) -> Result<Target<'_>, Error> {
    let invalid = |why: &str| {
        Error::invalid_input(format!("invalid event store URL `{}`: {why}", redact(url)))
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        if url
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("sqlite:"))
        {
            return Err(invalid(
                "use sqlite://PATH (a file; in-memory stores are not supported)",
            ));
        }
        return Err(invalid(
            "expected sqlite://PATH, postgres://... or postgresql://...",
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" if rest.is_empty() => {
            Err(invalid("sqlite:// needs a path, e.g. sqlite://events.db"))
        }
        "sqlite" => Ok(Target::Sqlite(rest)),
        "postgres" | "postgresql" => Ok(Target::Postgres),
        _ => Err(invalid(
            "unknown scheme; expected sqlite://PATH, postgres://... or postgresql://...",
        )),
    }
}

/// `url` with its password (in the user info or a `password=` parameter) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "<not a URL>".to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = url[..scheme_end + 3].to_owned();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|p| {
                    if p.to_ascii_lowercase().starts_with("password=") {
                        "password=***".to_owned()
                    } else {
                        p.to_owned()
                    }
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_core::ErrorCode;

    #[test]
    fn passwords_are_redacted() {
        for (url, want) in [
            (
                "postgres://cadre:s3cret@db.example:5432/cadre",
                "postgres://cadre:***@db.example:5432/cadre",
            ),
            (
                "postgres://cadre@127.0.0.1/cadre?password=s3cret&sslmode=disable",
                "postgres://cadre@127.0.0.1/cadre?password=***&sslmode=disable",
            ),
            ("postgres://h/db", "postgres://h/db"),
            ("host=h password=s3cret", "<not a URL>"),
        ] {
            assert_eq!(redact(url), want);
        }
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            parse("sqlite://events.db").unwrap(),
            Target::Sqlite("events.db")
        );
        assert_eq!(
            parse("sqlite:///var/lib/cadre/events.db").unwrap(),
            Target::Sqlite("/var/lib/cadre/events.db")
        );
        assert_eq!(parse("SQLite://./x.db").unwrap(), Target::Sqlite("./x.db"));
        for pg in [
            "postgres://cadre@127.0.0.1/cadre",
            "postgresql://cadre:pw@db:5432/cadre",
        ] {
            assert_eq!(parse(pg).unwrap(), Target::Postgres);
        }
        for (bad, says) in [
            ("sqlite://", "needs a path"),
            ("sqlite::memory:", "in-memory"),
            ("sqlite:events.db", "sqlite://PATH"),
            ("events.db", "expected sqlite://PATH"),
            ("", "expected sqlite://PATH"),
            ("mysql://root:hunter2@db/events", "unknown scheme"),
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad}");
            assert!(err.to_string().contains(says), "{bad}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        let err = parse("mysql://root:hunter2@db/events").unwrap_err();
        assert!(
            err.to_string().contains("mysql://root:***@db/events"),
            "{err}"
        );
    }

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn postgres_urls_need_the_feature() {
        let Err(err) = connect("postgres://cadre:hunter2@127.0.0.1/cadre").await else {
            panic!("a postgres URL connected without the feature");
        };
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.to_string().contains("feature `postgres`"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn sqlite_urls_open_a_sqlite_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/events.db");
        let store = connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        assert_eq!(store.backend(), "sqlite");
        assert!(path.exists());
    }
}
