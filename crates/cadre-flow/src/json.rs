//! Graphs of agent tasks over a JSON state, loaded from TOML.
