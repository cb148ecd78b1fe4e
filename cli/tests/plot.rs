//! `benchmem plot` end to end: saved runs made by the real pytest-benchmark from a
//! parametrized suite (tests/fixtures/plot_suite.py), drawn by the built binary; every
//! value a mark carries (`data-value`, `data-base`, ...) is checked against the JSON, and
//! every HTML page is loaded by a real headless Chromium.

mod common;

#[path = "../../tests/src/browser.rs"]
#[allow(dead_code)]
mod browser;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{Run, benchmem_in, python};
use serde_json::{Value, json};

/// The suite's saved runs, made once per test binary:
/// - base.json: 6 benchmarks (kind list/tuple × n 10/100/1000), 3 repeats that differ
/// - head.json: list-1000 grows ×1.25, tuple-100 shrinks ×0.8, the rest as base;
///   retained of tuple-1000 grows from 0
/// - third.json: like head without list-10, tuple-10's peak 0
struct Suite {
    dir: PathBuf,
}

fn suite() -> &'static Suite {
    static S: OnceLock<Suite> = OnceLock::new();
    S.get_or_init(make_suite)
}

fn blob(peak: u64, retained: u64) -> Value {
    json!({"peak_bytes": [peak + 100, peak, peak + 50], "total_bytes": vec![peak * 2; 3],
           "allocations": vec![peak / 16; 3], "retained_bytes": vec![retained; 3]})
}

/// Made once for every test process (nextest runs each test in its own): in the target
/// directory under a name that changes with the suite and the fixtures, built aside and
/// renamed into place so concurrent tests never see half of it.
fn make_suite() -> Suite {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plot_suite.py");
    let code = std::fs::read_to_string(&src).expect("read suite");
    let fixtures = fixtures();
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (code.as_str(), fixtures.to_string()).hash(&mut h);
        h.finish()
    };
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = root.join(format!("plot-suite-{key:016x}"));
    if dir.join("third.json").is_file() {
        return Suite { dir };
    }
    let tmp = tempfile::tempdir_in(root).expect("temp dir");
    std::fs::write(tmp.path().join("test_plot_suite.py"), &code).expect("copy suite");
    for (name, fixture) in fixtures.as_object().unwrap() {
        let fx = tmp.path().join(format!("{name}_fixture.json"));
        std::fs::write(&fx, fixture.to_string()).unwrap();
        pytest(tmp.path(), &fx, name);
    }
    let built = tmp.keep();
    if std::fs::rename(&built, &dir).is_err() {
        // Another test process got there first: theirs is as good.
        let _ = std::fs::remove_dir_all(&built);
    }
    Suite { dir }
}

fn fixtures() -> Value {
    let mut base = serde_json::Map::new();
    for n in [10u64, 100, 1000] {
        base.insert(format!("test_build[list-{n}]"), blob(n * 48 + 1000, 0));
        base.insert(format!("test_build[tuple-{n}]"), blob(n * 40 + 1000, 0));
    }
    base.insert("test_build[list-1000]".into(), blob(49_000, 4096));
    let mut head = base.clone();
    head.insert("test_build[list-1000]".into(), blob(61_250, 8192));
    head.insert("test_build[tuple-100]".into(), blob(4_000, 0));
    head.insert("test_build[tuple-1000]".into(), blob(41_000, 100));
    let mut third = head.clone();
    third.insert(
        "test_build[tuple-10]".into(),
        json!({"peak_bytes": [0, 0, 0]}),
    );
    json!({
        "base": {"memory": base, "skip": []},
        "head": {"memory": head, "skip": []},
        "third": {"memory": third, "skip": ["test_build[list-10]"]},
    })
}

fn pytest(dir: &Path, fx: &Path, name: &str) {
    let o = Command::new(python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_plot_suite.py",
            &format!("--benchmark-json={name}.json"),
            "--benchmark-min-rounds=3",
            "--benchmark-max-time=0.00001",
            "--benchmark-min-time=0.000001",
            "--benchmark-warmup=off",
        ])
        .env("BENCHMEM_FIXTURE", fx)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir)
        .output()
        .expect("pytest runs");
    assert!(
        o.status.success(),
        "pytest-benchmark failed making {name}.json:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn plot(args: &[&str]) -> Run {
    benchmem_in(&suite().dir, args, &[])
}

