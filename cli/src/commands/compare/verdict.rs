//! The gates' verdict: every `--fail-on` and `--max` checked on every benchmark of the
//! base and head runs, and the three ways it is told: lines for the log (standard error),
//! a Markdown list for a pull-request comment, and GitHub Actions annotations.

use super::matrix::Matrix;
use crate::args::CompareArgs;
use crate::blob::Clean;
use crate::escape;
use crate::gate::{Breach, Growth, check_ceiling, check_growth};
use crate::metrics::Metric;
use crate::{EXIT_GATE, EXIT_OK};

/// What the gates found. Its texts are raw: names from the runs are escaped where each
/// output writes them.
#[derive(Debug)]
pub(super) struct Verdict {
    /// `head vs base`, or the one run's label.
    pair: String,
    /// Gates checked, one per gate and benchmark.
    checked: usize,
    /// Gates that failed.
    breaches: Vec<Breach>,
    /// Time gates beyond their threshold by a change the test cannot tell from noise.
    noise: Vec<Breach>,
    /// Gates that could not be evaluated, and why.
    unchecked: Vec<String>,
    /// Series whose incomplete samples the gates left out.
    left_out: Vec<String>,
    /// `--strict`: a gate that cannot be evaluated fails.
    strict: bool,
}

impl Verdict {
    /// Check every gate of `args` on `ids`; `None` when no gate was given.
    pub fn check(m: &Matrix, ids: &[String], args: &CompareArgs) -> Option<Verdict> {
        if args.fail_on.is_empty() && args.max.is_empty() {
            return None;
        }
        let (base, head) = (m.sides.first()?, m.sides.last()?);
        let stat = args.stat.gate_stat();
        let mut v = Verdict {
            // With one run, only ceilings apply: name the run alone.
            pair: if m.sides.len() < 2 {
                head.label.clone()
            } else {
                format!("{} vs {}", head.label, base.label)
            },
            checked: 0,
            breaches: Vec::new(),
            noise: Vec::new(),
            unchecked: Vec::new(),
            left_out: Vec::new(),
            strict: args.strict,
        };
        let gated: Vec<Metric> = {
            let mut g: Vec<Metric> = Vec::new();
            for mt in args
                .fail_on
                .iter()
                .map(|g| g.metric)
                .chain(args.max.iter().map(|c| c.metric))
            {
                if !g.contains(&mt) {
                    g.push(mt);
                }
            }
            g
        };
        for id in ids {
            let Some(h) = head.get(id) else { continue };
            let shown = m.name(id);
            // With one run, --fail-on was refused before: only ceilings are checked.
            let b = base.get(id).filter(|_| m.sides.len() > 1);
            if let Some(b) = b {
                for g in &args.fail_on {
                    // rss is measured only for isolated benchmarks: one that neither run
                    // isolated has nothing to gate, and is no gate left unevaluated.
                    if g.metric == Metric::Rss && !b.has(Metric::Rss) && !h.has(Metric::Rss) {
                        continue;
                    }
                    v.checked += 1;
                    match check_growth(g, shown, b, h, stat) {
                        Ok(Growth::Breach(br)) => v.breaches.push(br),
                        Ok(Growth::Noise(br)) => v.noise.push(br),
                        Ok(Growth::Within) => {}
                        Err(why) => v.unchecked.push(format!("--fail-on {}: {why}", g.spec)),
                    }
                }
            }
            for c in &args.max {
                if c.metric == Metric::Rss && !h.has(Metric::Rss) {
                    continue;
                }
                v.checked += 1;
                match check_ceiling(c, shown, h, stat) {
                    Ok(Some(br)) => v.breaches.push(br),
                    Ok(None) => {}
                    Err(why) => v.unchecked.push(format!("--max {}: {why}", c.spec)),
                }
            }
            // Say which gated series lost samples: the gate compared fewer than were taken.
            for (record, label) in [(b, &base.label), (Some(h), &head.label)] {
                let Some(record) = record else { continue };
                for &mt in &gated {
                    if let Clean::Some { complete, total } = record.clean(mt) {
                        let bad = total - complete;
                        v.left_out.push(format!(
                            "left out: {bad} incomplete sample{} of {total} ({mt} of {shown} in {label}); its gates used the other {complete}",
                            if bad == 1 { "" } else { "s" },
                        ));
                    }
                }
            }
        }
        Some(v)
    }

