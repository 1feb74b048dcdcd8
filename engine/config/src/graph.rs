//! The component DAG: which component waits for which. The one graph of a
//! run: the loader builds it (a cycle is reported at the `dependency` block
//! that closes it, with file and line), `Stack::order` and the planner's
//! scheduler read it, and `destroy` walks it reversed. State-only components
//! (removed from the tree) get a graph of their own through
//! [`ComponentGraph::new`].

use std::collections::{BTreeMap, BTreeSet};

/// Problems with the shape of a component graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// Components depend on each other in a loop.
    #[error("dependency cycle: {}", path.join(" -> "))]
    Cycle {
        /// Component keys around the loop, each depending on the next, the
        /// first repeated at the end: `[a, b, a]`.
        path: Vec<String>,
    },
    /// A component depends on a key that is not a node of the graph.
    #[error("component {component} depends on {dependency}, which is not in the stack")]
    UnknownDependency {
        /// Key of the component that declares the dependency.
        component: String,
        /// The key it depends on.
        dependency: String,
    },
}

/// Components and the components each one depends on, keyed by component key
/// (its directory relative to the stack root). Deterministic: every iteration
/// is in key order.
#[derive(Debug, Clone, Default)]
pub struct ComponentGraph {
    deps: BTreeMap<String, BTreeSet<String>>,
    dependents: BTreeMap<String, BTreeSet<String>>,
    /// Keys in an order where every component comes after its dependencies.
    order: Vec<String>,
}

impl ComponentGraph {
    /// Builds the graph, refusing unknown dependencies and cycles (the cycle is
    /// named in full: `a -> b -> c -> a`).
    pub fn new<I, D>(nodes: I) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = (String, D)>,
        D: IntoIterator<Item = String>,
    {
        let deps: BTreeMap<String, BTreeSet<String>> =
            nodes.into_iter().map(|(k, d)| (k, d.into_iter().collect())).collect();
        let mut dependents: BTreeMap<String, BTreeSet<String>> =
            deps.keys().map(|k| (k.clone(), BTreeSet::new())).collect();
        for (key, ds) in &deps {
            for d in ds {
                match dependents.get_mut(d) {
                    Some(set) => {
                        set.insert(key.clone());
                    }
                    None => {
                        return Err(GraphError::UnknownDependency {
                            component: key.clone(),
                            dependency: d.clone(),
                        });
                    }
                }
            }
        }
        let order = topological_order(&deps)?;
        Ok(Self { deps, dependents, order })
    }

    /// How many components it holds.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// True when it holds no component.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Whether `key` is a component of the graph.
    pub fn contains(&self, key: &str) -> bool {
        self.deps.contains_key(key)
    }

    /// Keys with every dependency before its dependents.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// The components `key` waits for, in key order (none for an unknown key).
    pub fn dependencies(&self, key: &str) -> impl Iterator<Item = &String> {
        self.deps.get(key).into_iter().flatten()
    }

    /// The components that wait for `key`, in key order (none for an unknown key).
    pub fn dependents(&self, key: &str) -> impl Iterator<Item = &String> {
        self.dependents.get(key).into_iter().flatten()
    }

    /// The same graph with every edge reversed: the order `destroy` runs in.
    pub fn reversed(&self) -> Self {
        let mut order = self.order.clone();
        order.reverse();
        Self { deps: self.dependents.clone(), dependents: self.deps.clone(), order }
    }