/// Draws `args` into `out` (a fresh directory's file) and returns the file's text.
fn draw(args: &[&str], out: &str) -> (String, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(out);
    let mut all: Vec<&str> = args.to_vec();
    let p = path.display().to_string();
    all.extend(["-o", &p]);
    let r = plot(&all);
    assert_eq!(r.status, 0, "plot {args:?} failed: {}", r.stderr);
    assert!(
        r.stderr.contains(&p),
        "no summary line naming the file: {}",
        r.stderr
    );
    (std::fs::read_to_string(&path).unwrap(), path, tmp)
}

/// Every element with `class="mark"`: its attributes.
fn marks(svg: &str) -> Vec<HashMap<String, String>> {
    elements(svg, "class=\"mark\"")
}

fn elements(svg: &str, marker: &str) -> Vec<HashMap<String, String>> {
    svg.split('<')
        .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
        .filter(|tag| tag.contains(marker))
        .map(attrs)
        .collect()
}

fn attrs(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].rsplit(' ').next().unwrap_or("").to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').expect("closing quote");
        out.insert(key, browser::unescape(&after[..end]));
        rest = &after[end + 1..];
    }
    out
}

fn num(m: &HashMap<String, String>, key: &str) -> f64 {
    m.get(key)
        .unwrap_or_else(|| panic!("mark without {key}: {m:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} not a number: {m:?}"))
}

/// fullname → per-repeat series of `key` in a saved run.
fn series(run: &str, key: &str) -> HashMap<String, Vec<f64>> {
    let v: Value = serde_json::from_slice(&std::fs::read(suite().dir.join(run)).unwrap()).unwrap();
    v["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let s = b["extra_info"]["benchmem"][key]
                .as_array()
                .map(|a| a.iter().map(|x| x.as_f64().unwrap()).collect())
                .unwrap_or_default();
            (b["fullname"].as_str().unwrap().to_string(), s)
        })
        .collect()
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The page opens in a real browser without errors and draws something.
fn browse(path: &Path) {
    let work = tempfile::tempdir().unwrap();
    let loaded = browser::check_page(path, work.path());
    assert!(loaded.dom.contains("class=\"mark"), "no marks in the DOM");
    assert!(loaded.screenshot.exists());
}

/// Nothing in the page is fetched: no scripts, styles, images or fonts from elsewhere.
fn self_contained(html: &str) {
    for bad in ["src=", "href=", "url(", "@import", "https:"] {
        assert!(
            !html.contains(bad),
            "page refers to something outside: {bad}"
        );
    }
    let http: Vec<&str> = html.matches("http://").collect();
    assert_eq!(
        html.matches("http://www.w3.org/2000/svg").count(),
        http.len(),
        "only the SVG namespace may name a URL"
    );
}

#[test]
fn scaling_draws_each_benchmark_at_its_min_with_its_spread() {
    let peak = series("base.json", "peak_bytes");
    let (svg, _, _t) = draw(&["plot", "base.json"], "scaling.svg");
    assert!(svg.contains("Scaling: peak memory vs n (base)"), "title");
    let ms = marks(&svg);
    assert_eq!(ms.len(), 6);
    for m in &ms {
        let s = &peak[&m["data-id"]];
        assert_eq!(num(m, "data-value"), min(s), "{m:?}");
        assert_eq!(num(m, "data-min"), min(s));
        assert_eq!(num(m, "data-max"), max(s));
        let n = m["data-id"]
            .trim_end_matches(']')
            .rsplit('-')
            .next()
            .unwrap();
        assert_eq!(m["data-x"], n);
    }
    // One line per kind, a band per line (the repeats differ).
    assert_eq!(elements(&svg, "class=\"legend-item\"").len(), 2);
    assert_eq!(svg.matches("class=\"band\"").count(), 2);
    assert!(
        svg.contains("peak memory (min over repeats)"),
        "y-axis label"
    );
    assert!(
        svg.contains(">64 KiB<") || svg.contains(">32 KiB<"),
        "binary units on ticks"
    );

    // --stat max and --band none: the values move, the band goes.
    let (svg, _, _t) = draw(
        &["plot", "base.json", "--stat", "max", "--band", "none"],
        "s.svg",
    );
    for m in marks(&svg) {
        assert_eq!(num(&m, "data-value"), max(&peak[&m["data-id"]]));
    }
    assert_eq!(svg.matches("class=\"band\"").count(), 0);

    // --where keeps the matching benchmarks only.
    let (svg, _, _t) = draw(&["plot", "base.json", "--where", "kind=list"], "w.svg");
    let ms = marks(&svg);
    assert_eq!(ms.len(), 3);
    assert!(ms.iter().all(|m| m["data-id"].contains("list")));
}

