//! `benchmem compare` on files written by the real pytest-benchmark (see common::fixtures).

mod common;

use common::{benchmem, benchmem_in, fixtures, path};

const MEM: [&str; 2] = ["--columns", "peak,allocated,allocs"];

/// `benchmem compare` of fixture files (by name), then `extra`.
fn compare_files(files: &[&str], extra: &[&str]) -> common::Run {
    let paths: Vec<String> = files.iter().map(|f| path(f)).collect();
    let mut args = vec!["compare"];
    args.extend(paths.iter().map(String::as_str));
    args.extend_from_slice(extra);
    benchmem(&args)
}

/// `benchmem compare base.json head.json`, then `extra`.
fn compare(extra: &[&str]) -> common::Run {
    compare_files(&["base.json", "head.json"], extra)
}

#[test]
fn side_by_side_table_with_multipliers() {
    let r = compare(&MEM);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.lines(),
        vec![
            "╭───────────────────┬──────┬──────────────────┬──────────────────┬──────────────╮",
            // KiB and MiB in one column: each value with its own unit, three figures.
            "│ benchmark         │ run  │             peak │        allocated │       allocs │",
            "├───────────────────┼──────┼──────────────────┼──────────────────┼──────────────┤",
            "│ test_dicts[10]    │ base │  2.34 KiB (1.00) │  2.34 KiB (1.00) │    11 (1.00) │",
            "│                   │ head │  2.34 KiB (1.00) │  2.34 KiB (1.00) │    11 (1.00) │",
            "│ test_dicts[1000]  │ base │  97.7 KiB (1.00) │   293 KiB (1.00) │ 2,001 (1.00) │",
            "│                   │ head │   105 KiB (1.08) │   293 KiB (1.00) │ 2,002 (1.00) │",
            "│ test_tuples[10]   │ base │  1.38 KiB (1.00) │  1.38 KiB (1.00) │    11 (1.00) │",
            "│                   │ head │  1.38 KiB (1.00) │  1.38 KiB (1.00) │    11 (1.00) │",
            "│ test_tuples[1000] │ base │  83.1 KiB (1.00) │   117 KiB (1.00) │ 1,001 (1.00) │",
            "│                   │ head │ 2.08 MiB (25.63) │ 2.19 MiB (19.17) │ 1,001 (1.00) │",
            "╰───────────────────┴──────┴──────────────────┴──────────────────┴──────────────╯",
            "values: min over each run's repeats; (N.NN): multiple of the best run; memory in binary units",
        ]
    );
    assert_eq!(r.stderr, "");
}

#[test]
fn default_columns_include_time_from_pytest_benchmark_stats() {
    let r = compare(&[]);
    assert_eq!(r.status, 0);
    let header = r.lines()[1];
    let cells: Vec<&str> = header.split('│').map(str::trim).collect();
    // The time unit follows the measured times (us, or ms on a loaded machine).
    assert!(cells[3].starts_with("time ("), "{cells:?}");
    // Then the change of time from the base, tested.
    assert_eq!(cells[4], "time Δ");
    assert_eq!(&cells[5..8], &["peak", "allocated", "allocs"]);
}

