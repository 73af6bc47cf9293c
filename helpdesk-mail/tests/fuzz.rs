//! Whatever bytes arrive, ingesting them never panics: it gives an outcome
//! or an error with a reason. Arbitrary bytes, header-shaped junk, and the
//! corpus files cut short or with bytes flipped.

mod common;

use proptest::prelude::*;
use std::sync::OnceLock;

fn corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emails");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

fn fixture() -> &'static common::Fixture {
    static F: OnceLock<common::Fixture> = OnceLock::new();
    F.get_or_init(common::fixture)
}

fn check(raw: &[u8]) {
    match fixture().gateway.ingest(raw) {
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().trim().is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&raw);
    }

    #[test]
    fn header_shaped_junk(
        headers in proptest::collection::vec(("[A-Za-z-]{1,20}", "[ -~\t]{0,80}"), 0..12),
        body in "(?s).{0,400}",
    ) {
        let mut raw = String::new();
        for (n, v) in &headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        raw.push_str("From: Fuzz <fuzz@acme.com>\r\nTo: support@helpdesk.test\r\n\r\n");
        raw.push_str(&body);
        check(raw.as_bytes());
    }

    #[test]
    fn damaged_corpus_files(pick in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(),
                            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16)) {
        let files = corpus();
        let mut raw = files[pick.index(files.len())].clone();
        for (at, b) in flips {
            let i = at.index(raw.len());
            raw[i] = b;
        }
        let n = cut.index(raw.len() + 1);
        check(&raw[..n]);
    }
}
