//! What `where` and `flamegraph` read from a saved run's stack data: which benchmarks,
//! which sample (the headline one by default, so the figures agree with the table), and
//! each site's figure of one metric.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use super::figure as figure_of;
use super::{BenchStacks, SampleStacks, Sidecar, figure};
use crate::blob::{Record, Run, parse_run, read_json};
use crate::error::{Error, Result};
use crate::metrics::Metric;

/// A saved run with its stack data.
pub(crate) struct Loaded {
    /// The run's file.
    pub path: PathBuf,
    /// The run.
    pub run: Run,
    /// Its stack data.
    pub side: Sidecar,
}

/// Reads the run at `path` and its sidecar; one line and exit 2 when either is missing or
/// cannot be read.
pub(crate) fn load(path: &Path) -> Result<Loaded> {
    let value = read_json(path)?;
    let run = parse_run(&value, path)?;
    let datetime = value.get("datetime").and_then(|d| d.as_str());
    let side = super::read(path, datetime).map_err(Error::Input)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        run,
        side,
    })
}

/// One benchmark's sample split by stack, for one metric.
pub(crate) struct Profile<'a> {
    /// The benchmark's id.
    pub fullname: String,
    /// Which sample (index into its series).
    pub sample: usize,
    /// How many samples its series has.
    pub samples: usize,
    /// The sample's value of the metric (the sum of the sites').
    pub total: u64,
    /// (stack index, value) of every site with a non-zero value, largest first; ties by
    /// the stack's text.
    pub sites: Vec<(u32, u64)>,
    /// The sidecar, for the stacks' frames.
    pub side: &'a Sidecar,
}