#[test]
fn scaling_with_two_runs_colours_by_kind_and_dashes_the_later_run() {
    let (svg, _, _t) = draw(
        &[
            "plot",
            "base.json",
            "head.json",
            "--view",
            "scaling",
            "--color",
            "kind",
            "--linear",
        ],
        "s.svg",
    );
    assert_eq!(marks(&svg).len(), 12);
    assert!(svg.contains("stroke-dasharray=\"6 4\""));
    assert!(svg.contains("linear axes"));
}

#[test]
fn scatter_draws_base_against_ratio() {
    let base = series("base.json", "peak_bytes");
    let head = series("head.json", "peak_bytes");
    let (svg, _, _t) = draw(&["plot", "base.json", "head.json"], "scatter.svg");
    assert!(svg.contains("data-view=\"scatter\""));
    let ms = marks(&svg);
    assert_eq!(ms.len(), 6);
    for m in &ms {
        let (b, h) = (min(&base[&m["data-id"]]), min(&head[&m["data-id"]]));
        assert_eq!(num(m, "data-base"), b);
        assert_eq!(num(m, "data-value"), h);
        assert_eq!(num(m, "data-ratio"), h / b);
        let want = if h > b {
            "0"
        } else if h < b {
            "1"
        } else {
            "2"
        };
        assert_eq!(m["data-series"], want, "growth/shrinkage colour of {m:?}");
    }
    // Three runs: one panel per later run.
    let (svg, _, _t) = draw(
        &[
            "plot",
            "base.json",
            "head.json",
            "third.json",
            "--view",
            "scatter",
        ],
        "s3.svg",
    );
    assert!(svg.contains("head vs base") && svg.contains("third vs base"));
}

#[test]
fn compare_ranks_changes_largest_growth_first() {
    let base = series("base.json", "peak_bytes");
    let head = series("head.json", "peak_bytes");
    let (svg, _, _t) = draw(
        &["plot", "base.json", "head.json", "--view", "compare"],
        "c.svg",
    );
    assert!(
        svg.contains("Peak memory change (absolute): base → head"),
        "{}",
        &svg[..600]
    );
    let ms = marks(&svg);
    assert_eq!(ms.len(), 6);
    let mut last = f64::INFINITY;
    for m in &ms {
        let (b, h) = (min(&base[&m["data-id"]]), min(&head[&m["data-id"]]));
        assert_eq!(num(m, "data-base"), b);
        assert_eq!(num(m, "data-head"), h);
        assert_eq!(num(m, "data-value"), h - b);
        assert!(num(m, "data-value") <= last, "not ranked");
        last = num(m, "data-value");
    }
    assert_eq!(
        ms[0]["data-id"],
        "test_plot_suite.py::test_build[list-1000]"
    );
    assert_eq!(ms[0]["fill"], "#d62728", "growth is red");
    assert_eq!(ms[5]["fill"], "#2ca02c", "shrinkage is green");

    let (svg, _, _t) = draw(
        &[
            "plot",
            "base.json",
            "head.json",
            "--view",
            "compare",
            "--relative",
        ],
        "r.svg",
    );
    let m = &marks(&svg)[0];
    assert_eq!(
        num(m, "data-value"),
        (61_250.0 - 49_000.0) / 49_000.0 * 100.0
    );
    assert!(svg.contains("+25.0%"));
}

#[test]
fn pivot_compares_values_of_a_parameter_within_one_run() {
    let (svg, _, _t) = draw(&["plot", "base.json", "--pivot", "kind"], "p.svg");
    assert!(svg.contains("data-view=\"compare\""));
    assert!(svg.contains("list → tuple"));
    let ms = marks(&svg);
    assert_eq!(ms.len(), 3);
    for m in &ms {
        assert!(m["data-id"].ends_with("test_build[10]") || m["data-id"].ends_with("00]"));
    }
}

