//! `benchmem flamegraph`: where a region's memory goes, as an interactive flame graph
//! drawn by inferno (hover for the figures, click to zoom, search), in one self-contained
//! SVG or an HTML page that carries it; with two runs a differential graph (grown red,
//! shrunk blue, widths from the second run).

use std::path::{Path, PathBuf};

use inferno::flamegraph::{self, Options, color};

use crate::EXIT_OK;
use crate::args::FlamegraphArgs;
use crate::blob::write_file;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::stacks::view::{self, Loaded, load};

/// Draw what `args` asks for.
pub(crate) fn flamegraph(args: FlamegraphArgs) -> Result {
    if view::figure_of(args.metric).is_none() {
        return Err(Error::Input(
            "--metric time: stacks split memory, not time: give peak, allocated, allocations or retained".into(),
        ));
    }
    let first = &args.inputs[0];
    let (runs, region): (Vec<Loaded>, Option<String>) = if first.is_dir() {
        let id = args.inputs.get(1).map(|p| p.to_string_lossy().into_owned());
        let (run, region) = pick(first, id.as_deref(), &args)?;
        (vec![run], Some(region))
    } else {
        if args.worst.is_some() {
            return Err(Error::Input(format!(
                "--worst picks among a directory of saved runs; {} is a file",
                first.display()
            )));
        }
        let runs = args
            .inputs
            .iter()
            .map(|p| load(p))
            .collect::<Result<Vec<_>>>()?;
        (runs, args.region.clone())
    };
    let profiles = runs
        .iter()
        .map(|l| {
            view::select(l, region.as_deref())?
                .into_iter()
                .map(|r| view::profile(l, r, args.metric, args.sample))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let last = runs.last().expect("one run at least");
    let head = profiles.last().expect("one run at least");
    let lines = view::folded(head);
    let what = match &region {
        Some(_) if head.len() == 1 => format!("{}: {}", head[0].fullname, args.metric.cli_name()),
        _ => format!("every region: {}", args.metric.cli_name()),
    };
    let mut opt = Options::default();
    opt.count_name = match args.metric {
        Metric::Allocations => "allocations".into(),
        _ => "bytes".into(),
    };
    opt.hash = true;
    opt.deterministic = true;
    let mut svg = Vec::new();
    let drawn = if runs.len() == 1 {
        if lines.is_empty() {
            return Err(Error::Input(format!(
                "{}: nothing to draw: no site has any {} in that sample",
                last.path.display(),
                args.metric.cli_name()
            )));
        }
        opt.title = format!("benchmem: {what}");
        opt.subtitle = Some(sample_words(head, &args));
        opt.colors = color::Palette::Basic(color::BasicPalette::Mem);
        flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), &mut svg)
    } else {
        let base = view::folded(&profiles[0]);
        let mut diff = Vec::new();
        inferno::differential::from_readers(
            inferno::differential::Options::default(),
            join(&base).as_bytes(),
            join(&lines).as_bytes(),
            &mut diff,
        )
        .map_err(|e| Error::Input(format!("cannot compare the stacks: {e}")))?;
        let diff = String::from_utf8_lossy(&diff).into_owned();
        if diff.trim().is_empty() {
            return Err(Error::Input(format!(
                "{} and {}: nothing to draw: no site has any {} in either run",
                runs[0].path.display(),
                last.path.display(),
                args.metric.cli_name()
            )));
        }
        opt.title = format!(
            "benchmem: {what}, {} → {}",
            name_of(&runs[0].path),
            name_of(&last.path)
        );
        opt.subtitle = Some(
            "widths: the second run; red: grew, blue: shrank (the hover tells both figures)".into(),
        );
        flamegraph::from_lines(&mut opt, diff.lines(), &mut svg)
    };
    drawn.map_err(|e| Error::Input(format!("cannot draw the flame graph: {e}")))?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&last.path, runs.len() > 1));
    let html = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let bytes = if html {
        page(&opt.title, &svg).into_bytes()
    } else {
        svg
    };
    write_file(&bytes, &out, "-o").map_err(Error::Save)?;
    eprintln!("benchmem: wrote {}", out.display());
    if args.open
        && let Err(e) = std::process::Command::new("xdg-open")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    {
        eprintln!(
            "benchmem: cannot open it with xdg-open: {e}; open {} yourself",
            out.display()
        );
    }
    Ok(EXIT_OK)
}

