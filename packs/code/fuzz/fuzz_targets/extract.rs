//! Fuzzes the import extractor: any bytes through every grammar must return, never panic.
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
            }
        }
    });
});
