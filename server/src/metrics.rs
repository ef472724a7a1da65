//! Counters for operators, served at `/metrics` in the OpenMetrics text format
//! (`prometheus-client`; Prometheus reads it natively).
//!
//! Each application owns its own registry (tests run many servers in one process, so a
//! global one would mix them). The counters touched on every request are created up front
//! and kept as handles, so counting is one atomic add; audit events (logins, logouts,
//! revocations…) are counted where the auth core records them, by kind — a fixed, small
//! set of names, so the output stays bounded.

use std::time::Instant;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, info::Info},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusClass {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckOutcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailOutcome {
    outcome: &'static str,
}

/// The mail worker's counters, as handles it keeps.
#[derive(Clone, Debug, Default)]
pub struct MailCounters {
    /// Handed to the SMTP server or written to the outbox.
    pub sent: Counter,
    /// Given up on after every retry.
    pub failed: Counter,
    /// Not queued: the queue was full.
    pub dropped: Counter,
    pub retried: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventKind {
    kind: &'static str,
}

pub struct Metrics {
    registry: Registry,
    started: Instant,
    uptime: Gauge,
    /// By HTTP status class: 1xx … 5xx.
    responses: [Counter; 5],
    tokens_accepted: Counter,
    tokens_refused: Counter,
    refreshes: Counter,
    events: Family<EventKind, Counter>,
    mails: MailCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        registry.register(
            "gatehouse_build",
            "The running version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let uptime = Gauge::default();
        registry.register(
            "gatehouse_uptime_seconds",
            "Seconds since the server started",
            uptime.clone(),
        );
        let responses_by_class = Family::<StatusClass, Counter>::default();
        registry.register(
            "gatehouse_http_responses",
            "HTTP responses by status class",
            responses_by_class.clone(),
        );
        let responses = ["1xx", "2xx", "3xx", "4xx", "5xx"].map(|class| {
            responses_by_class
                .get_or_create(&StatusClass { class })
                .clone()
        });
        let checks = Family::<CheckOutcome, Counter>::default();
        registry.register(
            "gatehouse_access_token_checks",
            "Access-token checks (signature, expiry, revocation, session and user state)",
            checks.clone(),
        );
        let outcome = |outcome| checks.get_or_create(&CheckOutcome { outcome }).clone();
        let (tokens_accepted, tokens_refused) = (outcome("accepted"), outcome("refused"));
        let refreshes = Counter::default();
        registry.register(
            "gatehouse_refresh_rotations",
            "Refresh tokens rotated (sessions renewed)",
            refreshes.clone(),
        );
        let events = Family::<EventKind, Counter>::default();
        registry.register(
            "gatehouse_audit_events",
            "Security events written to the audit log, by kind",
            events.clone(),
        );
        let mail_outcomes = Family::<MailOutcome, Counter>::default();
        registry.register(
            "gatehouse_mails",
            "Mails by outcome: sent, failed (after every retry), dropped (queue full), retried",
            mail_outcomes.clone(),
        );
        let mail = |outcome| {
            mail_outcomes
                .get_or_create(&MailOutcome { outcome })
                .clone()
        };
        let mails = MailCounters {
            sent: mail("sent"),
            failed: mail("failed"),
            dropped: mail("dropped"),
            retried: mail("retried"),
        };
        Metrics {
            registry,
            mails,
            started: Instant::now(),
            uptime,
            responses,
            tokens_accepted,
            tokens_refused,
            refreshes,
            events,
        }
    }
}

impl Metrics {
    /// The content type of `render`'s output.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    pub fn response(&self, status: u16) {
        if let Some(class) = (status / 100).checked_sub(1).map(usize::from)
            && let Some(counter) = self.responses.get(class)
        {
            counter.inc();
        }
    }

    pub fn token_check(&self, accepted: bool) {
        let counter = if accepted {
            &self.tokens_accepted
        } else {
            &self.tokens_refused
        };
        counter.inc();
    }

    pub fn refreshed(&self) {
        self.refreshes.inc();
    }

    pub fn event(&self, kind: &'static str) {
        self.events.get_or_create(&EventKind { kind }).inc();
    }

    pub fn mail_counters(&self) -> MailCounters {
        self.mails.clone()
    }

    /// Every family in the OpenMetrics text format.
    pub fn render(&self) -> String {
        self.uptime
            .set(i64::try_from(self.started.elapsed().as_secs()).unwrap_or(i64::MAX));
        let mut out = String::new();
        if let Err(error) = encode(&mut out, &self.registry) {
            // Writing into a String cannot fail; were it to, a partial page is still honest.
            tracing::error!(%error, "could not encode the metrics");
        }
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
            "# TYPE gatehouse_http_responses counter",
            "gatehouse_http_responses_total{class=\"2xx\"} 2",
            "gatehouse_http_responses_total{class=\"4xx\"} 1",
            "gatehouse_http_responses_total{class=\"5xx\"} 0",
            "gatehouse_access_token_checks_total{outcome=\"accepted\"} 1",
            "gatehouse_access_token_checks_total{outcome=\"refused\"} 2",
            "gatehouse_refresh_rotations_total 1",
            "gatehouse_audit_events_total{kind=\"login\"} 2",
            "gatehouse_audit_events_total{kind=\"login_failed\"} 1",
            "gatehouse_build_info{version=\"0.1.0\"} 1",
            "gatehouse_mails_total{outcome=\"failed\"} 0",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
