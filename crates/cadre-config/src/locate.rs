//! Finds the line of a dotted key in a TOML file, so errors can say `file:line`.

use toml::de::{DeTable, DeValue};

/// The 1-based line where `key` (dotted) is written in `text`, if it is there.
pub(crate) fn line_of(text: &str, key: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut segments = key.split('.').peekable();
    while let Some(segment) = segments.next() {
        let (k, v) = table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == segment)?;
        if segments.peek().is_none() {
            return Some(line_at(text, k.span().start));
        }
        match v.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return Some(line_at(text, k.span().start)),
        }
    }
    None
}

fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_tables_dotted_keys_and_inline_tables() {
        let text = "[node]\nname = \"x\"\n\n[log]\nlevel = 3\n\n[profile.prod.log]\nlevle = \"warn\"\nbus = { a = 1 }\n";
        assert_eq!(line_of(text, "node.name"), Some(2));
        assert_eq!(line_of(text, "log.level"), Some(5));
        assert_eq!(line_of(text, "profile.prod.log.levle"), Some(8));
        assert_eq!(line_of(text, "profile.prod.log.bus.a"), Some(9));
        assert_eq!(line_of(text, "log.missing"), None);
        assert_eq!(line_of("not [ toml", "a"), None);
    }
}