#[test]
fn retained_is_opt_in_and_time_only_runs_show_dashes() {
    let r = compare(&["--columns", "retained"]);
    assert_eq!(r.lines()[1], "│ benchmark         │ run  │ retained (B) │");
    assert_eq!(r.lines()[3], "│ test_dicts[10]    │ base │     0 (1.00) │");
    let r = compare_files(
        &["timeonly.json", "base.json"],
        &["--columns", "peak", "-l", "before", "-l", "after"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.lines()[3], "│ test_dicts[10]    │ before │           — │");
    assert_eq!(r.lines()[4], "│                   │ after  │ 2.34 (1.00) │");
}

/// A copy of the fixture `name` under `copy` (in a directory of its own when `copy` names
/// one): a second run with the same numbers.
fn copy_of(name: &str, copy: &str) -> String {
    let to = fixtures().dir.path().join(copy);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(path(name), &to).unwrap();
    to.display().to_string()
}

#[test]
fn metric_absent_from_every_run_is_dropped() {
    let copy = copy_of("timeonly.json", "again/timeonly.json");
    let r = benchmem(&[
        "compare",
        &path("timeonly.json"),
        &copy,
        "--columns",
        "time,peak,allocs",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let cells: Vec<&str> = r.lines()[1].split('│').map(str::trim).collect();
    assert_eq!(&cells[..3], ["", "benchmark", "run"], "{cells:?}");
    assert!(cells[3].starts_with("time ("), "{cells:?}");
    assert_eq!(cells[4], "time Δ", "{cells:?}");
    assert_eq!(cells.len(), 6, "{cells:?}");
    // Two files of one name: each labelled with the directory that tells them apart.
    let dir = fixtures()
        .dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        r.lines()[3].contains(&format!("│ {dir}/timeonly │")),
        "{}",
        r.lines()[3]
    );
    assert!(
        r.lines()[4].contains(&format!("│ again/timeonly {} │", " ".repeat(dir.len() - 6))),
        "{}",
        r.lines()[4]
    );
}

#[test]
fn the_same_file_twice_is_refused() {
    let b = path("base.json");
    assert_eq!(
        bad(&["compare", &b, &b]),
        format!(
            "benchmem: {b} is given twice: compare distinct runs (copy the file to compare it with itself)\n"
        )
    );
    let dir = fixtures().dir.path();
    let r = benchmem_in(
        dir,
        &["compare", "base.json", "./base.json", "head.json"],
        &[],
    );
    assert_eq!((r.status, r.stdout.as_str()), (2, ""));
    assert_eq!(
        r.stderr,
        "benchmem: ./base.json is given twice (as base.json and ./base.json): compare distinct runs (copy the file to compare it with itself)\n"
    );
}

#[test]
fn stat_all_and_single_stats() {
    let r = compare(&["--columns", "peak", "--stat", "all"]);
    assert_eq!(
        r.lines()[1],
        "│ benchmark         │ run  │         peak·min │         peak·max │        peak·mean │      peak·median │ peak·stddev (KiB) │"
    );
    assert_eq!(
        r.lines()[5],
        "│ test_dicts[1000]  │ base │  97.7 KiB (1.00) │   102 KiB (1.00) │  99.6 KiB (1.00) │  99.6 KiB (1.00) │       1.95 (1.00) │"
    );
    let r = compare(&["--columns", "peak", "--stat", "max"]);
    assert_eq!(
        r.lines()[1],
        "│ benchmark         │ run  │         peak·max │"
    );
    assert_eq!(
        r.lines()[6],
        "│                   │ head │   109 KiB (1.08) │"
    );
    assert_eq!(
        r.lines().last().copied(),
        Some(
            "values: max over each run's repeats; (N.NN): multiple of the best run; memory in binary units"
        )
    );
}

fn first_column(r: &common::Run) -> Vec<String> {
    r.lines()[3..]
        .iter()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.split('│').nth(1).unwrap_or("").trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn sort_orders() {
    let by_name = compare(&["--columns", "peak"]);
    assert_eq!(
        first_column(&by_name),
        vec![
            "test_dicts[10]",
            "test_dicts[1000]",
            "test_tuples[10]",
            "test_tuples[1000]"
        ]
    );
    let by_value = compare(&["--columns", "peak", "--sort", "value"]);
    assert_eq!(
        first_column(&by_value),
        vec![
            "test_tuples[1000]",
            "test_dicts[1000]",
            "test_dicts[10]",
            "test_tuples[10]"
        ]
    );
    // allocs first: dicts[1000] grew by one call, everything else is flat.
    let by_change = compare(&["--columns", "allocs,peak", "--sort", "change"]);
    assert_eq!(
        first_column(&by_change),
        vec![
            "test_dicts[1000]",
            "test_dicts[10]",
            "test_tuples[10]",
            "test_tuples[1000]"
        ]
    );
}

#[test]
fn group_by_group_and_param() {
    let r = compare(&["--columns", "peak", "--group-by", "group"]);
    assert_eq!(r.status, 0);
    let l = r.lines();
    assert_eq!(l[0], "group 'dicts': 2 benchmarks");
    assert_eq!(l[7], "│                  │ head │  105 (45.00) │");
    assert_eq!(l[10], "group 'tuples': 2 benchmarks");
    assert_eq!(l[17], "│                   │ head │ 2.08 MiB (>1000.0) │");
    let r = compare(&[
        "--columns",
        "allocs",
        "--group-by",
        "param:n",
        "--format",
        "md",
    ]);
    assert_eq!(
        r.stdout,
        "#### n=10: 2 benchmarks\n\n\
         | benchmark | run | allocs |\n|:---|:---|---:|\n\
         | test\\_dicts\\[10\\] | base | 11 (1.00) |\n| test\\_dicts\\[10\\] | head | 11 (1.00) |\n\
         | test\\_tuples\\[10\\] | base | 11 (1.00) |\n| test\\_tuples\\[10\\] | head | 11 (1.00) |\n\n\
         #### n=1000: 2 benchmarks\n\n\
         | benchmark | run | allocs |\n|:---|:---|---:|\n\
         | test\\_dicts\\[1000\\] | base | 2,001 (2.00) |\n| test\\_dicts\\[1000\\] | head | 2,002 (2.00) |\n\
         | test\\_tuples\\[1000\\] | base | 1,001 (1.00) |\n| test\\_tuples\\[1000\\] | head | 1,001 (1.00) |\n\n\n\
         values: min over each run's repeats; (N.NN): multiple of the best run; memory in binary units  \n"
    );
    let r = compare(&["--columns", "allocs", "--group-by", "name"]);
    assert_eq!(r.lines()[0], "name 'test_dicts[10]': 1 benchmark");
    let r = compare(&["--columns", "allocs", "--group-by", "group,param:n"]);
    assert_eq!(r.lines()[0], "group 'dicts', n=10: 1 benchmark");
}

#[test]
fn labels() {
    let r = compare(&["--columns", "peak", "-l", "main", "--label", "pr-42"]);
    assert_eq!(
        r.lines()[3],
        "│ test_dicts[10]    │ main  │  2.34 KiB (1.00) │"
    );
    assert_eq!(
        r.lines()[4],
        "│                   │ pr-42 │  2.34 KiB (1.00) │"
    );
    let r = compare(&["-l", "main"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.stderr,
        "benchmem: --label given 1 time(s) for 2 file(s): give one label per file, in order\n"
    );
}

#[test]
fn diff_view_markdown_three_runs() {
    let r = compare_files(
        &["base.json", "head.json", "noisy.json"],
        &["--diff", "--columns", "peak,allocs", "--format", "md"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "| benchmark | metric | base | head | Δ | noisy | Δ |\n\
         |:---|:---|---:|---:|---:|---:|---:|\n\
         | test\\_dicts\\[10\\] | peak | 2.34 KiB | 2.34 KiB | 0.0% | 2.34 KiB | 0.0% |\n\
         |  | allocs | 11 | 11 | 0.0% | 11 | 0.0% |\n\
         | test\\_dicts\\[1000\\] | peak | 97.7 KiB | 105 KiB | +8.0% | 101 KiB | +3.0% |\n\
         |  | allocs | 2,001 | 2,002 | +0.05% | 2,002 | +0.05% |\n\
         | test\\_tuples\\[10\\] | peak | 1.38 KiB | 1.38 KiB | 0.0% | 1.38 KiB | 0.0% |\n\
         |  | allocs | 11 | 11 | 0.0% | 11 | 0.0% |\n\
         | test\\_tuples\\[1000\\] | peak | 83.1 KiB | 2.08 MiB | +2463.1% | 83.1 KiB | 0.0% |\n\
         |  | allocs | 1,001 | 1,001 | 0.0% | 1,001 | 0.0% |\n\
         \n\
         Δ: signed change from the first run (base) to each later run; values: min over each run's repeats  \n"
    );
}

#[test]
fn diff_colour_only_on_request_of_a_terminal() {
    let (b, h) = (path("base.json"), path("head.json"));
    let dir = fixtures().dir.path();
    let args = [
        "compare",
        b.as_str(),
        h.as_str(),
        "--diff",
        "--columns",
        "peak",
    ];
    // Piped (as in every test): no colour.
    let plain = benchmem_in(dir, &args, &[]);
    assert!(!plain.stdout.contains('\x1b'));
    assert!(
        plain
            .stdout
            .contains("│ test_tuples[1000] │ peak   │ 83.1 KiB │ 2.08 MiB │ +2463.1% │")
    );
    // CLICOLOR_FORCE stands in for a terminal: growth red.
    let forced = benchmem_in(dir, &args, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.stdout.contains("\x1b[31m+2463.1%\x1b[0m"),
        "{}",
        forced.stdout
    );
    // The colour codes take no width: the table stays aligned.
    let stripped = forced
        .stdout
        .replace("\x1b[31m", "")
        .replace("\x1b[0m", "")
        .replace("\x1b[2m", "");
    assert_eq!(stripped, plain.stdout);
    // NO_COLOR wins.
    let no = benchmem_in(dir, &args, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!no.stdout.contains('\x1b'));
}

#[test]
fn csv_has_raw_numbers() {
    let r = compare(&["--columns", "peak,allocated,allocs", "--format", "csv"]);
    assert_eq!(r.status, 0);
    assert_eq!(
        r.stdout,
        "id,run,peak:min,allocated:min,allocations:min\n\
         test_lists.py::test_dicts[10],base,2400,2400,11\n\
         test_lists.py::test_dicts[10],head,2400,2400,11\n\
         test_lists.py::test_dicts[1000],base,100000,300000,2001\n\
         test_lists.py::test_dicts[1000],head,108000,300000,2002\n\
         test_lists.py::test_tuples[10],base,1416,1416,11\n\
         test_lists.py::test_tuples[10],head,1416,1416,11\n\
         test_lists.py::test_tuples[1000],base,85094,120000,1001\n\
         test_lists.py::test_tuples[1000],head,2181038,2300000,1001\n"
    );
    let r = compare(&[
        "--columns",
        "peak",
        "--diff",
        "--format",
        "csv",
        "--stat",
        "max",
    ]);
    assert_eq!(
        r.stdout,
        "id,metric,stat,base,head,head:change_pct\n\
         test_lists.py::test_dicts[10],peak,max,2400,2400,0\n\
         test_lists.py::test_dicts[1000],peak,max,104000,112000,7.6923076923076925\n\
         test_lists.py::test_tuples[10],peak,max,1416,1416,0\n\
         test_lists.py::test_tuples[1000],peak,max,85094,2181038,2463.0925799703855\n"
    );
    let r = compare(&[
        "--columns",
        "peak",
        "--group-by",
        "group",
        "--format",
        "csv",
    ]);
    assert_eq!(r.lines()[0], "section,id,run,peak:min");
    assert_eq!(
        r.lines()[1],
        "group 'dicts',test_lists.py::test_dicts[10],base,2400"
    );
}

#[test]
fn fail_on_percent_lists_every_breach() {
    let r = compare(&[
        "--columns",
        "peak",
        "--fail-on",
        "peak:10%",
        "--fail-on",
        "allocations:0%",
    ]);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.err_lines(),
        vec![
            "2 regressions over threshold (head vs base):",
            "allocations  test_dicts[1000]: 2,001 → 2,002 (+0.05% > 0%)",
            "peak         test_tuples[1000]: 83.1 KiB → 2.08 MiB (+2463.1% > 10%)",
        ]
    );
}

#[test]
fn fail_on_absolute_and_passing_gates() {
    let r = compare(&["--columns", "peak", "--fail-on", "peak:1MiB"]);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.err_lines()[1],
        "peak  test_tuples[1000]: 83.1 KiB → 2.08 MiB (+2.00 MiB, +2463.1%; allowed +1.00 MiB)"
    );
    let r = compare(&[
        "--columns",
        "peak",
        "--fail-on",
        "peak:5MiB",
        "--fail-on",
        "allocations:100",
    ]);
    assert_eq!(r.status, 0);
    assert_eq!(r.stderr, "gates passed: 8 checks of head vs base\n");
    let r = compare(&["--columns", "peak", "--fail-on", "allocations:0"]);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.err_lines()[1],
        "allocations  test_dicts[1000]: 2,001 → 2,002 (+1, +0.05%; allowed +0)"
    );
    // pytest-benchmark took 3 rounds: too few for a time gate, unless asked.
    let r = compare(&["--columns", "peak", "--fail-on", "time:100s"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("benchmem: --fail-on time:100s: "),
        "{}",
        r.stderr
    );
    let r = compare(&[
        "--columns",
        "peak",
        "--fail-on",
        "time:100s",
        "--allow-few-samples",
    ]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, "gates passed: 4 checks of head vs base\n")
    );
}

#[test]
fn max_ceiling() {
    let r = compare(&["--columns", "peak", "--max", "peak:1MiB"]);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.err_lines(),
        vec![
            "1 regression over threshold (head vs base):",
            "peak  test_tuples[1000]: 2.08 MiB (limit 1.00 MiB)",
        ]
    );
    let r = compare(&[
        "--columns",
        "peak",
        "--max",
        "peak:100MiB",
        "--max",
        "allocs:5000",
    ]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, "gates passed: 8 checks of head vs base\n")
    );
    // A ceiling needs no baseline: one file is enough.
    let r = compare_files(&["head.json"], &["--columns", "peak", "--max", "peak:2MiB"]);
    assert_eq!(r.status, 1);
    assert_eq!(r.err_lines()[0], "1 regression over threshold (head):");
}

