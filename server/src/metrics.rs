//! Counters for operators, served at `/metrics` in Prometheus' text format.
//!
//! Each application owns its own set (tests run many servers in one process, so a global
//! registry would mix them). The counters on every request are plain atomics; the rest
//! (audit events: logins, logouts, revocations…) are counted where the auth core records
//! them, by kind — a fixed, small set of names, so the output stays bounded.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

pub struct Metrics {
    started: Instant,
    /// By HTTP status class: 1xx … 5xx.
    responses: [AtomicU64; 5],
    tokens_accepted: AtomicU64,
    tokens_refused: AtomicU64,
    refreshes: AtomicU64,
    events: Mutex<BTreeMap<&'static str, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            responses: Default::default(),
            tokens_accepted: AtomicU64::new(0),
            tokens_refused: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            events: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    pub fn response(&self, status: u16) {
        if let Some(class) = (status / 100).checked_sub(1).map(usize::from)
            && let Some(counter) = self.responses.get(class)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn token_check(&self, accepted: bool) {
        let counter = if accepted {
            &self.tokens_accepted
        } else {
            &self.tokens_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refreshed(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn event(&self, kind: &'static str) {
        if let Ok(mut events) = self.events.lock() {
            *events.entry(kind).or_default() += 1;
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        family(
            "gatehouse_build_info",
            "gauge",
            "The running version.",
            &[(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1)],
        );
        family(
            "gatehouse_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            &[(String::new(), self.started.elapsed().as_secs())],
        );
        let responses: Vec<(String, u64)> = self
            .responses
            .iter()
            .enumerate()
            .map(|(index, counter)| (format!("{{class=\"{}xx\"}}", index + 1), load(counter)))
            .collect();
        family(
            "gatehouse_http_responses_total",
            "counter",
            "HTTP responses by status class.",
            &responses,
        );
        family(
            "gatehouse_access_token_checks_total",
            "counter",
            "Access-token checks (signature, expiry, revocation, session and user state).",
            &[
                ("{outcome=\"accepted\"}".into(), load(&self.tokens_accepted)),
                ("{outcome=\"refused\"}".into(), load(&self.tokens_refused)),
            ],
        );
        family(
            "gatehouse_refresh_rotations_total",
            "counter",
            "Refresh tokens rotated (sessions renewed).",
            &[(String::new(), load(&self.refreshes))],
        );
        let events: Vec<(String, u64)> = self
            .events
            .lock()
            .map(|events| {
                events
                    .iter()
                    .map(|(kind, count)| (format!("{{kind=\"{kind}\"}}"), *count))
                    .collect()
            })
            .unwrap_or_default();
        family(
            "gatehouse_audit_events_total",
            "counter",
            "Security events written to the audit log, by kind.",
            &events,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_counts() {
        let metrics = Metrics::default();
        metrics.response(200);
        metrics.response(204);
        metrics.response(429);
        metrics.response(99);
        metrics.response(600);
        metrics.token_check(true);
        metrics.token_check(false);
        metrics.token_check(false);
        metrics.refreshed();
        metrics.event("login");
        metrics.event("login");
        metrics.event("login_failed");
        let text = metrics.render();
        for line in [
            "# TYPE gatehouse_http_responses_total counter",
            "gatehouse_http_responses_total{class=\"2xx\"} 2",
            "gatehouse_http_responses_total{class=\"4xx\"} 1",
            "gatehouse_http_responses_total{class=\"5xx\"} 0",
            "gatehouse_access_token_checks_total{outcome=\"accepted\"} 1",
            "gatehouse_access_token_checks_total{outcome=\"refused\"} 2",
            "gatehouse_refresh_rotations_total 1",
            "gatehouse_audit_events_total{kind=\"login\"} 2",
            "gatehouse_audit_events_total{kind=\"login_failed\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
