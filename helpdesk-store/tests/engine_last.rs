//! `KvEngine::last` agrees between sled (which avoids sled's reverse
//! iteration) and memory, for random key sets and prefixes.

use helpdesk_store::{KvEngine, MemEngine, SledEngine, SledOptions};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn last_key_with_a_prefix(
        keys in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(7), Just(255)], 0..5), 0..40),
        prefix in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(255)], 0..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let sled = SledEngine::open(dir.path().join("db"), &SledOptions::default()).unwrap();
        let mem = MemEngine::default();
        let ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = keys.iter().map(|k| (k.clone(), Some(vec![1]))).collect();
        sled.write_batch(&ops).unwrap();
        mem.write_batch(&ops).unwrap();
        prop_assert_eq!(sled.last(&prefix).unwrap(), mem.last(&prefix).unwrap());
    }
}
