//! Keeps the browser session alive and the same in every tab.
//!
//! A timer renews the access cookie shortly before it expires, and again when the tab
//! becomes visible after a sleep. Non-secret facts about the session (user, role, access
//! deadline) sit in localStorage — never a token — so every tab learns at once that
//! another signed in, signed out, or already renewed (and so does not renew twice with
//! the same refresh token, which would end the session by reuse detection).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{model::Role, session::Session};

pub const STORAGE_KEY: &str = "gatehouse.session";

/// When the current access cookie must be renewed, in browser time (ms).
#[derive(Clone, Copy)]
pub struct AccessDeadline {
    deadline_ms: RwSignal<Option<f64>>,
    lead_ms: RwSignal<f64>,
    now_ms: RwSignal<f64>,
}

impl AccessDeadline {
    /// Seconds until the renewal, once the client runs (none while rendering on the server).
    pub fn seconds_until_renewal(&self) -> Option<i64> {
        let deadline = self.deadline_ms.get()?;
        let remaining = deadline - self.lead_ms.get() - self.now_ms.get();
        Some((remaining / 1000.0).ceil().max(0.0) as i64)
    }
}

/// What other tabs may know about this browser's session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedFacts {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub session_id: String,
    pub deadline_ms: f64,
}

pub fn keep_session_alive(session: Session) -> AccessDeadline {
    let deadline = AccessDeadline {
        deadline_ms: RwSignal::new(None),
        lead_ms: RwSignal::new(0.0),
        now_ms: RwSignal::new(0.0),
    };
    provide_context(deadline);
    #[cfg(feature = "hydrate")]
    client::Keeper::start(session, deadline);
    #[cfg(not(feature = "hydrate"))]
    let _ = session;
    deadline
}

#[cfg(feature = "hydrate")]
mod client {
    use std::time::Duration;

    use gloo_storage::{LocalStorage as BrowserStorage, Storage};
    use leptos::{ev, prelude::*};

    use super::{AccessDeadline, STORAGE_KEY, SharedFacts};
    use crate::{model::Viewer, session::Session};

    /// Renewing this long before expiry leaves room for a slow network; a fifth of the
    /// lifetime for very short tokens.
    fn lead_for(ttl_ms: f64) -> f64 {
        (ttl_ms * 0.2).clamp(1_000.0, 60_000.0)
    }

    fn now() -> f64 {
        js_sys::Date::now()
    }

    fn go_to(path: &str) {
        let _ = window().location().assign(path);
    }

    #[derive(Clone, Copy)]
    pub struct Keeper {
        session: Session,
        deadline: AccessDeadline,
        facts: StoredValue<Option<SharedFacts>, LocalStorage>,
        timer: StoredValue<Option<TimeoutHandle>, LocalStorage>,
    }

    impl Keeper {
        pub fn start(session: Session, deadline: AccessDeadline) {
            let keeper = Keeper {
                session,
                deadline,
                facts: StoredValue::new_local(None),
                timer: StoredValue::new_local(None),
            };
            deadline.now_ms.set(now());
            let _ = set_interval_with_handle(
                move || deadline.now_ms.set(now()),
                Duration::from_secs(1),
            );

            Effect::new(move |_| match session.viewer.get() {
                Some(Ok(Some(viewer))) => keeper.adopt_viewer(&viewer),
                Some(Ok(None)) => keeper.signed_out(),
                _ => {}
            });

            let refreshed = session.refresh.value();
            Effect::new(move |_| match refreshed.get() {
                Some(Ok(viewer)) => keeper.adopt_viewer(&viewer),
                Some(Err(error)) if error.is_unauthenticated() => {
                    keeper.signed_out();
                    go_to("/login?expired=1");
                }
                // A network hiccup: try again shortly, the cookie may still be valid.
                Some(Err(_)) => keeper.schedule_in(5_000.0),
                None => {}
            });

            let _ = window_event_listener(ev::storage, move |event| {
                if event.key().as_deref() == Some(STORAGE_KEY) {
                    keeper.another_tab_changed(event.new_value());
                }
            });
            let _ = window_event_listener(ev::visibilitychange, move |_| keeper.wake_up());
            let _ = window_event_listener(ev::focus, move |_| keeper.wake_up());
        }

