//! README's Layout table against the code: the engine's rooms (the modules
//! `lib.rs` names), bottom up, each importing only rooms listed before it,
//! and its imports column exactly the rooms its code names (`crate::room`),
//! tests left out. A new room, a new import or an import upwards fails here
//! until README says it, so the table stays the truth about the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const HEADER: &str = "| # | room | owns | imports |";

/// The rooms `lib.rs` declares.
fn rooms(src: &Path) -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// Every `.rs` file of a room (its `room.rs` or `room/`), test files left out.
fn files(src: &Path, room: &str) -> Vec<std::path::PathBuf> {
    let single = src.join(format!("{room}.rs"));
    if single.is_file() {
        return vec![single];
    }
    let mut out = Vec::new();
    let mut stack = vec![src.join(room)];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs")
                && p.file_name().is_some_and(|n| n != "tests.rs")
            {
                out.push(p);
            }
        }
    }
    out
}

/// The other rooms `room`'s code names as `crate::<room>` (a file's
/// `#[cfg(test)]` part and after it left out).
fn imports(src: &Path, room: &str, rooms: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in files(src, room) {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if name != room && rooms.contains(&name) {
                out.insert(name);
            }
        }
    }
    out
}

/// README's table: each room in order, with the rooms it says it imports.
fn table(readme: &str) -> Vec<(String, BTreeSet<String>)> {
    let start = readme
        .find(HEADER)
        .expect("README's Layout has the rooms table");
    readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let room = cells[2]
                .trim_matches('`')
                .trim_end_matches(".rs")
                .trim_end_matches('/')
                .to_string();
            let imports = cells[4]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "—")
                .map(str::to_string)
                .collect();
            (room, imports)
        })
        .collect()
}

#[test]
fn readme_names_every_room_and_its_imports_and_none_imports_upwards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let rooms = rooms(&src);
    let table = table(&readme);
    let listed: BTreeSet<String> = table.iter().map(|(r, _)| r.clone()).collect();
    assert_eq!(listed, rooms, "README's rooms table against lib.rs");
    let position: BTreeMap<&str, usize> = table
        .iter()
        .enumerate()
        .map(|(i, (r, _))| (r.as_str(), i))
        .collect();
    let mut wrong = Vec::new();
    for (i, (room, said)) in table.iter().enumerate() {
        let real = imports(&src, room, &rooms);
        if &real != said {
            wrong.push(format!(
                "{room}: README says it imports {said:?}, its code imports {real:?}"
            ));
        }
        for up in real.iter().filter(|r| position[r.as_str()] >= i) {
            wrong.push(format!(
                "{room} imports {up}, which is not below it (move the code, or the row)"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The parser itself: a made-up table whose second room imports upwards.
#[test]
fn the_table_is_read_row_by_row() {
    let t = table(&format!(
        "text\n\n{HEADER}\n|---|---|---|---|\n| 1 | `text.rs` | t | — |\n\
         | 2 | `plan/` | p | text, run |\n\nafter\n"
    ));
    assert_eq!(t.len(), 2);
    assert_eq!(t[0], ("text".to_string(), BTreeSet::new()));
    assert_eq!(t[1].0, "plan");
    assert_eq!(
        t[1].1,
        BTreeSet::from(["text".to_string(), "run".to_string()])
    );
}
