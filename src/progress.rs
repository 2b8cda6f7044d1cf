//! `autosync once` as it goes: each unit's summary printed the moment the
//! unit finishes, and on a terminal a progress bar (units done / total,
//! the units under way) on stderr.
//!
//! Why: a pass over hundreds of units takes minutes, and printing only at
//! the end looked like a hang. The bar is drawn only for a person at a
//! terminal (a cron job's mail or a pipe would get escape codes and
//! redraws); `--quiet` prints only the units that failed, so cron mails
//! only when something needs doing.

use crate::pipeline::{PassWatch, UnitReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::Mutex;

/// How much `once` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Every unit's summary and the closing count.
    Normal,
    /// Only the summaries of units that failed (`--quiet`, for cron).
    Quiet,
}

/// Prints a pass's units as they finish (see the module docs).
pub struct PassPrinter {
    out: Mutex<Box<dyn Write + Send>>,
    bar: Option<ProgressBar>,
    verbosity: Verbosity,
    /// Units started and not finished, in the order they started.
    running: Mutex<Vec<String>>,
}

impl PassPrinter {
    /// `bar`: draw a progress bar on stderr (only when it is a terminal and
    /// not quiet: the caller checks the terminal).
    pub fn new(out: Box<dyn Write + Send>, verbosity: Verbosity, bar: bool) -> Self {
        let bar = (bar && verbosity == Verbosity::Normal).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} units  {wide_msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b
        });
        PassPrinter {
            out: Mutex::new(out),
            bar,
            verbosity,
            running: Mutex::default(),
        }
    }

    fn show_running(&self, running: &[String]) {
        if let Some(b) = &self.bar {
            b.set_message(running.join(", "));
        }
    }

    fn write(&self, text: &str) {
        let write = || {
            let mut out = self.out.lock().expect("pass printer lock");
            // A closed stdout (`once | head`) must not stop the pass.
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        };
        match &self.bar {
            Some(b) => b.suspend(write),
            None => write(),
        }
    }

    /// The pass is over: the bar goes, and (unless quiet) the closing
    /// count is printed.
    pub fn end(&self, reports: &[UnitReport]) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.verbosity == Verbosity::Normal {
            let failed = reports.iter().filter(|r| !r.ok()).count();
            self.write(&format!("{} unit(s), {failed} failed\n", reports.len()));
        }
    }
}

impl PassWatch for PassPrinter {
    fn begin(&self, units: usize) {
        if let Some(b) = &self.bar {
            b.set_length(units as u64);
        }
    }

    fn started(&self, unit: &str) {
        let mut running = self.running.lock().expect("pass printer lock");
        running.push(unit.to_string());
        self.show_running(&running);
    }

    fn finished(&self, report: &UnitReport) {
        {
            let mut running = self.running.lock().expect("pass printer lock");
            running.retain(|u| *u != report.unit);
            self.show_running(&running);
        }
        if self.verbosity == Verbosity::Normal || !report.ok() {
            self.write(&report.to_string());
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A `Write` the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn report(unit: &str, error: Option<&str>) -> UnitReport {
        UnitReport {
            unit: unit.into(),
            errors: error.into_iter().map(str::to_string).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn each_unit_is_printed_when_it_finishes_not_at_the_end() {
        let out = Shared::default();
        let p = PassPrinter::new(Box::new(out.clone()), Verbosity::Normal, false);
        p.begin(2);
        p.started("a");
        p.started("b");
        assert_eq!(out.text(), "");
        p.finished(&report("b", None));
        assert!(
            out.text().starts_with("ok     b: found 0"),
            "{}",
            out.text()
        );
        assert!(!out.text().contains(" a:"), "{}", out.text());
        p.finished(&report("a", Some("boom")));
        p.end(&[report("a", Some("boom")), report("b", None)]);
        let text = out.text();
        assert!(text.contains("FAILED a: found 0"), "{text}");
        assert!(text.contains("    error: boom"), "{text}");
        assert!(text.ends_with("2 unit(s), 1 failed\n"), "{text}");
    }

    #[test]
    fn quiet_prints_only_the_units_that_failed() {
        let out = Shared::default();
        let p = PassPrinter::new(Box::new(out.clone()), Verbosity::Quiet, true);
        assert!(p.bar.is_none(), "no bar when quiet");
        p.begin(2);
        p.finished(&report("a", None));
        assert_eq!(out.text(), "");
        p.finished(&report("b", Some("site down")));
        p.end(&[report("a", None), report("b", Some("site down"))]);
        let text = out.text();
        assert!(text.starts_with("FAILED b:"), "{text}");
        assert!(!text.contains("unit(s)"), "{text}");
    }
}