impl Profile<'_> {
    /// Frames of stack `s`, outermost first.
    pub fn frames(&self, s: u32) -> Vec<&str> {
        self.side.stacks[s as usize]
            .iter()
            .map(|&f| self.side.frames[f as usize].as_str())
            .collect()
    }

    /// The stack as one text: frames outermost first, `;` between them (a frame's own `;`
    /// becomes `:` so the folded format stays unambiguous).
    pub fn folded(&self, s: u32) -> String {
        self.frames(s)
            .iter()
            .map(|f| f.replace(';', ":"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// Frames that only pass an allocation on (allocator entry points and wrappers): a site
/// is shown by the first frame above them, where the program decided to allocate.
fn is_wrapper(frame: &str) -> bool {
    const PREFIXES: [&str; 20] = [
        "operator new",
        "std::allocator",
        "std::__new_allocator",
        "__gnu_cxx::new_allocator",
        "std::allocator_traits",
        "alloc::alloc::",
        "alloc::raw_vec::",
        "<alloc::raw_vec::",
        "alloc::vec::",
        "<alloc::vec::",
        "alloc::boxed::",
        "<alloc::boxed::",
        "<alloc::alloc::",
        "alloc::string::",
        "__rust_alloc",
        "__rust_realloc",
        "__rdl_alloc",
        "__rdl_realloc",
        "std::sys::alloc::",
        "std::sys::pal::unix::alloc::",
    ];
    // CPython's allocators and its generic object allocation: a Python program's site is
    // the object's own code (or the Python line) that asked, not the allocator it reached.
    const CPYTHON: [&str; 12] = [
        "PyMem_",
        "_PyMem_",
        "PyObject_Malloc",
        "PyObject_Calloc",
        "PyObject_Realloc",
        "_PyObject_Malloc",
        "_PyObject_Calloc",
        "_PyObject_Realloc",
        "pymalloc_",
        "_PyObject_GC_",
        "PyObject_GC_",
        "_PyObject_New",
    ];
    const CPYTHON_EXACT: [&str; 9] = [
        "PyType_GenericAlloc",
        "_PyType_AllocNoTrack",
        "PyType_GenericNew",
        "gc_alloc",
        "_PyObject_ArenaMmap",
        "_PyObject_ArenaMalloc",
        "new_arena",
        "allocate_from_new_pool",
        "PyObject_Init",
    ];
    let function = frame.split(" (").next().unwrap_or(frame);
    PREFIXES.iter().any(|p| frame.starts_with(p))
        || frame.starts_with("libstdc++.so")
        || CPYTHON.iter().any(|p| function.starts_with(p))
        || CPYTHON_EXACT.contains(&function)
}

/// Where a site allocates, and the frames above it (outermost first): `(site, callers)`.
pub(crate) fn site_and_callers<'f>(frames: &[&'f str]) -> (&'f str, Vec<&'f str>) {
    let Some(last) = frames.len().checked_sub(1) else {
        return ("[no frames]", Vec::new());
    };
    let mut i = last;
    while i > 0 && is_wrapper(frames[i]) {
        i -= 1;
    }
    (frames[i], frames[..i].iter().rev().copied().collect())
}

/// The benchmarks `region` names (all with stack data when None): exact id first, then
/// exact short name, then a unique substring of the id.
pub(crate) fn select<'a>(l: &'a Loaded, region: Option<&str>) -> Result<Vec<&'a Record>> {
    let with_data = |r: &&Record| {
        l.side
            .benchmarks
            .iter()
            .any(|b| b.fullname == r.fullname && b.samples.iter().any(Option::is_some))
    };
    let Some(want) = region else {
        let all: Vec<&Record> = l
            .run
            .records
            .iter()
            .filter(|r| !r.helper)
            .filter(with_data)
            .collect();
        if all.is_empty() {
            return Err(Error::Input(super::no_stack_data(&l.path, None)));
        }
        // One region besides the processes' roots (a benchmark measured in a process of
        // its own): that region is what the run is about, the roots hold the
        // interpreter's or program's start-up around it.
        let named: Vec<&Record> = all.iter().copied().filter(|r| !r.process).collect();
        if named.len() == 1 && all.len() > 1 {
            return Ok(named);
        }
        return Ok(all);
    };
    let records = &l.run.records;
    let pick = |f: &dyn Fn(&Record) -> bool| -> Vec<&'a Record> {
        records.iter().filter(|r| f(r)).collect()
    };
    for found in [
        pick(&|r| r.fullname == want),
        pick(&|r| r.name == want),
        pick(&|r| r.fullname.contains(want)),
    ] {
        match found.len() {
            0 => continue,
            1 => return Ok(found),
            _ => {
                return Err(Error::Input(format!(
                    "{}: --region {want:?} matches {} benchmarks ({}): give one of these ids",
                    l.path.display(),
                    found.len(),
                    found
                        .iter()
                        .map(|r| r.fullname.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Err(Error::Input(format!(
        "{}: no benchmark named {want:?}; the run has {}",
        l.path.display(),
        records
            .iter()
            .map(|r| r.fullname.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The stack data of benchmark `r`.
fn bench<'a>(l: &'a Loaded, r: &Record) -> Option<&'a BenchStacks> {
    l.side.benchmarks.iter().find(|b| b.fullname == r.fullname)
}

/// The headline sample of `r` for `metric`: the one holding the series' minimum (the
/// table's headline), among samples with stack data; the first on ties.
fn headline(r: &Record, b: &BenchStacks, metric: Metric) -> Option<usize> {
    let series = r.memory.get(&metric);
    let k = figure(metric)?;
    b.samples
        .iter()
        .enumerate()
        .filter_map(|(j, s)| {
            let v = series
                .and_then(|v| v.get(j).copied())
                .or_else(|| s.as_ref().map(|s| s.totals[k]))?;
            s.as_ref().map(|_| (v, j))
        })
        .min()
        .map(|(_, j)| j)
}

/// The profile of benchmark `r` for `metric`: sample `sample`, or the headline one.
pub(crate) fn profile<'a>(
    l: &'a Loaded,
    r: &Record,
    metric: Metric,
    sample: Option<usize>,
) -> Result<Profile<'a>> {
    let k = figure(metric).ok_or_else(|| {
        Error::Input(format!(
            "--metric {}: stacks split the heap's figures: give peak, allocated, allocations or retained",
            metric.cli_name()
        ))
    })?;
    let none = || Error::Input(super::no_stack_data(&l.path, None));
    let b = bench(l, r).ok_or_else(none)?;
    let j = match sample {
        Some(j) if j >= b.samples.len() => {
            return Err(Error::Input(format!(
                "{}: --sample {j}: `{}` has {} samples (0 to {})",
                l.path.display(),
                r.fullname,
                b.samples.len(),
                b.samples.len().saturating_sub(1)
            )));
        }
        Some(j) => j,
        None => headline(r, b, metric).ok_or_else(none)?,
    };
    let s: &SampleStacks = b.samples[j].as_ref().ok_or_else(|| {
        Error::Input(format!(
            "{}: sample {j} of `{}` has no stack data (its process recorded none)",
            l.path.display(),
            r.fullname
        ))
    })?;
    let mut p = Profile {
        fullname: r.fullname.clone(),
        sample: j,
        samples: b.samples.len(),
        total: s.totals[k],
        sites: s
            .sites
            .iter()
            .filter(|x| x[k + 1] > 0)
            .map(|x| (x[0] as u32, x[k + 1]))
            .collect(),
        side: &l.side,
    };
    let mut keyed: Vec<(u64, String, u32)> =
        p.sites.iter().map(|&(s, v)| (v, p.folded(s), s)).collect();
    keyed.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    p.sites = keyed.into_iter().map(|(v, _, s)| (s, v)).collect();
    Ok(p)
}

/// Folded lines (`frame;frame;frame value`, outermost first) of `profiles`; with several,
/// each stack starts with its benchmark's id, one tower per region.
pub(crate) fn folded(profiles: &[Profile]) -> Vec<String> {
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for p in profiles {
        for &(s, v) in &p.sites {
            let stack = p.folded(s);
            let key = if profiles.len() > 1 {
                format!("{};{stack}", p.fullname.replace(';', ":"))
            } else {
                stack
            };
            let e = lines.entry(key).or_default();
            *e = e.saturating_add(v);
        }
    }
    lines.into_iter().map(|(k, v)| format!("{k} {v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_is_where_the_program_asked_not_the_allocator() {
        let frames = [
            "main (prog.cpp:40)",
            "Cache::fill (prog.cpp:20)",
            "std::__new_allocator<int>::allocate (new_allocator.h:151)",
            "operator new(unsigned long)",
        ];
        let (site, callers) = site_and_callers(&frames);
        assert_eq!(site, "Cache::fill (prog.cpp:20)");
        assert_eq!(callers, vec!["main (prog.cpp:40)"]);
        assert_eq!(site_and_callers(&["make (a.c:3)"]).0, "make (a.c:3)");
        assert_eq!(site_and_callers(&[]).0, "[no frames]");
    }

    #[test]
    fn a_python_site_is_the_object_not_cpythons_allocator() {
        let frames = [
            "inner (prog.py:4)",
            "_PyObject_MakeTpCall (Objects/call.c:214)",
            "PyByteArray_Resize (Objects/bytearrayobject.c:233)",
            "_PyObject_Malloc (Objects/obmalloc.c:1996)",
            "_PyObject_Malloc (Objects/obmalloc.c:2003)",
        ];
        let (site, callers) = site_and_callers(&frames);
        assert_eq!(site, "PyByteArray_Resize (Objects/bytearrayobject.c:233)");
        assert_eq!(callers[0], "_PyObject_MakeTpCall (Objects/call.c:214)");
        let frames = [
            "f (a.py:2)",
            "list_new_impl (Objects/listobject.c:10)",
            "PyType_GenericAlloc (Objects/typeobject.c:1200)",
            "_PyType_AllocNoTrack (Objects/typeobject.c:1180)",
            "gc_alloc (Modules/gcmodule.c:2300)",
            "PyObject_Malloc",
            "pymalloc_alloc (Objects/obmalloc.c:1700)",
            "PyMem_RawMalloc (Objects/obmalloc.c:600)",
            "_PyMem_RawMalloc (Objects/obmalloc.c:60)",
        ];
        assert_eq!(
            site_and_callers(&frames).0,
            "list_new_impl (Objects/listobject.c:10)"
        );
        // A function that only starts like an allocator is a site of its own.
        assert_eq!(
            site_and_callers(&["f (a.py:2)", "PyObject_Call (Objects/call.c:9)"]).0,
            "PyObject_Call (Objects/call.c:9)"
        );
    }
}
