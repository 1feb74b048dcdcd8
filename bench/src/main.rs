//! `capstan-bench`: writes generated stacks for the benchmarks.
//!
//! ```text
//! capstan-bench gen --components N --out DIR [--app-only]
//! capstan-bench same-objects RENDER_DIR HELM_OUTPUT.yaml
//! ```
//!
//! Without `--app-only` the stack mixes every built-in component type with
//! dependencies between them; with it, N independent `capstan/app`
//! components plus the same inputs as helm values for `bench/chart`
//! (`DIR/helm-values/all.yaml`, one release with N apps, and
//! `DIR/helm-values/appK.yaml`, one release per app). `same-objects`
//! exits non-zero, listing the differences, unless the render target's
//! output and `helm template`'s describe the same objects.

use std::path::PathBuf;
use std::process::ExitCode;

use capstan_bench::{Shape, helm_values, objects, write_stack};

const USAGE: &str = "usage: capstan-bench gen --components N --out DIR [--app-only]\n       capstan-bench same-objects RENDER_DIR HELM_OUTPUT.yaml";

struct Args {
    components: usize,
    out: PathBuf,
    shape: Shape,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut components, mut out, mut shape) = (None, None, Shape::Mixed);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--components" => {
                let n = args.next().ok_or("--components needs a number")?;
                components = Some(n.parse::<usize>().map_err(|e| format!("--components {n}: {e}"))?);
            }
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a directory")?)),
            "--app-only" => shape = Shape::AppOnly,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    match (components, out) {
        (Some(components), Some(out)) if components > 0 => Ok(Args { components, out, shape }),
        (Some(0), _) => Err("--components must be at least 1".into()),
        _ => Err(USAGE.into()),
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.out.exists() && std::fs::read_dir(&args.out).map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} is not empty: generate into a new directory", args.out.display()));
    }
    let (generated, key) = write_stack(&args.out, args.shape, args.components).map_err(|e| e.to_string())?;
    if args.shape == Shape::AppOnly {
        let dir = args.out.join("helm-values");
        let write = |name: String, text: String| {
            std::fs::write(dir.join(&name), text).map_err(|e| format!("writing {name}: {e}"))
        };
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        write("all.yaml".into(), helm_values(1..=args.components))?;
        for i in 1..=args.components {
            write(format!("app{i}.yaml"), helm_values(i..=i))?;
        }
    }
    println!("wrote {} components under {}", generated.components, args.out.display());
    if let Some(key) = key {
        println!("secrets are encrypted to the test identity {}", key.display());
    }
    Ok(())
}

fn same_objects(rendered: &str, helm: &str) -> Result<(), String> {
    let left = objects::from_render_dir(rendered.as_ref()).map_err(|e| e.to_string())?;
    let right = objects::from_file(helm.as_ref()).map_err(|e| e.to_string())?;
    let diffs = objects::differences(&left, &right);
    if diffs.is_empty() {
        println!("same {} objects", left.len());
        return Ok(());
    }
    for d in diffs.iter().take(10) {
        eprintln!("{d}");
    }
    Err(format!("{} differences between {rendered} and {helm}", diffs.len()))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("gen") => parse(args).and_then(|args| run(&args)),
        Some("same-objects") => match (args.next(), args.next(), args.next()) {
            (Some(rendered), Some(helm), None) => same_objects(&rendered, &helm),
            _ => Err(USAGE.into()),
        },
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capstan-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