#[test]
fn strict_gates_ignore_overlapping_noise() {
    let noisy = |gate: &str| {
        compare_files(
            &["base.json", "noisy.json"],
            &["--columns", "peak", "--fail-on", gate],
        )
    };
    let plain = noisy("peak:2%");
    assert_eq!(plain.status, 1);
    assert_eq!(
        plain.err_lines()[1],
        "peak  test_dicts[1000]: 97.7 KiB → 101 KiB (+3.0% > 2%)"
    );
    let strict = noisy("peak:2%:strict");
    assert_eq!(
        (strict.status, strict.stderr.as_str()),
        (0, "gates passed: 4 checks of noisy vs base\n")
    );
    // head's repeats all lie above base's: +3.8% from base max to head min.
    let strict3 = compare(&["--columns", "peak", "--fail-on", "peak:3%:strict"]);
    assert_eq!(strict3.status, 1);
    assert_eq!(
        strict3.err_lines(),
        vec![
            "2 regressions over threshold (head vs base):",
            "peak  test_dicts[1000]: 102 KiB → 105 KiB (+3.8% > 3%) [strict: every head repeat above every base repeat; base max → head min]",
            "peak  test_tuples[1000]: 83.1 KiB → 2.08 MiB (+2463.1% > 3%) [strict: every head repeat above every base repeat; base max → head min]",
        ]
    );
    let strict5 = compare(&["--columns", "peak", "--fail-on", "peak:5%:strict"]);
    assert_eq!(strict5.status, 1);
    assert_eq!(strict5.err_lines().len(), 2);
}