    /// Graphviz `dot` text.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph capstan {\n  rankdir=LR;\n");
        for key in self.deps.keys() {
            out.push_str(&format!("  {key:?};\n"));
        }
        for (key, ds) in &self.deps {
            for d in ds {
                out.push_str(&format!("  {key:?} -> {d:?};\n"));
            }
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart text (renders on GitHub and GitLab).
    pub fn to_mermaid(&self) -> String {
        let ids: BTreeMap<&String, String> =
            self.deps.keys().enumerate().map(|(i, k)| (k, format!("c{i}"))).collect();
        let mut out = String::from("flowchart LR\n");
        for (key, id) in &ids {
            out.push_str(&format!("  {id}[\"{key}\"]\n"));
        }
        for (key, ds) in &self.deps {
            for d in ds {
                out.push_str(&format!("  {} --> {}\n", ids[key], ids[d]));
            }
        }
        out
    }
}

/// Kahn's algorithm, with a depth-first search for the cycle's path when one
/// remains, so the error shows the loop rather than just "cycle".
fn topological_order(deps: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>, GraphError> {
    let mut remaining: BTreeMap<&String, usize> = deps.iter().map(|(k, d)| (k, d.len())).collect();
    let mut dependents: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for (k, ds) in deps {
        for d in ds {
            dependents.entry(d).or_default().push(k);
        }
    }
    let mut ready: Vec<&String> = remaining.iter().filter(|(_, n)| **n == 0).map(|(k, _)| *k).collect();
    ready.reverse();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(k) = ready.pop() {
        order.push(k.clone());
        for dependent in dependents.get(k).into_iter().flatten() {
            if let Some(n) = remaining.get_mut(dependent) {
                *n -= 1;
                if *n == 0 {
                    ready.push(dependent);
                }
            }
        }
    }
    if order.len() == deps.len() {
        return Ok(order);
    }
    let done: BTreeSet<&String> = order.iter().collect();
    let start = deps.keys().find(|k| !done.contains(k));
    Err(GraphError::Cycle { path: start.map(|s| find_cycle(deps, s)).unwrap_or_default() })
}

fn find_cycle(deps: &BTreeMap<String, BTreeSet<String>>, start: &String) -> Vec<String> {
    // Walk from a node left over by Kahn's algorithm: every such node leads
    // into a cycle, so following unvisited edges must revisit a node on the path.
    let mut path: Vec<&String> = vec![start];
    let mut on_path: BTreeMap<&String, usize> = BTreeMap::from([(start, 0)]);
    let mut current = start;
    loop {
        let Some(next) = deps.get(current).and_then(|ds| {
            ds.iter()
                .find(|d| on_path.contains_key(d))
                .or_else(|| ds.iter().find(|d| has_cycle_from(deps, d)))
        }) else {
            return path.into_iter().cloned().collect();
        };
        if let Some(&i) = on_path.get(next) {
            let mut cycle: Vec<String> = path[i..].iter().map(|s| (*s).clone()).collect();
            cycle.push(next.clone());
            return cycle;
        }
        on_path.insert(next, path.len());
        path.push(next);
        current = next;
    }
}

fn has_cycle_from(deps: &BTreeMap<String, BTreeSet<String>>, start: &String) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(k) = stack.pop() {
        for d in deps.get(k).into_iter().flatten() {
            if d == start {
                return true;
            }
            if seen.insert(d) {
                stack.push(d);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Result<ComponentGraph, GraphError> {
        ComponentGraph::new(
            edges.iter().map(|(k, ds)| (k.to_string(), ds.iter().map(|d| d.to_string()).collect::<Vec<_>>())),
        )
    }

    #[test]
    fn dependencies_come_first() {
        let g = graph(&[("app", &["db", "mq"]), ("db", &[]), ("mq", &["db"])]).expect("acyclic");
        assert_eq!(g.order(), ["db", "mq", "app"]);
        assert_eq!(g.reversed().order(), ["app", "mq", "db"]);
        assert_eq!(g.dependents("db").collect::<Vec<_>>(), ["app", "mq"]);
    }

    #[test]
    fn a_cycle_is_named_in_full() {
        let err = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]).expect_err("cycle");
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn an_unknown_dependency_is_refused() {
        let err = graph(&[("app", &["nope"])]).expect_err("unknown");
        assert_eq!(err.to_string(), "component app depends on nope, which is not in the stack");
    }

    #[test]
    fn mermaid_and_dot_list_every_edge() {
        let g = graph(&[("app", &["db"]), ("db", &[])]).expect("acyclic");
        assert!(g.to_dot().contains("\"app\" -> \"db\";"));
        assert!(g.to_mermaid().contains("c0 --> c1"));
    }
}
