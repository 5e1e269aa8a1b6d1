//! The engine's module import graph, read from its sources: which module (file) uses which,
//! through `use crate::…`, `super::…`, paths in code and a parent's own submodules. A name a
//! module re-exports (`pub use child::Item`) counts as an import of the module defining it, so
//! a facade such as `schema` is not a hub everything appears to go through. Test code
//! (`#[cfg(test)]`) is left out: it may reach anywhere.
//!
//! `cargo test -p flinkllm-engine --test module_graph -- --nocapture` prints the graph; the
//! test fails on any cycle (two modules importing each other, directly or through others),
//! naming the modules of each.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

type Module = String;

/// A module's path from the crate root (`schema::parse`); the root itself is "".
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Path>().is_ok_and(|p| p.is_ident("test")))
}

/// The paths one file names, each made absolute (segments from the crate root).
struct Names<'a> {
    module: &'a str,
    children: BTreeSet<String>,
    paths: Vec<Vec<String>>,
    /// `pub use` items of this file: exported name → absolute path.
    reexports: Vec<(String, Vec<String>)>,
}

impl Names<'_> {
    /// Absolute segments of a path as written, or None for paths outside the crate.
    fn absolute(&self, segments: &[String]) -> Option<Vec<String>> {
        let here: Vec<String> = if self.module.is_empty() { Vec::new() } else { self.module.split("::").map(str::to_string).collect() };
        let (first, rest) = segments.split_first()?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" => Some([here, rest.to_vec()].concat()),
            "super" => {
                let mut base = here;
                base.pop();
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                Some([base, rest.to_vec()].concat())
            }
            child if self.children.contains(child) => Some([here, segments.to_vec()].concat()),
            _ => None,
        }
    }

    fn use_tree(&mut self, prefix: Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                let mut prefix = prefix;
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, public)
            }
            syn::UseTree::Name(n) => self.used(prefix, n.ident.to_string(), None, public),
            syn::UseTree::Rename(r) => self.used(prefix, r.ident.to_string(), Some(r.rename.to_string()), public),
            syn::UseTree::Glob(_) => self.used(prefix, String::new(), None, public),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix.clone(), t, public)),
        }
    }

    fn used(&mut self, mut prefix: Vec<String>, name: String, rename: Option<String>, public: bool) {
        if name != "self" && !name.is_empty() {
            prefix.push(name.clone());
        }
        let Some(path) = self.absolute(&prefix) else { return };
        if public && !name.is_empty() {
            let exported = rename.unwrap_or(if name == "self" { prefix.last().cloned().unwrap_or_default() } else { name });
            self.reexports.push((exported, path.clone()));
        }
        self.paths.push(path);
    }
}

impl<'ast> Visit<'ast> for Names<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let public = !matches!(u.vis, syn::Visibility::Inherited);
        self.use_tree(Vec::new(), &u.tree, public);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            if let Some(path) = self.absolute(&segments) {
                self.paths.push(path);
            }
        }
        syn::visit::visit_path(self, p);
    }
}

struct Graph {
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    /// Modules merged into their top-level module (`schema::parse` into `schema`).
    fn top_level(&self) -> Graph {
        let top = |m: &str| m.split("::").next().unwrap_or_default().to_string();
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, targets) in &self.edges {
            let from = top(module);
            let to: BTreeSet<Module> = targets.iter().map(|t| top(t)).filter(|t| *t != from).collect();
            edges.entry(from).or_default().extend(to);
        }
        Graph { edges }
    }
}

fn read_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Module, syn::File> = files
        .iter()
        .map(|f| (module_of(src, f), syn::parse_file(&std::fs::read_to_string(f).unwrap()).unwrap()))
        .collect();
    let mut used: BTreeMap<Module, Vec<Vec<String>>> = BTreeMap::new();
    let mut reexports: HashMap<(Module, String), Vec<String>> = HashMap::new();
    for (module, file) in &modules {
        let children = file
            .items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Mod(m) if m.content.is_none() => Some(m.ident.to_string()),
                _ => None,
            })
            .collect();
        let mut names = Names { module, children, paths: Vec::new(), reexports: Vec::new() };
        names.visit_file(file);
        for (name, path) in names.reexports {
            reexports.insert((module.clone(), name), path);
        }
        used.insert(module.clone(), names.paths);
    }
    // A path's module: the longest prefix naming a module file, following re-exports.
    let resolve = |path: &[String]| -> Option<Module> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let (module, next) = (0..=path.len()).rev().find_map(|n| {
                let m = path[..n].join("::");
                modules.contains_key(&m).then(|| (m, path.get(n).cloned()))
            })?;
            match next.and_then(|n| reexports.get(&(module.clone(), n))) {
                Some(target) if *target != path => path = target.clone(),
                _ => return Some(module),
            }
        }
        None
    };
    let mut edges = BTreeMap::new();
    for (module, paths) in &used {
        let targets: BTreeSet<Module> =
            paths.iter().filter_map(|p| resolve(p)).filter(|t| t != module && !t.is_empty()).collect();
        if !module.is_empty() {
            edges.insert(module.clone(), targets);
        }
    }
    Graph { edges }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<Module>> {
    struct State<'a> {
        g: &'a Graph,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        for w in s.g.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                s.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if s.stack.contains(&w.as_str()) {
                let iw = s.index[w.as_str()];
                s.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let at = s.stack.iter().rposition(|m| *m == v).unwrap();
            let component: Vec<Module> = s.stack.drain(at..).map(str::to_string).collect();
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State { g, index: HashMap::new(), low: HashMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in g.edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn engine_modules_import_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = read_graph(&src);
    for (module, targets) in &graph.edges {
        println!("{module} -> {}", targets.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    assert!(graph.edges.len() > 20, "read {} modules from {}", graph.edges.len(), src.display());
    let mut found = cycles(&graph);
    // The same one level up: `encoder` (its files together) and `task` must not import each
    // other through different files either.
    found.extend(cycles(&graph.top_level()));
    assert!(found.is_empty(), "import cycles (each line: modules that import each other): \n{}", {
        found.iter().map(|c| c.join(" <-> ")).collect::<Vec<_>>().join("\n")
    });
}

/// The reader itself: a cycle written on purpose is found, a chain is not.
#[test]
fn the_reader_finds_a_planted_cycle() {
    let dir = std::env::temp_dir().join(format!("flinkllm-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a; mod b; mod c;").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::Thing; pub struct A;").unwrap();
    std::fs::write(dir.join("b/mod.rs"), "mod inner; pub use inner::Thing;").unwrap();
    std::fs::write(dir.join("b/inner.rs"), "pub struct Thing; fn f() { let _ = super::super::c::C; }").unwrap();
    std::fs::write(dir.join("c.rs"), "pub struct C; fn g() -> crate::a::A { crate::a::A }").unwrap();
    let graph = read_graph(&dir);
    assert_eq!(graph.edges["a"], BTreeSet::from(["b::inner".to_string()]), "a re-exported name counts for its defining module");
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].iter().cloned().collect::<BTreeSet<_>>(), BTreeSet::from(["a", "b::inner", "c"].map(String::from)));
    assert_eq!(cycles(&graph.top_level()).len(), 1);
    std::fs::write(dir.join("c.rs"), "pub struct C;").unwrap();
    assert!(cycles(&read_graph(&dir)).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
