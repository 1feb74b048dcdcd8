//! Runs one job per component in dependency order, independent components
//! in parallel, on a fixed pool of worker threads.
//!
//! A failed component does not stop the run: its dependents are skipped with
//! the reason, and independent branches carry on. Threads, not async tasks:
//! the work is plugin calls (CPU-bound wasm) and blocking executor I/O.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::ComponentGraph;

/// How one component's job ended.
#[derive(Debug)]
pub enum Outcome<T, E> {
    /// The job returned this.
    Done(Arc<T>),
    /// The job failed with this error.
    Failed(E),
    /// Not run because a dependency did not finish.
    Skipped {
        /// Why: `dependency <key> failed`.
        because: String,
    },
}

impl<T, E> Outcome<T, E> {
    /// The job's result, if it ran and succeeded.
    pub fn done(&self) -> Option<&Arc<T>> {
        match self {
            Outcome::Done(t) => Some(t),
            _ => None,
        }
    }
}

/// The results of the dependencies of the component being run, by key.
pub type DepResults<T> = BTreeMap<String, Arc<T>>;

/// Runs `job` for every component of `graph`, at most `parallelism` at once,
/// each after all its dependencies are `Done`. Returns every component's outcome.
pub fn run<T, E, F>(graph: &ComponentGraph, parallelism: usize, job: F) -> BTreeMap<String, Outcome<T, E>>
where
    T: Send + Sync,
    E: Send,
    F: Fn(&str, &DepResults<T>) -> Result<T, E> + Sync,
{
    let parallelism = parallelism.clamp(1, graph.len().max(1));
    let mut outcomes: BTreeMap<String, Outcome<T, E>> = BTreeMap::new();
    let mut waiting: BTreeMap<&str, usize> =
        graph.order().iter().map(|k| (k.as_str(), graph.dependencies(k).count())).collect();

    let (work_tx, work_rx) = mpsc::channel::<(String, DepResults<T>)>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<(String, Result<T, E>)>();

    std::thread::scope(|scope| {
        for _ in 0..parallelism {
            let done_tx = done_tx.clone();
            let (work_rx, job) = (&work_rx, &job);
            scope.spawn(move || {
                loop {
                    // The lock is held only to take one item, never while working.
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((key, deps))) = next else { return };
                    let result = job(&key, &deps);
                    if done_tx.send((key, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);

        let mut in_flight = 0usize;
        let dispatch = |key: &str, outcomes: &BTreeMap<String, Outcome<T, E>>| {
            let deps: DepResults<T> = graph
                .dependencies(key)
                .filter_map(|d| outcomes.get(d).and_then(Outcome::done).map(|t| (d.clone(), Arc::clone(t))))
                .collect();
            // Workers outlive the loop below, so the receiver is alive here.
            let _ = work_tx.send((key.to_string(), deps));
        };
        for key in graph.order() {
            if waiting[key.as_str()] == 0 {
                dispatch(key, &outcomes);
                in_flight += 1;
            }
        }
        while in_flight > 0 {
            let Ok((key, result)) = done_rx.recv() else { break };
            in_flight -= 1;
            let succeeded = result.is_ok();
            outcomes.insert(key.clone(), result.map_or_else(Outcome::Failed, |t| Outcome::Done(Arc::new(t))));
            if succeeded {
                for dependent in graph.dependents(&key) {
                    if let Some(n) = waiting.get_mut(dependent.as_str()) {
                        *n -= 1;
                        if *n == 0 && !outcomes.contains_key(dependent) {
                            dispatch(dependent, &outcomes);
                            in_flight += 1;
                        }
                    }
                }
            } else {
                skip_dependents(graph, &key, &mut outcomes);
            }
        }
        drop(work_tx);
    });
    outcomes
}

/// Marks everything downstream of a failed component as skipped, naming the
/// component that failed.
fn skip_dependents<T, E>(
    graph: &ComponentGraph,
    failed: &str,
    outcomes: &mut BTreeMap<String, Outcome<T, E>>,
) {
    let mut stack: Vec<&String> = graph.dependents(failed).collect();
    while let Some(key) = stack.pop() {
        if outcomes.contains_key(key) {
            continue;
        }
        outcomes.insert(key.clone(), Outcome::Skipped { because: format!("dependency {failed} failed") });
        stack.extend(graph.dependents(key));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> ComponentGraph {
        ComponentGraph::new(
            edges.iter().map(|(k, ds)| (k.to_string(), ds.iter().map(|d| d.to_string()).collect::<Vec<_>>())),
        )
        .expect("acyclic")
    }

    #[test]
    fn dependents_see_their_dependencies_results() {
        let g = graph(&[("db", &[]), ("mq", &[]), ("app", &["db", "mq"])]);
        let out = run(&g, 4, |key, deps: &DepResults<String>| -> Result<String, ()> {
            let mut seen: Vec<&str> = deps.values().map(|s| s.as_str()).collect();
            seen.sort();
            Ok(format!("{key}({})", seen.join(",")))
        });
        assert_eq!(out["app"].done().map(|s| s.as_str()), Some("app(db(),mq())"));
    }

    #[test]
    fn a_failure_skips_dependents_and_lets_other_branches_finish() {
        let g = graph(&[("db", &[]), ("app", &["db"]), ("worker", &["app"]), ("logs", &[])]);
        let out = run(&g, 2, |key, _: &DepResults<()>| if key == "db" { Err("boom") } else { Ok(()) });
        assert!(matches!(out["db"], Outcome::Failed("boom")));
        for k in ["app", "worker"] {
            match &out[k] {
                Outcome::Skipped { because } => assert_eq!(because, "dependency db failed"),
                other => panic!("{k} should be skipped, was {other:?}"),
            }
        }
        assert!(out["logs"].done().is_some());
    }

    #[test]
    fn independent_components_run_at_once_up_to_the_limit() {
        let g = graph(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]);
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = run(&g, 2, |_, _: &DepResults<()>| -> Result<(), ()> {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
        assert_eq!(out.len(), 4);
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