#[test]
fn added_and_removed_are_reported_not_failed() {
    let changed = |gate: &str| {
        compare_files(
            &["base.json", "changed.json"],
            &["--columns", "peak", "--fail-on", gate],
        )
    };
    let r = changed("peak:1000%");
    assert_eq!(r.status, 1, "tuples[1000] still regresses: {}", r.stderr);
    let l = r.lines();
    assert_eq!(l[7], "│ test_sets[10]     │ changed │         2.93 KiB │");
    assert_eq!(l[8], "│ test_tuples[10]   │ base    │         1.38 KiB │");
    assert_eq!(
        &l[l.len() - 2..],
        &[
            "added (not in base): test_sets[10]",
            "removed (not in changed): test_tuples[10]"
        ]
    );
    let ok = changed("peak:5000%");
    assert_eq!(
        (ok.status, ok.stderr.as_str()),
        (0, "gates passed: 3 checks of changed vs base\n")
    );
}

fn bad(args: &[&str]) -> String {
    let r = benchmem(args);
    assert_eq!(r.status, 2, "args {args:?}: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    r.stderr
}

#[test]
fn bad_input_is_one_line_and_status_2() {
    let dir = fixtures().dir.path();
    let b = path("base.json");
    let missing = dir.join("missing.json").display().to_string();
    assert_eq!(
        bad(&["compare", &b, &missing]),
        format!("benchmem: {missing}: no such file\n")
    );

    let not_json = dir.join("notjson.json");
    std::fs::write(&not_json, "this is not json").unwrap();
    let nj = not_json.display().to_string();
    assert_eq!(
        bad(&["compare", &b, &nj]),
        format!("benchmem: {nj}: not a readable JSON file (expected ident at line 1 column 2)\n")
    );

    let not_run = dir.join("notrun.json");
    std::fs::write(&not_run, r#"{"results": []}"#).unwrap();
    let nr = not_run.display().to_string();
    assert_eq!(
        bad(&["compare", &b, &nr]),
        format!("benchmem: {nr}: not a pytest-benchmark run (no 'benchmarks' key)\n")
    );

    let o = path("other.json");
    assert_eq!(
        bad(&["compare", &b, &o]),
        format!(
            "benchmem: no benchmark in common: {b} and {o} share no benchmark id (pytest-benchmark fullname)\n\
             \x20 {b}: test_lists.py::test_tuples[10], test_lists.py::test_tuples[1000], \
             test_lists.py::test_dicts[10], test_lists.py::test_dicts[1000]\n\
             \x20 {o}: test_lists.py::test_sets[10]\n\
             \x20 ids are pytest node ids (module::test[param]): compare runs of the same suite, \
             or match short names with --group-by name\n"
        )
    );
    assert_eq!(
        bad(&["compare", &b, "--fail-on", "peak:10%"]),
        "benchmem: --fail-on peak:10% needs a base and a head run (two files); for one run use --max\n"
    );
    assert_eq!(
        bad(&["compare", &b, "--diff"]),
        "benchmem: --diff needs two runs or more (the first is the base)\n"
    );
    let t = path("timeonly.json");
    let t2 = copy_of("timeonly.json", "timeonly2.json");
    assert_eq!(
        bad(&["compare", &t, &t2, "--columns", "peak"]),
        "benchmem: none of the runs measured peak (memory comes from `benchmem run` or the pytest plugin's extra_info.benchmem)\n"
    );
    assert_eq!(
        bad(&["compare", &b, &t, "--fail-on", "peak:10%"]),
        format!("benchmem: --fail-on peak:10%: {t} has no peak measurements\n")
    );
}

#[test]
fn bad_arguments_name_the_argument() {
    let b = path("base.json");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--columns", "vms"],
            "error: invalid value 'vms' for '--columns <LIST>': unknown metric 'vms': choose from time, peak, allocated, allocations (or allocs), retained, rss, or extra:NAME for a numeric extra_info value",
        ),
        (
            &["--stat", "p99"],
            "error: invalid value 'p99' for '--stat [<STATS>]': unknown stat 'p99': choose from min, max, mean, median, stddev, iqr (time only), all",
        ),
        (
            &["--fail-on", "peak:lots"],
            "error: invalid value 'peak:lots' for '--fail-on <METRIC:THRESHOLD[:strict]>': peak: 'lots' is not a size such as 4096, 100KiB, 5MiB or 1.5GiB",
        ),
        (
            &["--max", "peak:10%"],
            "error: invalid value 'peak:10%' for '--max <METRIC:LIMIT>': 'peak:10%': a ceiling is an amount, not a percentage (use --fail-on for growth)",
        ),
        (
            &["--sort", "size"],
            "error: invalid value 'size' for '--sort <SORT>'",
        ),
        (
            &["--group-by", "fullfunc"],
            "error: invalid value 'fullfunc' for '--group-by <KEYS>': unknown grouping 'fullfunc': choose from fullname, name, func, group, module, class, param:NAME",
        ),
    ];
    let h = path("head.json");
    let first = |args: &[&str]| bad(args).lines().next().unwrap_or("").to_string();
    for (extra, want) in cases {
        let mut args = vec!["compare", b.as_str(), h.as_str()];
        args.extend_from_slice(extra);
        assert_eq!(first(&args), want, "args {extra:?}");
    }
    assert_eq!(
        first(&["compare"]),
        "error: the following required arguments were not provided:"
    );
}