#[test]
fn sweep_labels_every_cell_and_says_what_is_missing() {
    let runs = ["base.json", "head.json", "third.json"];
    let peaks: Vec<_> = runs.iter().map(|r| series(r, "peak_bytes")).collect();
    let (svg, _, _t) = draw(&["plot", runs[0], runs[1], runs[2]], "sweep.svg");
    assert!(svg.contains("Peak memory fold change vs base (base)"));
    let ms = marks(&svg);
    assert_eq!(ms.len(), 17, "6 + 6 + 5 cells with a value");
    for m in &ms {
        let k = ["base", "head", "third"]
            .iter()
            .position(|r| *r == m["data-run"])
            .unwrap();
        let v = min(&peaks[k][&m["data-id"]]);
        let b = min(&peaks[0][&m["data-id"]]);
        assert_eq!(num(m, "data-value"), v);
        assert_eq!(num(m, "data-base"), b);
        assert_eq!(num(m, "data-fold"), v / b);
    }
    assert!(svg.contains(">1.25×<"), "a labelled cell");
    assert!(svg.contains(">0.8×<"));
    assert!(svg.contains(">0×<"), "a zero value is a fold of 0");
    assert_eq!(elements(&svg, "class=\"missing\"").len(), 1);
    assert!(svg.contains(">missing<"));
    assert!(!svg.contains("NaN") && !svg.contains("inf"));

    // Retained: bases of 0 say so.
    let (svg, _, _t) = draw(
        &["plot", runs[0], runs[1], runs[2], "--columns", "retained"],
        "r.svg",
    );
    assert!(svg.contains(">from 0<"));
    assert!(svg.contains(">1×<"));
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn html_pages_open_offline_in_a_browser() {
    let cases: [&[&str]; 4] = [
        &["plot", "base.json"],
        &["plot", "base.json", "head.json"],
        &["plot", "base.json", "head.json", "--view", "compare"],
        &["plot", "base.json", "head.json", "third.json"],
    ];
    for args in cases {
        let (html, path, _t) = draw(args, "page.html");
        assert!(html.starts_with("<!DOCTYPE html>"));
        self_contained(&html);
        browse(&path);
    }
}

#[test]
fn default_output_path_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let base = suite().dir.join("base.json").display().to_string();
    let head = suite().dir.join("head.json").display().to_string();
    let r = benchmem_in(dir.path(), &["plot", &base, &head], &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        dir.path()
            .join(".benchmarks/plots/scatter-peak.html")
            .is_file()
    );
    assert_eq!(
        r.stderr.trim(),
        "scatter (peak, min): 6 benchmarks → .benchmarks/plots/scatter-peak.html"
    );
    let r = plot(&["plot", "base.json", "-o", "-", "--format", "svg"]);
    assert_eq!(r.status, 0);
    assert!(
        r.stdout
            .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    );
    let r = plot(&["plot", "base.json", "-o", "-"]);
    assert!(r.stdout.starts_with("<!DOCTYPE html>"));
}