fn join(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn name_of(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn sample_words(profiles: &[view::Profile], args: &FlamegraphArgs) -> String {
    match (profiles, args.sample) {
        (_, Some(j)) => format!("sample {j}"),
        ([p], None) if p.samples > 1 => {
            format!("headline sample {} of {}", p.sample, p.samples)
        }
        ([_], None) => "its one sample".into(),
        _ => "each region's headline sample".into(),
    }
}

/// `RUN.json` → `RUN.flamegraph.svg` beside it (`HEAD.diff.svg` for a comparison).
fn default_output(run: &Path, diff: bool) -> PathBuf {
    let name = name_of(run);
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    let suffix = if diff { "diff" } else { "flamegraph" };
    run.with_file_name(format!("{stem}.{suffix}.svg"))
}

/// An HTML page around the SVG: the SVG inline (its XML prolog dropped), so its own script
/// (hover, zoom, search) runs in the page and the page opens offline as one file.
fn page(title: &str, svg: &[u8]) -> String {
    let title = crate::plot::svg::esc(title);
    let svg = String::from_utf8_lossy(svg);
    let body = svg.find("<svg").map_or(&svg[..], |i| &svg[i..]);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>html,body{{margin:0}}</style></head><body>\n{body}</body></html>\n"
    )
}

/// Picks one profile among the saved runs in `dir`: `id` (exact benchmark id or file
/// name, else a unique part of an id), or the worst by `--worst`, or the only one.
fn pick(dir: &Path, id: Option<&str>, args: &FlamegraphArgs) -> Result<(Loaded, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Input(format!("{}: cannot list it: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = name_of(p);
            n.ends_with(".json") && !n.ends_with(".stacks.json")
        })
        .collect();
    files.sort();
    // (file index, benchmark id, headline figure of --worst's metric)
    let mut loaded = Vec::new();
    let mut found: Vec<(usize, String, u64)> = Vec::new();
    for f in files {
        let Ok(l) = load(&f) else { continue };
        let metric = args.worst.map_or(args.metric, |w| w.metric());
        // The run's own default: its one region when it has one besides its processes'
        // roots (a benchmark measured in a worker process), else all of them.
        for r in view::select(&l, None).unwrap_or_default() {
            if let Ok(p) = view::profile(&l, r, metric, None) {
                found.push((loaded.len(), r.fullname.clone(), p.total));
            }
        }
        loaded.push(l);
    }
    if found.is_empty() {
        return Err(Error::Input(format!(
            "{}: no saved run with stack data here: record one with `benchmem run --stacks --json {}/RUN.json -- ...`",
            dir.display(),
            dir.display()
        )));
    }
    let stem = |i: usize| {
        let n = name_of(&loaded[i].path);
        n.strip_suffix(".json").unwrap_or(&n).to_string()
    };
    let chosen: Vec<usize> = match (id, args.worst) {
        (Some(id), _) => {
            let exact: Vec<usize> = (0..found.len())
                .filter(|&k| found[k].1 == id || stem(found[k].0) == id)
                .collect();
            if exact.is_empty() {
                (0..found.len())
                    .filter(|&k| found[k].1.contains(id))
                    .collect()
            } else {
                exact
            }
        }
        (None, Some(_)) => {
            let worst = found.iter().map(|f| f.2).max().unwrap_or(0);
            // The first of equals, in file and benchmark order: the same pick every time.
            (0..found.len())
                .filter(|&k| found[k].2 == worst)
                .take(1)
                .collect()
        }
        (None, None) => (0..found.len()).collect(),
    };
    let list = |ks: &[usize]| {
        ks.iter()
            .map(|&k| found[k].1.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match chosen.as_slice() {
        [k] => {
            let (i, name, _) = found[*k].clone();
            let l = loaded.swap_remove(i);
            Ok((l, name))
        }
        [] => Err(Error::Input(format!(
            "{}: no profile matches {:?}; there are {}",
            dir.display(),
            id.unwrap_or(""),
            list(&(0..found.len()).collect::<Vec<_>>())
        ))),
        many => Err(Error::Input(format!(
            "{}: {} profiles match ({}): give an exact id, or --worst peak|allocated|allocations",
            dir.display(),
            many.len(),
            list(many)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_sit_beside_the_run() {
        assert_eq!(
            default_output(Path::new("d/run.json"), false),
            PathBuf::from("d/run.flamegraph.svg")
        );
        assert_eq!(
            default_output(Path::new("head.json"), true),
            PathBuf::from("head.diff.svg")
        );
    }
}
