//! Graphs of agent tasks over a JSON state, loaded from TOML (`cadre flow run FILE`).
//!
//! ```toml
//! [workflow]
//! name = "review"            # the graph's name
//! entry = "check"            # or ["a", "b"]: parallel start
//!
//! [state]                    # how parallel updates of a key merge (default: replace)
//! notes = "append"           # replace | append | extend | merge | add
//!
//! [[nodes]]
//! name = "check"
//! task = "docs.check"        # the capability an agent offers
//! input = "docs"             # the state key holding the task input (default: the whole state)
//! output = "report"          # the state key receiving the output (default: the node's name)
//! timeout = "30s"
//! retries = 2                # attempts after the first (retryable errors and timeouts)
//! backoff = "200ms"
//! when = { key = "report.ok", cases = { "true" = "publish" }, default = "approve" }
//!
//! [[nodes]]
//! name = "approve"
//! gate = { timeout = "1h", on_timeout = "reject", on_reject = "END" }
//! next = "publish"
//!
//! [[nodes]]
//! name = "publish"
//! task = "docs.publish"
//! next = "END"
//!
//! [[joins]]                  # fan-in: `to` runs once every `from` has run
//! from = ["a", "b"]
//! to = "c"
//! ```
//!
//! Every mistake is reported with the file and line.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cadre_core::{Error, ErrorCode, Payload};
use serde::{Deserialize, Serialize};

use crate::graph::{END, Gate, Graph, GraphBuilder, OnTimeout, Retry, State};

/// A JSON object as a workflow state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonState(pub serde_json::Map<String, serde_json::Value>);

/// How an update of a key merges into the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reducer {
    /// The new value replaces the old.
    #[default]
    Replace,
    /// The value is pushed onto a list.
    Append,
    /// A list value is concatenated onto a list.
    Extend,
    /// An object's keys are merged into an object (shallow).
    Merge,
    /// Numbers are added.
    Add,
}

/// One node's update: a value for a key, with the key's reducer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonUpdate {
    /// The key.
    pub key: String,
    /// The value.
    pub value: serde_json::Value,
    /// How it merges.
    #[serde(default)]
    pub reducer: Reducer,
}

impl State for JsonState {
    type Update = Vec<JsonUpdate>;
    fn apply(&mut self, updates: Vec<JsonUpdate>) {
        use serde_json::Value;
        for u in updates {
            let slot = self.0.entry(u.key).or_insert(Value::Null);
            match (u.reducer, &mut *slot, u.value) {
                (Reducer::Append, Value::Array(list), v) => list.push(v),
                (Reducer::Append, s @ Value::Null, v) => *s = Value::Array(vec![v]),
                (Reducer::Extend, Value::Array(list), Value::Array(more)) => list.extend(more),
                (Reducer::Merge, Value::Object(map), Value::Object(more)) => map.extend(more),
                (Reducer::Add, Value::Number(a), Value::Number(b)) => {
                    *slot = match (a.as_i64(), b.as_i64()) {
                        (Some(x), Some(y)) if x.checked_add(y).is_some() => Value::from(x + y),
                        _ => serde_json::Number::from_f64(
                            a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0),
                        )
                        .map_or(Value::Null, Value::Number),
                    };
                }
                // Anything else (first value, mismatched kinds) replaces.
                (_, s, v) => *s = v,
            }
        }
    }
}