#[test]
fn bad_input_is_one_line_exit_2_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.html");
    let o = out.display().to_string();
    let cases: [(&[&str], &str); 9] = [
        (
            &["plot", "base.json", "--where", "size=3", "-o", &o],
            "--where size=3: 'size' is not a parameter",
        ),
        (
            &["plot", "base.json", "--where", "kind=set", "-o", &o],
            "no benchmark matches",
        ),
        (
            &[
                "plot",
                "base.json",
                "head.json",
                "--pivot",
                "kind",
                "-o",
                &o,
            ],
            "--pivot kind compares",
        ),
        (
            &["plot", "base.json", "--x", "kind", "-o", &o],
            "--x kind: not a numeric parameter",
        ),
        (&["plot", "base.json", "-o", "x.png"], "PNG is not drawn"),
        (
            &["plot", "base.json", "-o", "x.pdf"],
            "unknown suffix '.pdf'",
        ),
        (&["plot", "nope.json", "-o", &o], "nope.json: no such file"),
        (
            &["plot", "base.json", "--view", "scatter", "-o", &o],
            "needs two runs",
        ),
        (
            &["plot", "base.json", "--view", "timeline", "-o", &o],
            "no timeline in this run",
        ),
    ];
    for (args, want) in cases {
        let r = plot(args);
        assert_eq!(r.status, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.err_lines().len(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(!out.exists(), "{args:?} wrote a file");
    }
    let r = plot(&["plot", "base.json", "--where", "novalue"]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("not KEY=VALUE"));
}

#[test]
fn hundred_benchmarks_stay_small() {
    let dir = tempfile::tempdir().unwrap();
    let mk = |scale: u64| {
        let benchmarks: Vec<Value> = (0..100u64)
            .map(|i| {
                json!({"name": format!("test_x[{i}]"), "fullname": format!("m.py::test_x[{i}]"),
                       "params": {"n": i + 1}, "extra_info": {"benchmem": {
                       "peak_bytes": [(i + 1) * 1000 * scale, (i + 1) * 1100 * scale]}}})
            })
            .collect();
        json!({"benchmarks": benchmarks})
    };
    std::fs::write(dir.path().join("a.json"), mk(1).to_string()).unwrap();
    std::fs::write(dir.path().join("b.json"), mk(2).to_string()).unwrap();
    std::fs::write(dir.path().join("c.json"), mk(3).to_string()).unwrap();
    for (args, out) in [
        (vec!["plot", "a.json"], "1.html"),
        (vec!["plot", "a.json", "b.json"], "2.html"),
        (
            vec!["plot", "a.json", "b.json", "--view", "compare"],
            "3.html",
        ),
        (vec!["plot", "a.json", "b.json", "c.json"], "4.html"),
    ] {
        let mut a = args.clone();
        a.extend(["-o", out]);
        let r = benchmem_in(dir.path(), &a, &[]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let size = std::fs::metadata(dir.path().join(out)).unwrap().len();
        assert!(size < 1024 * 1024, "{out}: {size} bytes");
    }
}

#[test]
fn hostile_names_stay_text() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "test_x[<b onmouseover=\"alert(1)\">&amp;'</script><svg>]";
    let mk = |peak: u64| {
        json!({"benchmarks": [
            {"name": evil, "fullname": format!("m.py::{evil}"), "params": {"n": 1, "k": "<i>"},
             "extra_info": {"benchmem": {"peak_bytes": [peak]}}},
            {"name": "test_x[2]", "fullname": "m.py::test_x[2]", "params": {"n": 2, "k": "<i>"},
             "extra_info": {"benchmem": {"peak_bytes": [peak * 2]}}}]})
    };
    std::fs::write(dir.path().join("<a>.json"), mk(1000).to_string()).unwrap();
    std::fs::write(dir.path().join("b.json"), mk(3000).to_string()).unwrap();
    for (args, out) in [
        (vec!["plot", "<a>.json"], "1.html"),
        (vec!["plot", "<a>.json", "b.json"], "2.html"),
        (
            vec!["plot", "<a>.json", "b.json", "--view", "compare"],
            "3.html",
        ),
        (vec!["plot", "<a>.json", "b.json", "b.json"], "4.html"),
    ] {
        let mut a = args.clone();
        a.extend(["-o", out]);
        let r = benchmem_in(dir.path(), &a, &[]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let path = dir.path().join(out);
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(
            !html.contains("<b ") && !html.contains("</script><svg>"),
            "{out}"
        );
        let ids: Vec<String> = marks(&html)
            .into_iter()
            .map(|m| m["data-id"].clone())
            .collect();
        assert!(ids.contains(&format!("m.py::{evil}")), "{out}: {ids:?}");
        browse(&path);
    }
}

#[test]
fn facets_split_panels_and_keep_every_value() {
    let peak = series("base.json", "peak_bytes");
    let (svg, _, _t) = draw(
        &["plot", "base.json", "--facet", "kind", "--free-axes", "y"],
        "f.svg",
    );
    assert!(svg.contains(">kind=list<") && svg.contains(">kind=tuple<"));
    let ms = marks(&svg);
    assert_eq!(ms.len(), 6);
    for m in &ms {
        assert_eq!(num(m, "data-value"), min(&peak[&m["data-id"]]));
    }
    let (svg, _, _t) = draw(
        &[
            "plot",
            "base.json",
            "head.json",
            "--view",
            "compare",
            "--facet",
            "kind",
        ],
        "c.svg",
    );
    assert!(svg.contains(">kind=list<") && svg.contains(">kind=tuple<"));
    assert_eq!(marks(&svg).len(), 6);
}
