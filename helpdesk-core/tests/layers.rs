//! The areas of helpdesk-core are layered (DESIGN.md): base < people <
//! tickets < rules < filters < notify, mail < the apps < store. A module may
//! use its own area and lower ones; this test reads every source file and
//! fails on a use of a higher area that is not in `KNOWN` below, so the
//! apps that follow cannot tangle the core further. `KNOWN` lists the uses
//! that were there when the areas became folders; remove a line when its
//! use goes (the test also fails on a line that no longer matches anything).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Areas and their rank: a module may use areas of equal or lower rank.
const AREAS: &[(&str, u8)] = &[
    ("base", 0),
    ("people", 1),
    ("tickets", 2),
    ("rules", 3),
    ("filters", 4),
    ("notify", 5),
    ("mail", 5),
    ("apps", 6),
    ("admin", 6),
    ("store", 7),
];

/// Upward uses that predate the folders: (file, module it uses), with why.
const KNOWN: &[(&str, &str, &str)] = &[
    ("base/error.rs", "ticket", "errors name a ticket's Status"),
    ("tickets/ticket.rs", "escalation", "a ticket carries its EscalationState"),
    ("tickets/ticket.rs", "sla", "a ticket carries its SlaStatus"),
    ("tickets/event.rs", "escalation", "escalation events carry the state"),
    ("tickets/event.rs", "sla", "SLA events carry the status"),
    ("people/credential.rs", "store", "credentials name their UniqueKey"),
];

fn area_rank(area: &str) -> Option<u8> {
    AREAS.iter().find(|(a, _)| *a == area).map(|(_, r)| *r)
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The area a root path names: `crate::tickets`, or an old module path kept
/// as a re-export (`crate::event` is tickets), or a type re-exported at the
/// root (`crate::Ticket`), read from lib.rs's `pub use` lines.
fn root_names(lib: &str, modules: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for stmt in lib.split(';') {
        let stmt = stmt.trim();
        let Some(rest) = stmt.strip_prefix("pub use ") else { continue };
        let (head, tail) = match rest.split_once("::") {
            Some(x) => x,
            None => continue,
        };
        let area = if area_rank(head).is_some() {
            head.to_string()
        } else if let Some(a) = modules.get(head) {
            a.clone()
        } else {
            continue;
        };
        let list = tail.trim_start_matches('{').trim_end_matches('}');
        for name in list.split(',') {
            let name = name.trim().rsplit("::").next().unwrap().trim();
            if !name.is_empty() && name != "*" {
                names.insert(name.to_string(), area.clone());
            }
        }
    }
    names
}

#[test]
fn lower_areas_never_use_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);

    // Module name -> area, from the folder layout.
    let mut modules: BTreeMap<String, String> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let mut parts = rel.iter().map(|p| p.to_string_lossy().to_string());
        let first = parts.next().unwrap();
        if let Some(second) = parts.next() {
            let module = second.trim_end_matches(".rs").to_string();
            if module != "mod" {
                modules.insert(module, first.clone());
            }
            modules.insert(first.clone(), first);
        }
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let lib_code: String =
        lib.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let names = root_names(&lib_code, &modules);
    // Glob re-exports (`pub use ids::*`, `pub use people::*`) make every
    // public item of those modules a root name; they are base and people,
    // the bottom of the stack, so a use through them is never upward.

    let mut found = BTreeSet::new();
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let Some((area, _)) = rel.split_once('/') else { continue }; // lib.rs, testing.rs
        let rank =
            area_rank(area).unwrap_or_else(|| panic!("{rel}: folder {area} is not an area of DESIGN.md"));
        let text = std::fs::read_to_string(f).unwrap();
        // Unit tests may use anything (test fixtures live in `testing`).
        let code = text.split("#[cfg(test)]").next().unwrap();
        let code: String =
            code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let mut targets = Vec::new();
            if let Some(inner) = rest.strip_prefix('{') {
                let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                for part in inner.split(',') {
                    let head = part.trim().split("::").next().unwrap_or("").trim();
                    targets.push(head.to_string());
                }
            } else {
                let head: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                targets.push(head);
            }
            for target in targets {
                if target.is_empty() || target == "testing" {
                    continue;
                }
                let target_area = if area_rank(&target).is_some() {
                    target.clone()
                } else if let Some(a) = modules.get(&target) {
                    a.clone()
                } else if let Some(a) = names.get(&target) {
                    a.clone()
                } else {
                    continue; // glob re-exports of base and people
                };
                let target_rank = area_rank(&target_area).unwrap();
                if target_rank <= rank {
                    continue;
                }
                if KNOWN.iter().any(|(file, module, _)| *file == rel && *module == target) {
                    found.insert((rel.clone(), target.clone()));
                    continue;
                }
                bad.push(format!("{rel} ({area}) uses crate::{target} ({target_area})"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "upward uses across areas:\n{}", bad.join("\n"));
    let stale: Vec<_> = KNOWN
        .iter()
        .filter(|(file, module, _)| !found.contains(&(file.to_string(), module.to_string())))
        .collect();
    assert!(stale.is_empty(), "KNOWN lists uses that are gone (remove them): {stale:?}");
}
