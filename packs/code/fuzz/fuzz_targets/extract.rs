//! Fuzzes the import extractor: any bytes through every grammar must return, never panic, and
//! the lexical fast path must give the full parse's result on every input that parses cleanly
//! (differential fuzzing of the scanners against tree-sitter).
#![no_main]

use std::cell::RefCell;

use cadre_pack_code::deps::extract::{Language, Parsers};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static PARSERS: RefCell<Option<Parsers>> = RefCell::new(Parsers::new().ok());
}

fuzz_target!(|data: &[u8]| {
    PARSERS.with(|p| {
        if let Some(parsers) = p.borrow_mut().as_mut() {
            for (path, lang) in [
                ("a.py", Language::Python),
                ("a.js", Language::JavaScript),
                ("a.ts", Language::TypeScript),
                ("a.tsx", Language::TypeScript),
            ] {
                let out = parsers.extract(path, lang, data);
                assert!(out.complexity >= 1);
                let full = parsers.extract_full(path, lang, data);
                if full.first_error_line.is_none() {
                    assert_eq!(out, full, "{path}: {:?}", String::from_utf8_lossy(data));
                }
            }
        }
    });
});
