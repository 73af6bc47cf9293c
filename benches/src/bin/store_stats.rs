//! Where the bytes of a helpdesk-rs sled store go:
//! `cargo run --release -p helpdesk-benches --bin store_stats -- PATH`
//!
//! Walks every key of the store (read-only use; the store must not be open
//! elsewhere) and prints, per key group, the number of keys and the bytes of
//! keys and values, against sled's size on disk.

use helpdesk_store::{KvEngine, SledEngine, SledOptions};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// A readable name for the group a key belongs to.
fn group(key: &[u8]) -> String {
    let tag = key.first().copied().unwrap_or(0) as char;
    match tag {
        // Index entries: name the index, and for filter streams the layout and family.
        'I' => match key.get(1).copied().map(|b| b as char) {
            Some('F') => format!(
                "I F {}{}",
                key.get(2).map_or('?', |b| *b as char),
                key.get(3).map_or('?', |b| *b as char)
            ),
            Some(c) => format!("I {c}"),
            None => "I".into(),
        },
        'C' => format!("C {}", key.get(1).map_or('?', |b| *b as char)),
        _ => format!("{tag}"),
    }
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: store_stats PATH");
        return ExitCode::from(2);
    };
    let engine = match SledEngine::open(&path, &SledOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot open {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stats: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = match engine.scan(&[], after.as_deref(), 10_000) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("scan failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        let full = page.len() == 10_000;
        for (k, v) in &page {
            let s = stats.entry(group(k)).or_default();
            s.0 += 1;
            s.1 += k.len() as u64;
            s.2 += v.len() as u64;
        }
        after = page.last().map(|(k, _)| k.clone());
        if !full {
            break;
        }
    }
    let (mut n, mut kb, mut vb) = (0, 0, 0);
    println!("| group | keys | key bytes | value bytes | avg key | avg value |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (g, (c, k, v)) in &stats {
        println!("| {g} | {c} | {k} | {v} | {:.1} | {:.1} |", *k as f64 / *c as f64, *v as f64 / *c as f64);
        n += c;
        kb += k;
        vb += v;
    }
    println!("| total | {n} | {kb} | {vb} | | |");
    let disk = engine.size_on_disk().unwrap_or(0);
    println!(
        "\nlogical {:.1} MiB (keys {:.1} + values {:.1}); sled size on disk {:.1} MiB ({:.2}x)",
        (kb + vb) as f64 / 1048576.0,
        kb as f64 / 1048576.0,
        vb as f64 / 1048576.0,
        disk as f64 / 1048576.0,
        disk as f64 / (kb + vb).max(1) as f64
    );
    ExitCode::SUCCESS
}
