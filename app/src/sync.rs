//! Keeps the browser session alive and the same in every tab.
//!
//! A timer renews the access cookie shortly before it expires, and again when the tab
//! becomes visible after a sleep. Non-secret facts about the session (user, role, access
//! deadline) sit in localStorage — never a token — so every tab learns at once that
//! another signed in, signed out, or already renewed (and so does not renew twice with
//! the same refresh token, which would end the session by reuse detection).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Role, Viewer};

pub const STORAGE_KEY: &str = "gatehouse.session";

/// What other tabs may know about this browser's session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedFacts {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub session_id: String,
    /// When the access cookie expires, in browser time (ms).
    pub deadline_ms: f64,
    /// How long before the deadline it is renewed.
    pub lead_ms: f64,
}

/// Renews the session in the background and keeps this tab in step with the others.
/// Rendered on every page with the user the server saw (none when signed out); it shows
/// nothing.
#[island]
pub fn SessionKeeper(viewer: Option<Viewer>) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    client::Keeper::start(viewer);
    #[cfg(not(feature = "hydrate"))]
    let _ = viewer;
}

/// A live countdown to the next renewal, read from the facts the keeper shares; before
/// the client runs, the lifetime the server knew.
#[island]
pub fn RenewalCountdown(access_expires_in: i64) -> impl IntoView {
    let seconds = RwSignal::new(None::<i64>);
    #[cfg(feature = "hydrate")]
    {
        let tick = move || seconds.set(client::seconds_until_renewal());
        tick();
        let _ = set_interval_with_handle(tick, std::time::Duration::from_secs(1));
    }
    move || match seconds.get() {
        Some(seconds) => format!("{seconds} s"),
        None => format!("about {access_expires_in} s"),
    }
}

/// The link to the admin console, shown while the role this browser knows is admin. The
/// server's render decides it first; then the shared facts do, so a demotion learned at
/// a renewal (in this tab or another) hides it without a page load. The server checks
/// the role on every admin call whatever the link shows.
#[island]
pub fn AdminLink(shown: bool) -> impl IntoView {
    let shown = RwSignal::new(shown);
    #[cfg(feature = "hydrate")]
    client::follow_role(shown);
    move || shown.get().then(|| view! { <a href="/admin">"Admin"</a> })
}

#[cfg(feature = "hydrate")]
mod client {
    use std::time::Duration;

    use std::cell::RefCell;

    use gloo_storage::{LocalStorage as BrowserStorage, Storage};
    use leptos::{ev, prelude::*};

    use super::{STORAGE_KEY, SharedFacts};
    use crate::{
        model::{Role, Viewer},
        session::RefreshSession,
    };

    /// `storage` events reach only the other tabs; this one tells the islands of this tab.
    const CHANGED_HERE: &str = "gatehouse-session";

    thread_local! {
        /// The keeper of this page. Client-side navigation keeps islands alive, so when a
        /// navigation brings a new keeper (signing in or out without a page load), the
        /// old one must stop: two keepers would renew twice.
        static RUNNING_KEEPER: RefCell<Option<Owner>> = const { RefCell::new(None) };
    }

    fn announce_here() {
        if let Ok(event) = web_sys::CustomEvent::new(CHANGED_HERE) {
            let _ = window().dispatch_event(&event);
        }
    }

    fn store_facts(facts: &SharedFacts) {
        let _ = BrowserStorage::set(STORAGE_KEY, facts);
        announce_here();
    }

    /// Shows what the shared facts say about the role, as they change in any tab.
    pub fn follow_role(shown: RwSignal<bool>) {
        let update = move || {
            let is_admin = stored_facts().is_some_and(|facts| facts.role == Role::Admin);
            shown.try_set(is_admin);
        };
        let elsewhere = window_event_listener(ev::storage, move |event| {
            if event.key().as_deref() == Some(STORAGE_KEY) {
                update();
            }
        });
        let here = window_event_listener_untyped(CHANGED_HERE, move |_| update());
        on_cleanup(move || {
            elsewhere.remove();
            here.remove();
        });
    }

    /// Renewing this long before expiry leaves room for a slow network; a fifth of the
    /// lifetime for very short tokens.
    fn lead_for(ttl_ms: f64) -> f64 {
        (ttl_ms * 0.2).clamp(1_000.0, 60_000.0)
    }

    fn now() -> f64 {
        js_sys::Date::now()
    }

    /// A full page load: the server renders it with whatever cookies are left.
    fn go_to(path: &str) {
        let _ = window().location().assign(path);
    }

    fn stored_facts() -> Option<SharedFacts> {
        BrowserStorage::get::<SharedFacts>(STORAGE_KEY).ok()
    }

    pub fn seconds_until_renewal() -> Option<i64> {
        let facts = stored_facts()?;
        let remaining = facts.deadline_ms - facts.lead_ms - now();
        Some((remaining / 1000.0).ceil().max(0.0) as i64)
    }