#[test]
fn hostile_files_never_panic() {
    let dir = fixtures().dir.path();
    let b = path("base.json");
    let cases: [(&str, String, &str); 6] = [
        (
            "negative.json",
            r#"{"benchmarks":[{"name":"t","fullname":"m::t","extra_info":{"benchmem":{"peak_bytes":[-1]}}}]}"#.into(),
            "benchmark 'm::t': extra_info.benchmem.peak_bytes[0] is -1, not a whole number ≥ 0",
        ),
        (
            "nan.json",
            r#"{"benchmarks":[{"name":"t","stats":{"min":NaN}}]}"#.into(),
            "not a readable JSON file (expected value at line 1 column 43)",
        ),
        (
            "huge.json",
            r#"{"benchmarks":[{"name":"t","extra_info":{"benchmem":{"peak_bytes":[1e999]}}}]}"#.into(),
            "not a readable JSON file (number out of range at line 1 column 72)",
        ),
        (
            "types.json",
            r#"{"benchmarks":[{"name":"t","extra_info":{"benchmem":{"allocations":"many"}}}]}"#.into(),
            "benchmark 't': extra_info.benchmem.allocations is a string, not a list of per-repeat values",
        ),
        ("empty.json", r#"{"benchmarks":[]}"#.into(), "no benchmarks in this run"),
        ("deep.json", "[".repeat(100_000), "not a readable JSON file (recursion limit exceeded at line 1 column 128)"),
    ];
    for (name, text, problem) in cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let ps = p.display().to_string();
        assert_eq!(
            bad(&["compare", &b, &ps]),
            format!("benchmem: {ps}: {problem}\n")
        );
    }
}