impl JsonState {
    /// The value at a dotted path (`report.broken`), if any.
    pub fn get(&self, path: &str) -> Option<&serde_json::Value> {
        let mut parts = path.split('.');
        let mut here = self.0.get(parts.next()?)?;
        for p in parts {
            here = match here {
                serde_json::Value::Object(m) => m.get(p)?,
                serde_json::Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(here)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    workflow: WorkflowSection,
    #[serde(default)]
    state: BTreeMap<String, Reducer>,
    #[serde(default)]
    nodes: Vec<toml::Spanned<NodeSection>>,
    #[serde(default)]
    joins: Vec<toml::Spanned<JoinSection>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowSection {
    name: String,
    #[serde(default)]
    description: Option<String>,
    entry: OneOrMany,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSection {
    name: String,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    gate: Option<GateSection>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    backoff: Option<Duration>,
    #[serde(default)]
    next: Option<OneOrMany>,
    #[serde(default)]
    when: Option<WhenSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateSection {
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default)]
    on_timeout: OnTimeout,
    #[serde(default)]
    on_reject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhenSection {
    key: String,
    #[serde(default)]
    cases: BTreeMap<String, String>,
    default: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinSection {
    from: Vec<String>,
    to: String,
}

/// The payload type (name, major version) a capability takes, or `None` to send the input as
/// `<capability>.input` v1.
pub type InputTypes<'a> = &'a dyn Fn(&str) -> Option<(String, u32)>;

/// Loads a TOML workflow definition.
///
/// # Errors
/// `InvalidInput` naming the file (and line) for unreadable files, TOML errors, unknown
/// keys, a node with neither `task` nor `gate` (or both), and every graph mistake
/// [`GraphBuilder::build`] finds.
pub fn load(path: &Path, input_types: InputTypes<'_>) -> Result<Graph<JsonState>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(ErrorCode::InvalidInput, format!("{}: {e}", path.display()))
            .with_retryable(false)
    })?;
    parse(&text, &path.display().to_string(), input_types)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses a TOML workflow definition; `shown` names it in errors.
///
/// # Errors
/// As [`load`].
pub fn parse(
    text: &str,
    shown: &str,
    input_types: InputTypes<'_>,
) -> Result<Graph<JsonState>, Error> {
    let bad = |message: String| Error::new(ErrorCode::InvalidInput, message).with_retryable(false);
    let file: File = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(":{}", line_of(text, s.start)))
            .unwrap_or_default();
        bad(format!("{shown}{at}: {}", e.message()))
    })?;
    let reducers = Arc::new(file.state);
    let mut g: GraphBuilder<JsonState> = Graph::builder(file.workflow.name.clone());
    let _ = &file.workflow.description;
    let mut problems = Vec::new();
    for n in &file.nodes {
        let line = line_of(text, n.span().start);
        let node = n.get_ref();
        let at = format!("{shown}:{line}: node `{}`", node.name);
        let key = node.output.clone().unwrap_or_else(|| node.name.clone());
        let reducer = reducers.get(&key).copied().unwrap_or_default();
        let mut options = match (&node.task, &node.gate) {
            (Some(capability), None) => {
                let (type_name, version) =
                    input_types(capability).unwrap_or_else(|| (format!("{capability}.input"), 1));
                let input_key = node.input.clone();
                let name = node.name.clone();
                g.task(
                    &node.name,
                    capability,
                    move |s: &JsonState| {
                        let value = match &input_key {
                            None => serde_json::Value::Object(s.0.clone()),
                            Some(k) => s.get(k).cloned().ok_or_else(|| {
                                Error::invalid_input(format!(
                                    "node `{name}`: the state has no `{k}` for the task's input"
                                ))
                                .with_retryable(false)
                            })?,
                        };
                        Payload::from_json_text(type_name.clone(), version, value.to_string())
                    },
                    move |outcome| {
                        let value: serde_json::Value = serde_json::from_str(outcome.output.json())
                            .map_err(|e| Error::new(ErrorCode::Decode, e.to_string()))?;
                        Ok(vec![JsonUpdate {
                            key: key.clone(),
                            value,
                            reducer,
                        }])
                    },
                )
            }
            (None, Some(gate)) => g.gate(
                &node.name,
                Gate {
                    timeout: gate.timeout,
                    on_timeout: gate.on_timeout,
                    on_reject: gate.on_reject.clone().filter(|r| r != END),
                },
            ),
            (Some(_), Some(_)) => {
                problems.push(format!("{at}: has both `task` and `gate`; give it one"));
                continue;
            }
            (None, None) => {
                problems.push(format!(
                    "{at}: needs `task = \"capability\"` or `gate = {{ ... }}`"
                ));
                continue;
            }
        };
        if let Some(t) = node.timeout {
            options.timeout(t);
        }
        if node.retries.is_some() || node.backoff.is_some() {
            let mut retry = Retry::attempts(node.retries.unwrap_or(0) + 1);
            if let Some(b) = node.backoff {
                retry.backoff = b;
            }
            options.retry(retry);
        }
        match (&node.next, &node.when) {
            (Some(_), Some(_)) => {
                problems.push(format!("{at}: has both `next` and `when`; give it one"))
            }
            (Some(next), None) => {
                for t in next.list() {
                    if let Err(e) = g.edge(&node.name, &t) {
                        problems.push(format!("{at}: {}", e.message()));
                    }
                }
            }
            (None, Some(when)) => {
                let mut targets: Vec<String> = when.cases.values().cloned().collect();
                targets.push(when.default.clone());
                targets.sort();
                targets.dedup();
                let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
                let key = when.key.clone();
                let cases = when.cases.clone();
                let default = when.default.clone();
                g.route(&node.name, &refs, move |s: &JsonState| {
                    let value = match s.get(&key) {
                        Some(serde_json::Value::String(v)) => v.clone(),
                        Some(v) => v.to_string(),
                        None => String::new(),
                    };
                    cases
                        .get(&value)
                        .cloned()
                        .unwrap_or_else(|| default.clone())
                });
            }
            (None, None) => {}
        }
    }
    for j in &file.joins {
        let join = j.get_ref();
        let from: Vec<&str> = join.from.iter().map(String::as_str).collect();
        g.join(&from, &join.to);
    }
    for e in file.workflow.entry.list() {
        g.entry(&e);
    }
    g.definition(text.to_owned());
    if !problems.is_empty() {
        return Err(bad(problems.join("; ")));
    }
    g.build()
        .map_err(|e| bad(format!("{shown}: {}", e.message())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<(String, u32)> {
        None
    }

    #[test]
    fn reducers_merge_updates() {
        let mut s = JsonState::default();
        let up = |key: &str, value: serde_json::Value, reducer| JsonUpdate {
            key: key.into(),
            value,
            reducer,
        };
        s.apply(vec![
            up("notes", "a".into(), Reducer::Append),
            up("notes", "b".into(), Reducer::Append),
            up("n", 2.into(), Reducer::Add),
            up("n", 3.into(), Reducer::Add),
            up("list", serde_json::json!([1]), Reducer::Extend),
            up("list", serde_json::json!([2, 3]), Reducer::Extend),
            up("obj", serde_json::json!({"a": 1}), Reducer::Merge),
            up("obj", serde_json::json!({"b": 2}), Reducer::Merge),
            up("x", 1.into(), Reducer::Replace),
            up("x", 2.into(), Reducer::Replace),
        ]);
        assert_eq!(
            serde_json::Value::Object(s.0.clone()),
            serde_json::json!({"notes": ["a", "b"], "n": 5, "list": [1, 2, 3], "obj": {"a": 1, "b": 2}, "x": 2})
        );
        assert_eq!(s.get("obj.b"), Some(&serde_json::json!(2)));
        assert_eq!(s.get("list.1"), Some(&serde_json::json!(2)));
        assert_eq!(s.get("nope.x"), None);
    }

    #[test]
    fn definitions_load_with_routes_gates_and_joins() {
        let text = r#"
[workflow]
name = "review"
entry = "check"

[state]
notes = "append"

[[nodes]]
name = "check"
task = "docs.check"
when = { key = "check.ok", cases = { "true" = "publish" }, default = "approve" }

[[nodes]]
name = "approve"
gate = { timeout = "1h", on_timeout = "reject", on_reject = "END" }
next = "publish"

[[nodes]]
name = "publish"
task = "docs.publish"
next = "END"
"#;
        let g = parse(text, "review.toml", &none).unwrap();
        assert_eq!(g.name(), "review");
        let kinds: Vec<(String, String)> =
            g.describe().into_iter().map(|n| (n.name, n.kind)).collect();
        assert!(kinds.contains(&("approve".into(), "gate".into())));
        assert!(kinds.contains(&("check".into(), "task".into())));
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let err = parse(
            "[workflow]\nname = \"x\"\nentry = \"a\"\n\n[[nodes]]\nname = \"a\"\nbogus = 1\n",
            "w.toml",
            &none,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("w.toml:"), "{err}");
        assert!(err.contains("bogus"), "{err}");
        let err = parse(
            "[workflow]\nname = \"x\"\nentry = \"a\"\n\n[[nodes]]\nname = \"a\"\nnext = \"END\"\n",
            "w.toml",
            &none,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("w.toml:5: node `a`: needs `task"), "{err}");
        let err = parse("[workflow]\nname = \"x\"\nentry = \"a\"\n\n[[nodes]]\nname = \"a\"\ntask = \"t\"\nnext = \"ghost\"\n", "w.toml", &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown node `ghost`"), "{err}");
    }
}