        fn adopt_viewer(self, viewer: &Viewer) {
            let ttl_ms = viewer.access_expires_in.max(1) as f64 * 1_000.0;
            let facts = SharedFacts {
                user_id: viewer.user.id.clone(),
                username: viewer.user.username.clone(),
                role: viewer.user.role,
                session_id: viewer.session_id.clone(),
                deadline_ms: now() + ttl_ms,
            };
            self.deadline.lead_ms.set(lead_for(ttl_ms));
            let _ = BrowserStorage::set(STORAGE_KEY, &facts);
            self.adopt_facts(facts);
        }

        fn adopt_facts(self, facts: SharedFacts) {
            self.deadline.deadline_ms.set(Some(facts.deadline_ms));
            let lead = self.deadline.lead_ms.get_untracked();
            // Spread the tabs' renewals apart so that one renews and the others adopt.
            let jitter = js_sys::Math::random() * (lead / 2.0).min(3_000.0);
            let renew_at = facts.deadline_ms - lead + jitter;
            self.facts.set_value(Some(facts));
            self.schedule_in(renew_at - now());
        }

        fn schedule_in(self, delay_ms: f64) {
            self.cancel_timer();
            let delay = Duration::from_millis(delay_ms.max(0.0) as u64);
            if let Ok(handle) = set_timeout_with_handle(move || self.renew(), delay) {
                self.timer.set_value(Some(handle));
            }
        }

        fn cancel_timer(self) {
            if let Some(handle) = self.timer.try_update_value(Option::take).flatten() {
                handle.clear();
            }
        }

        fn renew(self) {
            let mine = self.facts.get_value();
            let stored = BrowserStorage::get::<SharedFacts>(STORAGE_KEY).ok();
            if let (Some(mine), Some(stored)) = (&mine, stored)
                && stored.session_id == mine.session_id
                && stored.deadline_ms > mine.deadline_ms + 500.0
            {
                // Another tab renewed: the cookie jar is shared, only the deadline moves.
                self.adopt_facts(stored);
                return;
            }
            if mine.is_some() {
                self.session
                    .refresh
                    .dispatch(crate::session::RefreshSession {});
            }
        }

        fn wake_up(self) {
            let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
            let due = self
                .deadline
                .deadline_ms
                .get_untracked()
                .is_some_and(|deadline| deadline - self.deadline.lead_ms.get_untracked() <= now());
            if visible && due && !self.session.refresh.pending().get_untracked() {
                self.renew();
            }
        }

        fn signed_out(self) {
            self.cancel_timer();
            self.facts.set_value(None);
            self.deadline.deadline_ms.set(None);
            if BrowserStorage::raw()
                .get_item(STORAGE_KEY)
                .ok()
                .flatten()
                .is_some()
            {
                BrowserStorage::delete(STORAGE_KEY);
            }
        }

        fn another_tab_changed(self, new_value: Option<String>) {
            let mine = self.facts.get_value();
            let theirs = new_value.and_then(|json| serde_json::from_str::<SharedFacts>(&json).ok());
            match (mine, theirs) {
                // Signed out elsewhere: this tab is signed out too.
                (Some(_), None) => {
                    self.signed_out();
                    go_to("/login?signed_out=1");
                }
                (Some(mine), Some(theirs)) if theirs.session_id == mine.session_id => {
                    self.adopt_facts(theirs);
                }
                // Someone signed in (or another user did): show the page as they see it.
                (_, Some(_)) => {
                    let _ = window().location().reload();
                }
                (None, None) => {}
            }
        }
    }
}
