//! The package's one way of showing progress: a line on stderr, rewritten in place, for work
//! that has run longer than two seconds, only when stderr is a terminal (never in a log or a
//! pipe, where `\r` lines are noise) — the census, scans in batches, a `Writer`.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress of one piece of work; see the module's documentation.
pub struct Progress {
    what: &'static str,
    unit: &'static str,
    total: Option<usize>,
    done: usize,
    start: Instant,
    last: Instant,
    enabled: bool,
    shown: bool,
}

/// Silent for this long; then a line a second at most.
const QUIET_SECONDS: f64 = 2.0;

impl Progress {
    /// `what` is done in `unit`s, `total` of them if known. `enabled`: `Some(choice)` as the
    /// caller asked, `None` for "when stderr is a terminal".
    pub fn new(
        what: &'static str,
        unit: &'static str,
        total: Option<usize>,
        enabled: Option<bool>,
    ) -> Progress {
        let now = Instant::now();
        Progress {
            what,
            unit,
            total,
            done: 0,
            start: now,
            last: now,
            enabled: enabled.unwrap_or_else(|| std::io::stderr().is_terminal()),
            shown: false,
        }
    }

    /// Sets the units done so far.
    pub fn set(&mut self, done: usize) {
        self.done = done;
        self.show(false);
    }

    fn show(&mut self, last: bool) {
        if !self.enabled || self.start.elapsed().as_secs_f64() < QUIET_SECONDS {
            return;
        }
        if !last && self.last.elapsed().as_secs_f64() < 1.0 && self.shown {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let seconds = self.start.elapsed().as_secs_f64();
        let rate = self.done as f64 / seconds.max(1e-9);
        let line = match self.total {
            Some(total) if total > 0 => {
                let left = (total.saturating_sub(self.done)) as f64 / rate.max(1e-9);
                format!(
                    "{}: {}/{} {} ({:.0} %), {:.0} {}/s, {:.0} s left",
                    self.what,
                    self.done,
                    total,
                    self.unit,
                    100.0 * self.done as f64 / total as f64,
                    rate,
                    self.unit,
                    left
                )
            }
            _ => format!(
                "{}: {} {}, {:.0} {}/s",
                self.what, self.done, self.unit, rate, self.unit
            ),
        };
        let mut err = std::io::stderr().lock();
        // A refused write to stderr only loses the progress line.
        let _ = write!(err, "\r{line}\x1b[K");
        if last {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

impl Drop for Progress {
    /// Ends a shown line with its final count and a newline.
    fn drop(&mut self) {
        if self.shown {
            self.show(true);
        }
    }
}