#[test]
fn hundred_megabyte_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.json");
    let mut text = String::with_capacity(100 * 1024 * 1024 + 32);
    text.push_str("{\"blob\": \"");
    text.push_str(&"x".repeat(100 * 1024 * 1024));
    text.push_str("\"}");
    std::fs::write(&p, text).unwrap();
    let ps = p.display().to_string();
    let b = path("base.json");
    assert_eq!(
        bad(&["compare", &b, &ps]),
        format!("benchmem: {ps}: not a pytest-benchmark run (no 'benchmarks' key)\n")
    );
}

#[test]
fn a_bare_number_is_refused_as_ambiguous() {
    let b = path("base.json");
    let r = benchmem(&["compare", &b, &b, "--fail-on", "peak:10"]);
    assert_eq!(r.status, 2);
    assert_eq!(
        r.err_lines()[0],
        "error: invalid value 'peak:10' for '--fail-on <METRIC:THRESHOLD[:strict]>': 'peak:10': '10' is ambiguous: write 10%, 10B or 10KiB"
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn markdown_carries_the_failures_as_a_list() {
    let r = compare(&[
        "--columns",
        "peak",
        "--format",
        "md",
        "--fail-on",
        "peak:10%",
        "--fail-on",
        "allocations:0%",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.stdout.ends_with(
            "\n**2 regressions over threshold (head vs base):**\n\n\
             - **allocations** test\\_dicts\\[1000\\]: 2,001 → 2,002 (+0.05% \\> 0%)\n\
             - **peak** test\\_tuples\\[1000\\]: 83.1 KiB → 2.08 MiB (+2463.1% \\> 10%)\n"
        ),
        "{}",
        r.stdout
    );
    // The log still gets its lines.
    assert_eq!(
        r.err_lines()[0],
        "2 regressions over threshold (head vs base):"
    );
    let ok = compare(&[
        "--columns",
        "peak",
        "--format",
        "md",
        "--fail-on",
        "peak:5000%",
    ]);
    assert_eq!(ok.status, 0);
    assert!(
        ok.stdout
            .ends_with("\n**gates passed: 4 checks of head vs base**\n"),
        "{}",
        ok.stdout
    );
}

#[test]
fn github_actions_get_one_error_annotation_per_failed_gate() {
    let (b, h) = (path("base.json"), path("head.json"));
    let dir = fixtures().dir.path();
    let args = [
        "compare",
        b.as_str(),
        h.as_str(),
        "--columns",
        "peak",
        "--fail-on",
        "peak:10%",
        "--fail-on",
        "allocations:0%",
    ];
    let r = benchmem_in(dir, &args, &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(r.status, 1);
    let annotations: Vec<&str> = r
        .err_lines()
        .into_iter()
        .filter(|l| l.starts_with("::"))
        .collect();
    assert_eq!(
        annotations,
        [
            "::error title=benchmem gate::allocations test_dicts[1000]: 2,001 → 2,002 (+0.05%25 > 0%25) (head vs base)",
            "::error title=benchmem gate::peak test_tuples[1000]: 83.1 KiB → 2.08 MiB (+2463.1%25 > 10%25) (head vs base)",
        ]
    );
    // Anywhere else, none.
    let plain = benchmem_in(dir, &args, &[("GITHUB_ACTIONS", "false")]);
    assert!(!plain.stderr.contains("::error"), "{}", plain.stderr);
}
