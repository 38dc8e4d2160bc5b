//! No import circles between the modules of a crate: when `a.rs` uses `b.rs` and `b.rs` uses
//! `a.rs` (directly or through others), neither can be read, tested or moved alone. A use
//! counts between the two sibling modules where the paths part (`exec/get.rs` using
//! `script.rs` is `exec` using `script`); a module's own submodules and ancestors do not count:
//! a parent declares and re-exports its children, and children use their parent's items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path inside a crate: `[]` is the crate root, `["exec", "task"]` is `exec/task.rs`.
type ModulePath = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Option<ModulePath> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if !matches!(stem, "mod" | "lib" | "main") || !parts.is_empty() && stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

/// The source with comments and string literals blanked, so only code is scanned.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Expands a `use` tree (`crate::a::{b, c::{d, e}}`) into its paths.
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut paths = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut paths);
    paths
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let (head, group) = match tree.find('{') {
        Some(open) if tree.ends_with('}') => (&tree[..open], Some(&tree[open + 1..tree.len() - 1])),
        _ => (tree, None),
    };
    let depth = prefix.len();
    prefix.extend(
        head.split("::")
            .filter(|segment| !segment.is_empty())
            .map(|segment| segment.split(" as ").next().unwrap_or(segment).to_owned()),
    );
    match group {
        None => out.push(prefix.clone()),
        Some(group) => {
            let mut level = 0;
            let mut start = 0;
            for (index, c) in group.char_indices() {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        expand_into(&group[start..index], prefix, out);
                        start = index + 1;
                    }
                    _ => {}
                }
            }
            if start < group.len() {
                expand_into(&group[start..], prefix, out);
            }
        }
    }
    prefix.truncate(depth);
}

/// Every `crate::`/`super::`/`self::` path the code names, in `use` trees or inline.
fn referenced_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let trimmed = statement.trim_start();
        let tree = trimmed
            .strip_prefix("pub use ")
            .or_else(|| trimmed.strip_prefix("pub(crate) use "))
            .or_else(|| trimmed.strip_prefix("use "));
        if let Some(tree) = tree {
            paths.extend(expand_use_tree(tree));
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (index, _) in code.match_indices(start) {
            if index > 0 && (bytes[index - 1].is_ascii_alphanumeric() || bytes[index - 1] == b'_') {
                continue;
            }
            let rest = &code[index..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            paths.push(
                rest[..end]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    paths
}

/// The module a path lands in: the longest prefix naming one of the crate's files.
fn resolve(
    from: &ModulePath,
    path: &[String],
    modules: &BTreeSet<ModulePath>,
) -> Option<ModulePath> {
    let mut absolute: ModulePath = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from.clone(),
        _ => return None,
    };
    let mut rest = path;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "crate" | "self" => {}
            "super" => {
                absolute.pop();
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    absolute.extend(rest.iter().cloned());
    (0..=absolute.len())
        .rev()
        .map(|len| absolute[..len].to_vec())
        .find(|m| modules.contains(m))
}

/// The sibling modules where `from` and `to` part, or `None` when one contains the other.
fn sibling_units(from: &ModulePath, to: &ModulePath) -> Option<(ModulePath, ModulePath)> {
    if from.starts_with(to) || to.starts_with(from) {
        return None;
    }
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    Some((from[..=common].to_vec(), to[..=common].to_vec()))
}

/// Strongly connected groups of more than one module in the crate rooted at `src`.
fn import_circles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    crate::rust_files(src, &mut files);
    let mut edges: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    let modules: BTreeSet<ModulePath> = files.iter().filter_map(|f| module_of(src, f)).collect();
    for file in &files {
        let Some(from) = module_of(src, file) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(file).unwrap_or_default());
        for path in referenced_paths(&code) {
            if let Some(to) = resolve(&from, &path, &modules)
                && let Some((from_unit, to_unit)) = sibling_units(&from, &to)
            {
                edges.entry(from_unit).or_default().insert(to_unit);
            }
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|group| group.len() > 1)
        .map(|group| {
            let mut names: Vec<String> = group.iter().map(|m| m.join("/")).collect();
            names.sort();
            names
        })
        .collect()
}

/// Kosaraju's algorithm: the graph's strongly connected components.
fn strongly_connected(edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    fn visit(
        node: &ModulePath,
        edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        seen: &mut BTreeSet<ModulePath>,
        order: &mut Vec<ModulePath>,
    ) {
        if !seen.insert(node.clone()) {
            return;
        }
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, seen, order);
        }
        order.push(node.clone());
    }
    let mut reverse: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    for (from, targets) in edges {
        for to in targets {
            reverse.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for node in edges.keys() {
        visit(node, edges, &mut seen, &mut order);
    }
    let mut assigned = BTreeSet::new();
    let mut groups = Vec::new();
    for node in order.iter().rev() {
        let mut group = Vec::new();
        visit(node, &reverse, &mut assigned, &mut group);
        if !group.is_empty() {
            groups.push(group);
        }
    }
    groups
}

#[test]
fn no_crate_has_import_circles_between_its_files() {
    let crates = crate::repo_root().join("crates");
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(&crates)
        .expect("crates/ is readable")
        .flatten()
    {
        let src = entry.path().join("src");
        for group in import_circles(&src) {
            circles.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                group.join(" <-> ")
            ));
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other in a circle:\n{}",
        circles.join("\n")
    );
}

#[test]
fn finds_a_circle_and_ignores_parents() {
    let dir = tempfile_dir();
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("exec")).expect("mkdir");
    let write = |name: &str, text: &str| std::fs::write(src.join(name), text).expect("write");
    write(
        "lib.rs",
        "//! root\nmod exec;\nmod script;\npub use exec::run;\n",
    );
    write(
        "exec/mod.rs",
        "//! exec\nmod get;\nuse crate::script::Script;\npub fn run() {}\n",
    );
    write("exec/get.rs", "//! get\nuse super::run;\n");
    write(
        "script.rs",
        "//! script\nuse crate::{exec::{self, run}, other};\n// crate::nothing\n",
    );
    let circles = import_circles(&src);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(circles, vec![vec!["exec".to_owned(), "script".to_owned()]]);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-imports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