    #[derive(Clone, Copy)]
    pub struct Keeper {
        refresh: ServerAction<RefreshSession>,
        facts: StoredValue<Option<SharedFacts>, LocalStorage>,
        timer: StoredValue<Option<TimeoutHandle>, LocalStorage>,
        /// When this tab last sent a sign-out: a renewal already on its way then comes
        /// back refused, and that is the sign-out, not an expiry.
        sign_out_sent_ms: StoredValue<Option<f64>, LocalStorage>,
    }

    impl Keeper {
        pub fn start(viewer: Option<Viewer>) {
            let owner = Owner::current().map_or_else(Owner::new, |island| island.child());
            if let Some(previous) =
                RUNNING_KEEPER.with(|running| running.replace(Some(owner.clone())))
            {
                previous.cleanup();
            }
            owner.with(|| Self::run(viewer));
        }

        fn run(viewer: Option<Viewer>) {
            let keeper = Keeper {
                refresh: ServerAction::<RefreshSession>::new(),
                facts: StoredValue::new_local(None),
                timer: StoredValue::new_local(None),
                sign_out_sent_ms: StoredValue::new_local(None),
            };
            match viewer {
                Some(viewer) => keeper.adopt_viewer(&viewer),
                None => keeper.signed_out(),
            }

            let refreshed = keeper.refresh.value();
            Effect::new(move |_| match refreshed.get() {
                Some(Ok(viewer)) => keeper.adopt_viewer(&viewer),
                Some(Err(error)) if error.is_unauthenticated() => {
                    keeper.signed_out();
                    // The sign-out's own answer takes the page to "signed out".
                    if !keeper.just_signed_out() {
                        go_to("/login?expired=1");
                    }
                }
                // A network hiccup: try again shortly, the cookie may still be valid.
                Some(Err(_)) => keeper.schedule_in(5_000.0),
                None => {}
            });

            let listeners = [
                window_event_listener(ev::storage, move |event| {
                    if event.key().as_deref() == Some(STORAGE_KEY) {
                        keeper.another_tab_changed(event.new_value());
                    }
                }),
                window_event_listener(ev::submit, move |event| {
                    // A submit event's target is the form.
                    if event_target::<web_sys::Element>(&event).has_attribute("data-sign-out") {
                        keeper.sign_out_sent_ms.set_value(Some(now()));
                    }
                }),
                window_event_listener(ev::visibilitychange, move |_| keeper.wake_up()),
                window_event_listener(ev::focus, move |_| keeper.wake_up()),
            ];
            on_cleanup(move || {
                keeper.cancel_timer();
                for listener in listeners {
                    listener.remove();
                }
            });
        }

        fn adopt_viewer(self, viewer: &Viewer) {
            let ttl_ms = viewer.access_expires_in.max(1) as f64 * 1_000.0;
            let facts = SharedFacts {
                user_id: viewer.user.id.clone(),
                username: viewer.user.username.clone(),
                role: viewer.user.role,
                session_id: viewer.session_id.clone(),
                deadline_ms: now() + ttl_ms,
                lead_ms: lead_for(ttl_ms),
            };
            store_facts(&facts);
            self.adopt_facts(facts);
        }

        fn adopt_facts(self, facts: SharedFacts) {
            // Spread the tabs' renewals apart so that one renews and the others adopt.
            let jitter = js_sys::Math::random() * (facts.lead_ms / 2.0).min(3_000.0);
            let renew_at = facts.deadline_ms - facts.lead_ms + jitter;
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
            if let (Some(mine), Some(stored)) = (&mine, stored_facts())
                && stored.session_id == mine.session_id
                && stored.deadline_ms > mine.deadline_ms + 500.0
            {
                // Another tab renewed: the cookie jar is shared, only the deadline moves.
                self.adopt_facts(stored);
                return;
            }
            if mine.is_some() {
                self.refresh.dispatch(RefreshSession {});
            }
        }

        /// Within a sign-out's round trip (a failed one leaves the keeper as it was).
        fn just_signed_out(self) -> bool {
            const ROUND_TRIP_MS: f64 = 15_000.0;
            self.sign_out_sent_ms
                .get_value()
                .is_some_and(|sent| now() - sent < ROUND_TRIP_MS)
        }

        fn wake_up(self) {
            let visible = document().visibility_state() == web_sys::VisibilityState::Visible;
            let due = self
                .facts
                .get_value()
                .is_some_and(|facts| facts.deadline_ms - facts.lead_ms <= now());
            if visible && due && !self.refresh.pending().get_untracked() {
                self.renew();
            }
        }

        fn signed_out(self) {
            self.cancel_timer();
            self.facts.set_value(None);
            if BrowserStorage::raw()
                .get_item(STORAGE_KEY)
                .ok()
                .flatten()
                .is_some()
            {
                BrowserStorage::delete(STORAGE_KEY);
                announce_here();
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