    fn failed(&self) -> bool {
        !self.breaches.is_empty() || (self.strict && !self.unchecked.is_empty())
    }

    /// The exit status: 1 when a gate failed.
    pub fn status(&self) -> i32 {
        if self.failed() { EXIT_GATE } else { EXIT_OK }
    }

    /// The headline: how many failed, or that every gate passed.
    fn headline(&self) -> String {
        let n = self.breaches.len();
        if n > 0 {
            format!(
                "{n} regression{} over threshold ({}):",
                if n == 1 { "" } else { "s" },
                self.pair
            )
        } else if self.failed() {
            format!(
                "gates failed: {} could not be evaluated and --strict requires every gate ({})",
                self.unchecked.len(),
                self.pair
            )
        } else {
            let evaluated = self.checked - self.unchecked.len();
            let not = if self.unchecked.is_empty() {
                String::new()
            } else {
                format!(" ({} could not be evaluated)", self.unchecked.len())
            };
            format!(
                "gates passed: {evaluated} check{} of {}{not}",
                if evaluated == 1 { "" } else { "s" },
                self.pair
            )
        }
    }

    fn noise_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.noise
            .iter()
            .map(|b| format!("within noise, not failed: {}", b.message()))
    }

    fn unchecked_lines(&self) -> impl Iterator<Item = String> + '_ {
        let verb = if self.strict { "failed" } else { "not checked" };
        self.unchecked.iter().map(move |u| format!("{verb}: {u}"))
    }

    /// The lines for the log, raw: what was left out, what could not be checked, the
    /// headline and one line per failed gate, the metrics padded to one width.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.left_out.clone();
        out.extend(self.noise_lines());
        out.extend(self.unchecked_lines());
        out.push(self.headline());
        let width = self
            .breaches
            .iter()
            .map(|b| b.metric.cli_name().len())
            .max()
            .unwrap_or(0);
        out.extend(self.breaches.iter().map(|b| b.line(width)));
        out
    }

    /// The verdict as Markdown for a pull-request comment: the headline in bold, the failed
    /// gates as a list, the rest as lines beneath.
    pub fn markdown(&self) -> String {
        let mut out = format!("\n**{}**\n", escape::markdown(&self.headline()));
        if !self.breaches.is_empty() {
            out.push('\n');
            for b in &self.breaches {
                out.push_str(&format!(
                    "- **{}** {}\n",
                    b.metric.cli_name(),
                    escape::markdown(&b.message_after_metric())
                ));
            }
        }
        let rest: Vec<String> = self
            .noise_lines()
            .chain(self.unchecked_lines())
            .chain(self.left_out.iter().cloned())
            .collect();
        if !rest.is_empty() {
            out.push('\n');
            for l in rest {
                out.push_str(&format!("{}  \n", escape::markdown(&l)));
            }
        }
        out
    }

    /// GitHub Actions workflow commands, one `::error` per failed gate (a gate that could
    /// not be evaluated fails only with `--strict`): the job's summary lists each one.
    pub fn annotations(&self) -> String {
        let mut messages: Vec<String> = self.breaches.iter().map(Breach::message).collect();
        if self.strict {
            messages.extend(self.unchecked.iter().map(|u| format!("not evaluated: {u}")));
        }
        messages
            .iter()
            .map(|msg| {
                format!(
                    "::error title=benchmem gate::{}\n",
                    escape::workflow_message(&format!("{msg} ({})", self.pair))
                )
            })
            .collect()
    }
}
