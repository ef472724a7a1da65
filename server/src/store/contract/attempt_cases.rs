//! Sign-in attempts: slots taken before the guess, exactly the threshold of them in
//! parallel, given back or cleared after; and a step-up ticket's five guesses.

use futures::future::join_all;

use super::*;
use crate::{
    domain::TicketHash,
    store::{AttemptRule, NewStepUp, Reservation},
};

const RULE: AttemptRule = AttemptRule {
    threshold: 5,
    base_lockout_secs: 2,
    max_lockout_secs: 900,
    window_secs: 600,
    cap: Some(8),
    retention_secs: 3600,
};

fn granted(reservation: &Reservation) -> bool {
    matches!(reservation, Reservation::Granted { .. })
}

pub async fn parallel_attempts_get_exactly_the_threshold_of_slots(store: &dyn Store) {
    let reservations =
        join_all((0..40).map(|_| store.reserve_attempt("user:ada", &RULE, NOW))).await;
    let reservations: Vec<Reservation> = reservations.into_iter().map(Result::unwrap).collect();
    assert_eq!(reservations.iter().filter(|r| granted(r)).count(), 5);
    assert!(
        reservations
            .iter()
            .all(|r| granted(r) || *r == Reservation::LockedOut { until: NOW + 2 }),
        "{reservations:?}"
    );
    let count = store.attempts_of("user:ada").await.unwrap().unwrap();
    assert_eq!((count.run, count.total), (5, 5));
    // Another key is untouched.
    assert!(store.attempts_of("user:bob").await.unwrap().is_none());
}

pub async fn a_given_back_slot_undoes_its_lockout_and_a_clear_forgets_the_key(store: &dyn Store) {
    let mut last = None;
    for _ in 0..5 {
        last = Some(store.reserve_attempt("ip:a", &RULE, NOW).await.unwrap());
    }
    let Some(Reservation::Granted {
        previous_blocked_until,
    }) = last
    else {
        panic!("the fifth attempt was refused: {last:?}");
    };
    store
        .release_attempt("ip:a", &RULE, previous_blocked_until)
        .await
        .unwrap();
    let count = store.attempts_of("ip:a").await.unwrap().unwrap();
    assert_eq!((count.run, count.total), (4, 4));
    assert!(granted(
        &store.reserve_attempt("ip:a", &RULE, NOW).await.unwrap()
    ));
    store.clear_attempts("ip:a").await.unwrap();
    assert!(store.attempts_of("ip:a").await.unwrap().is_none());
}

pub async fn a_capped_key_stays_capped_until_cleared(store: &dyn Store) {
    let mut now = NOW;
    let mut failures = 0;
    while failures < 8 {
        match store.reserve_attempt("user:ada", &RULE, now).await.unwrap() {
            Reservation::Granted { .. } => failures += 1,
            Reservation::LockedOut { until } => now = until,
            Reservation::Capped => panic!("capped after {failures}"),
        }
    }
    let much_later = now + 365 * 24 * 3600;
    assert_eq!(
        store
            .reserve_attempt("user:ada", &RULE, much_later)
            .await
            .unwrap(),
        Reservation::Capped
    );
    // Purging keeps a capped key: only a clear lifts it.
    store.purge_expired(much_later).await.unwrap();
    assert_eq!(
        store
            .reserve_attempt("user:ada", &RULE, much_later)
            .await
            .unwrap(),
        Reservation::Capped
    );
    store.clear_attempts("user:ada").await.unwrap();
    assert!(granted(
        &store
            .reserve_attempt("user:ada", &RULE, much_later)
            .await
            .unwrap()
    ));
}

pub async fn a_step_up_ticket_gives_exactly_five_guesses_in_parallel(store: &dyn Store) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    let hash = TicketHash::of_issued("gh_step_guessed");
    store
        .create_step_up(NewStepUp {
            hash: hash.clone(),
            user_id: "u1".into(),
            first_step: crate::domain::FirstStep::Password,
            created_at: NOW,
            expires_at: NOW + 300,
        })
        .await
        .unwrap();
    let guesses = join_all((0..30).map(|_| store.spend_step_up_guess(&hash, NOW + 1, 5))).await;
    let spent = guesses
        .into_iter()
        .map(Result::unwrap)
        .filter(Option::is_some)
        .count();
    assert_eq!(spent, 5);
    assert!(
        store
            .spend_step_up_guess(&hash, NOW + 2, 5)
            .await
            .unwrap()
            .is_none()
    );
}
