//! The tracing subscriber.

use std::io::IsTerminal;

use cadre_core::config::{LogConfig, LogFormat};
use cadre_core::{ConversationId, Error, ErrorCode, TraceId};
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Where a subscriber writes and whether that is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error, colours when it is a terminal.
    Stderr,
    /// A writer that is not a terminal (files, tests).
    Plain,
}

fn filter(directives: &str) -> Result<EnvFilter, Error> {
    EnvFilter::builder()
        .parse(directives)
        .map_err(|e| Error::new(ErrorCode::Config, format!("log filter `{directives}`: {e}")))
}

/// Builds the subscriber for `config` writing to `writer`, without installing it. The level is
/// `config.level` (this function does not read `RUST_LOG`; [`init`] does).
///
/// # Errors
/// [`ErrorCode::Config`] when the level filter does not parse.
pub fn subscriber<W>(
    config: &LogConfig,
    writer: W,
    target: LogTarget,
) -> Result<tracing::Dispatch, Error>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = filter(&config.level)?;
    let terminal = target == LogTarget::Stderr && std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let dispatch = match config.format {
        LogFormat::Json => tracing::Dispatch::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .flatten_event(true)
                .finish(),
        ),
        LogFormat::Auto | LogFormat::Pretty => {
            tracing::Dispatch::new(builder.with_ansi(terminal).finish())
        }
    };
    Ok(dispatch)
}

/// Installs the global subscriber writing to stderr; `RUST_LOG`, when set, replaces the level.
///
/// # Errors
/// [`ErrorCode::Config`] when the filter does not parse; [`ErrorCode::Internal`] when a global
/// subscriber is already installed.
pub fn init(config: &LogConfig) -> Result<(), Error> {
    let mut config = config.clone();
    if let Ok(rust_log) = std::env::var("RUST_LOG")
        && !rust_log.trim().is_empty()
    {
        config.level = rust_log;
    }
    let dispatch = subscriber(&config, std::io::stderr, LogTarget::Stderr)?;
    tracing::dispatcher::set_global_default(dispatch)
        .map_err(|e| Error::internal(format!("installing the log subscriber: {e}")))
}

/// The span to run work on one message or task in: every line logged inside it carries the
/// trace and conversation (correlation) ids.
pub fn message_span(
    component: &str,
    trace_id: Option<TraceId>,
    conversation_id: ConversationId,
) -> Span {
    match trace_id {
        Some(trace) => tracing::info_span!(
            "message",
            component,
            trace_id = %trace,
            conversation_id = %conversation_id
        ),
        None => tracing::info_span!(
            "message",
            component,
            conversation_id = %conversation_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn lines(buf: &Buffer) -> Vec<String> {
        String::from_utf8(buf.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn json_lines_carry_trace_and_correlation_ids() {
        let buf = Buffer::default();
        let config = LogConfig {
            level: "info".into(),
            format: LogFormat::Json,
        };
        let dispatch = subscriber(&config, buf.clone(), LogTarget::Plain).unwrap();
        let trace = TraceId::new();
        let conversation = ConversationId::new();
        tracing::dispatcher::with_default(&dispatch, || {
            let span = message_span("risk", Some(trace), conversation);
            let _g = span.enter();
            tracing::info!(symbol = "ACME", "limit checked");
            tracing::debug!("filtered out at info");
        });
        let lines = lines(&buf);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["message"], "limit checked");
        assert_eq!(v["symbol"], "ACME");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["span"]["trace_id"], trace.to_string());
        assert_eq!(v["span"]["conversation_id"], conversation.to_string());
        assert_eq!(v["span"]["component"], "risk");
    }

    #[test]
    fn human_format_has_no_colour_off_a_terminal() {
        let buf = Buffer::default();
        let config = LogConfig {
            level: "debug".into(),
            format: LogFormat::Auto,
        };
        let dispatch = subscriber(&config, buf.clone(), LogTarget::Plain).unwrap();
        tracing::dispatcher::with_default(&dispatch, || tracing::debug!("hello"));
        let lines = lines(&buf);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("DEBUG") && lines[0].contains("hello"));
        assert!(
            !lines[0].contains('\u{1b}'),
            "ANSI escape in {:?}",
            lines[0]
        );
    }
}
