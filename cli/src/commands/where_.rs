//! `benchmem where RUN.json`: the call sites that hold (peak, retained) or churn
//! (allocated, allocations) each region's memory, with their share of the region; with two
//! runs, the sites whose figures changed most.

use std::collections::{BTreeMap, BTreeSet};

use crate::EXIT_OK;
use crate::args::{WhereArgs, WhereFormat};
use crate::console::{self, Painter};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::report::{Cell, Column, Format, Header, NoteLayout, Report, Section, Table};
use crate::stacks::view::{self, Loaded, Profile, load, site_and_callers};
use crate::units::human;

/// Callers shown beside a site.
const CALLERS: usize = 2;

/// Print the sites of `args.files`.
pub(crate) fn where_(args: WhereArgs) -> Result {
    let runs = args
        .files
        .iter()
        .map(|f| load(f))
        .collect::<Result<Vec<Loaded>>>()?;
    if args.format == WhereFormat::Folded {
        if runs.len() > 1 {
            return Err(Error::Input(
                "--format folded prints one run's stacks: give one RUN.json (for a comparison, `benchmem flamegraph BASE.json HEAD.json`)".into(),
            ));
        }
        let profiles = profiles(&runs[0], &args)?;
        let mut out = String::new();
        for line in view::folded(&profiles) {
            out.push_str(&line);
            out.push('\n');
        }
        console::stdout(&out);
        return Ok(EXIT_OK);
    }
    let format = match args.format {
        WhereFormat::Table | WhereFormat::Folded => Format::Table,
        WhereFormat::Md => Format::Md,
        WhereFormat::Csv => Format::Csv,
    };
    let report = if runs.len() == 1 {
        sites_report(&runs[0], &args)?
    } else {
        changes_report(&runs, &args)?
    };
    let painter = Painter::for_stdout_in(format);
    let out = report.render(format, painter, console::report_width(format));
    console::stdout(&out.body);
    console::stderr(&out.aside);
    Ok(EXIT_OK)
}

fn profiles<'a>(l: &'a Loaded, args: &WhereArgs) -> Result<Vec<Profile<'a>>> {
    view::select(l, args.region.as_deref())?
        .into_iter()
        .map(|r| view::profile(l, r, args.metric, args.sample))
        .collect()
}

fn value_cell(metric: Metric, v: Option<u64>) -> Cell {
    Cell::Human {
        raw: v.map(|v| v as f64),
        quantity: metric.quantity(),
    }
}

fn callers_text(callers: &[&str]) -> String {
    let mut shown: Vec<&str> = callers.iter().take(CALLERS).copied().collect();
    if callers.len() > CALLERS {
        shown.push("…");
    }
    shown.join(" ← ")
}

fn share(v: u64, total: u64) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1}%", v as f64 * 100.0 / total as f64)
    }
}

fn which_sample(p: &Profile, args: &WhereArgs) -> String {
    match args.sample {
        Some(j) => format!("sample {j} of {}", p.samples),
        None if p.samples > 1 => format!("headline sample {} of {}", p.sample, p.samples),
        None => "its one sample".into(),
    }
}

/// One section per region: its top sites.
fn sites_report(l: &Loaded, args: &WhereArgs) -> Result<Report> {
    let metric = args.metric;
    let mut sections = Vec::new();
    let mut notes: Vec<String> = l.side.notes.iter().map(|n| format!("note: {n}")).collect();
    for p in profiles(l, args)? {
        let mut rows = Vec::new();
        for &(s, v) in p.sites.iter().take(args.top) {
            let frames = p.frames(s);
            let (site, callers) = site_and_callers(&frames);
            rows.push(vec![
                Cell::Text(site.to_string()),
                value_cell(metric, Some(v)),
                Cell::Text(share(v, p.total)),
                Cell::Text(callers_text(&callers)),
            ]);
        }
        let rest: u64 = p.sites.iter().skip(args.top).map(|x| x.1).sum();
        if p.sites.len() > args.top {
            notes.push(format!(
                "{}: {} more sites hold {} ({})",
                p.fullname,
                p.sites.len() - args.top,
                human(metric.quantity(), rest as f64),
                share(rest, p.total)
            ));
        }
        let title = format!(
            "{}: {} {} ({})",
            p.fullname,
            metric.cli_name(),
            human(metric.quantity(), p.total as f64),
            which_sample(&p, args)
        );
        sections.push(Section {
            title: Some(title),
            table: Table {
                columns: vec![
                    Column::text("site"),
                    Column::numbers(Header::Text(metric.cli_name().to_string())),
                    Column::numbers(Header::Text("share".into())),
                    Column::text("called from"),
                ],
                rows,
            },
        });
    }
    Ok(Report {
        sections,
        caption: format!(
            "where the memory goes: each call site's share of the region's {} ({})",
            metric.cli_name(),
            meaning(metric)
        ),
        data_caption: None,
        notes,
        layout: NoteLayout::Statements,
    })
}

fn meaning(metric: Metric) -> &'static str {
    match metric {
        Metric::Peak => "bytes it allocated in the region and held at the region's peak",
        Metric::Allocated => "bytes it allocated in the region",
        Metric::Allocations => "allocation calls it made in the region",
        Metric::Retained => "bytes it allocated in the region still live at its end",
        Metric::Time | Metric::Rss => "",
    }
}

/// One section per region the first run and another share: the sites whose figure
/// changed most, both values and the change.
fn changes_report(runs: &[Loaded], args: &WhereArgs) -> Result<Report> {
    let metric = args.metric;
    let base = &runs[0];
    let mut sections = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for l in runs {
        notes.extend(
            l.side
                .notes
                .iter()
                .map(|n| format!("note: {}: {n}", l.path.display())),
        );
    }
    let base_profiles = profiles(base, args)?;
    for head in &runs[1..] {
        let head_profiles = profiles(head, args)?;
        let mut common = 0;
        for hp in &head_profiles {
            let Some(bp) = base_profiles.iter().find(|b| b.fullname == hp.fullname) else {
                continue;
            };
            common += 1;
            let by_stack = |p: &Profile| -> BTreeMap<String, (u64, u32)> {
                p.sites
                    .iter()
                    .map(|&(s, v)| (p.folded(s), (v, s)))
                    .collect()
            };
            let (b, h) = (by_stack(bp), by_stack(hp));
            let keys: BTreeSet<&String> = b.keys().chain(h.keys()).collect();
            let mut changed: Vec<(i128, &String)> = keys
                .into_iter()
                .map(|k| {
                    let bv = b.get(k).map_or(0, |x| x.0) as i128;
                    let hv = h.get(k).map_or(0, |x| x.0) as i128;
                    (hv - bv, k)
                })
                .filter(|(d, _)| *d != 0)
                .collect();
            changed.sort_by(|x, y| y.0.abs().cmp(&x.0.abs()).then_with(|| x.1.cmp(y.1)));
            let rows = changed
                .iter()
                .take(args.top)
                .map(|(_, k)| {
                    let frames: Vec<&str> = match (h.get(*k), b.get(*k)) {
                        (Some(&(_, s)), _) => hp.frames(s),
                        (None, Some(&(_, s))) => bp.frames(s),
                        (None, None) => Vec::new(),
                    };
                    let (site, callers) = site_and_callers(&frames);
                    let bv = b.get(*k).map(|x| x.0 as f64);
                    let hv = h.get(*k).map(|x| x.0 as f64);
                    vec![
                        Cell::Text(site.to_string()),
                        Cell::Text(callers_text(&callers)),
                        value_cell(metric, Some(bv.unwrap_or(0.0) as u64)),
                        value_cell(metric, Some(hv.unwrap_or(0.0) as u64)),
                        Cell::Change {
                            base: Some(bv.unwrap_or(0.0)),
                            head: Some(hv.unwrap_or(0.0)),
                            noise: None,
                        },
                    ]
                })
                .collect::<Vec<_>>();
            if changed.is_empty() {
                notes.push(format!(
                    "{}: no site's {} changed",
                    hp.fullname,
                    metric.cli_name()
                ));
            } else if changed.len() > args.top {
                notes.push(format!(
                    "{}: {} more sites changed",
                    hp.fullname,
                    changed.len() - args.top
                ));
            }
            let title = format!(
                "{}: {} {} → {} ({} → {})",
                hp.fullname,
                metric.cli_name(),
                human(metric.quantity(), bp.total as f64),
                human(metric.quantity(), hp.total as f64),
                base.path.display(),
                head.path.display()
            );
            sections.push(Section {
                title: Some(title),
                table: Table {
                    columns: vec![
                        Column::text("site"),
                        Column::text("called from"),
                        Column::numbers(Header::Text("base".into())),
                        Column::numbers(Header::Text("head".into())),
                        Column::numbers(Header::Text("change".into())).joined(),
                    ],
                    rows,
                },
            });
        }
        if common == 0 {
            return Err(Error::Input(format!(
                "{} and {}: no region with stack data in common: give runs of the same benchmark",
                base.path.display(),
                head.path.display()
            )));
        }
    }
    Ok(Report {
        sections,
        caption: format!(
            "where the memory changed: the call sites whose {} changed most ({})",
            metric.cli_name(),
            meaning(metric)
        ),
        data_caption: None,
        notes,
        layout: NoteLayout::Statements,
    })
}
