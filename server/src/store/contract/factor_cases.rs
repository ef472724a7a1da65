//! Contract cases for second factors (TOTP, recovery codes) and step-up tickets.

use super::*;
use crate::{
    domain::{FirstStep, RecoveryCodeHash, TicketHash},
    store::{NewStepUp, NewTotp},
};

fn enrolment(user_id: &str, secret: &str) -> NewTotp {
    NewTotp {
        user_id: user_id.into(),
        sealed_secret: secret.into(),
        sealed_recovery_codes: format!("codes-for-{secret}"),
        created_at: NOW,
    }
}

fn codes(count: usize) -> Vec<RecoveryCodeHash> {
    (0..count)
        .map(|i| RecoveryCodeHash::from_stored(format!("code-{i}")))
        .collect()
}

/// `u1` "ada" with a confirmed factor whose first code was of step 100.
async fn ada_with_totp(store: &dyn Store) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    store.begin_totp(enrolment("u1", "s1")).await.unwrap();
    assert!(
        store
            .confirm_totp("u1", 100, &codes(10), NOW)
            .await
            .unwrap()
    );
}

fn ticket(user_id: &str, expires_at: i64) -> (TicketHash, NewStepUp) {
    let hash = TicketHash::of_issued(&uuid::Uuid::now_v7().to_string());
    let ticket = NewStepUp {
        hash: hash.clone(),
        user_id: user_id.into(),
        first_step: FirstStep::Password,
        created_at: NOW,
        expires_at,
    };
    (hash, ticket)
}

pub async fn a_totp_factor_counts_only_once_confirmed_and_cannot_be_set_up_twice(
    store: &dyn Store,
) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    assert_eq!(
        store.second_factors("u1").await.unwrap(),
        SecondFactors::default()
    );
    store.begin_totp(enrolment("u1", "first")).await.unwrap();
    // An unconfirmed set-up is replaced by the next one, and asks nothing at sign-in.
    store.begin_totp(enrolment("u1", "second")).await.unwrap();
    let pending = store.second_factors("u1").await.unwrap();
    assert!(!pending.required());
    let totp = pending.totp.unwrap();
    assert_eq!(totp.sealed_secret, "second");
    assert_eq!(
        totp.sealed_recovery_codes.as_deref(),
        Some("codes-for-second")
    );
    assert_eq!(totp.confirmed_at, None);

    assert!(
        store
            .confirm_totp("u1", 100, &codes(10), NOW + 5)
            .await
            .unwrap()
    );
    let on = store.second_factors("u1").await.unwrap();
    assert!(on.required());
    assert_eq!(on.recovery_codes_left, 10);
    let totp = on.totp.unwrap();
    assert_eq!(
        (
            totp.confirmed_at,
            totp.last_used_step,
            totp.sealed_recovery_codes
        ),
        (Some(NOW + 5), 100, None)
    );
    assert!(
        !store
            .confirm_totp("u1", 101, &codes(10), NOW)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.begin_totp(enrolment("u1", "third")).await,
        Err(StoreError::Conflict("totp"))
    ));
    assert_eq!(
        store
            .second_factors("u1")
            .await
            .unwrap()
            .totp
            .unwrap()
            .sealed_secret,
        "second"
    );
}

pub async fn a_time_step_is_accepted_once_and_never_one_before_it(store: &dyn Store) {
    ada_with_totp(store).await;
    // The step of the confirming code is spent already.
    assert!(!store.use_totp_step("u1", 100, None).await.unwrap());
    assert!(store.use_totp_step("u1", 101, None).await.unwrap());
    assert!(!store.use_totp_step("u1", 101, None).await.unwrap());
    assert!(!store.use_totp_step("u1", 99, None).await.unwrap());
    assert!(
        store
            .use_totp_step("u1", 103, Some("resealed"))
            .await
            .unwrap()
    );
    let totp = store.second_factors("u1").await.unwrap().totp.unwrap();
    assert_eq!(
        (totp.last_used_step, totp.sealed_secret.as_str()),
        (103, "resealed")
    );
    // Nobody else's factor, and no factor at all, accepts anything.
    assert!(!store.use_totp_step("u2", 500, None).await.unwrap());
}

pub async fn parallel_uses_of_one_step_succeed_exactly_once(store: &dyn Store) {
    ada_with_totp(store).await;
    let attempts = (0..16).map(|_| store.use_totp_step("u1", 200, None));
    let accepted = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|outcome| *outcome.as_ref().unwrap())
        .count();
    assert_eq!(accepted, 1);
}

pub async fn a_recovery_code_works_once_even_when_presented_in_parallel(store: &dyn Store) {
    ada_with_totp(store).await;
    let code = RecoveryCodeHash::from_stored("code-3".into());
    let attempts = (0..16).map(|_| store.use_recovery_code("u1", &code));
    let accepted = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|outcome| *outcome.as_ref().unwrap())
        .count();
    assert_eq!(accepted, 1);
    assert_eq!(
        store
            .second_factors("u1")
            .await
            .unwrap()
            .recovery_codes_left,
        9
    );
    let other = RecoveryCodeHash::from_stored("code-4".into());
    assert!(store.use_recovery_code("u1", &other).await.unwrap());
    assert!(
        !store
            .use_recovery_code("u1", &RecoveryCodeHash::from_stored("unknown".into()))
            .await
            .unwrap()
    );
    // Another user's code is no code of this one's.
    assert!(!store.use_recovery_code("u2", &code).await.unwrap());
}

pub async fn removing_second_factors_removes_the_app_and_every_code(store: &dyn Store) {
    ada_with_totp(store).await;
    assert!(store.remove_second_factors("u1").await.unwrap());
    assert_eq!(
        store.second_factors("u1").await.unwrap(),
        SecondFactors::default()
    );
    assert!(!store.remove_second_factors("u1").await.unwrap());
    assert!(
        !store
            .use_recovery_code("u1", &RecoveryCodeHash::from_stored("code-0".into()))
            .await
            .unwrap()
    );
    assert!(!store.use_totp_step("u1", 500, None).await.unwrap());
    // And it can be set up afresh, with new codes only.
    store.begin_totp(enrolment("u1", "again")).await.unwrap();
    assert!(store.confirm_totp("u1", 600, &codes(2), NOW).await.unwrap());
    assert_eq!(
        store
            .second_factors("u1")
            .await
            .unwrap()
            .recovery_codes_left,
        2
    );
}

pub async fn new_recovery_codes_replace_every_old_one_and_are_shown_until_forgotten(
    store: &dyn Store,
) {
    // Recovery codes belong to a confirmed factor: none before, none while set up.
    store
        .create_user(new_user("u2", "bob", Role::User))
        .await
        .unwrap();
    assert!(
        !store
            .replace_recovery_codes("u2", &codes(3), Some("shown"))
            .await
            .unwrap()
    );
    store.begin_totp(enrolment("u2", "pending")).await.unwrap();
    assert!(
        !store
            .replace_recovery_codes("u2", &codes(3), None)
            .await
            .unwrap()
    );
    assert!(!store.forget_shown_recovery_codes("u2").await.unwrap());

    ada_with_totp(store).await;
    let fresh: Vec<RecoveryCodeHash> = (0..4)
        .map(|i| RecoveryCodeHash::from_stored(format!("fresh-{i}")))
        .collect();
    assert!(
        store
            .replace_recovery_codes("u1", &fresh, Some("sealed-fresh"))
            .await
            .unwrap()
    );
    let factors = store.second_factors("u1").await.unwrap();
    assert_eq!(factors.recovery_codes_left, 4);
    let totp = factors.totp.unwrap();
    assert_eq!(totp.sealed_recovery_codes.as_deref(), Some("sealed-fresh"));
    // Still the same confirmed factor: the app's codes go on working.
    assert_eq!(totp.confirmed_at, Some(NOW));
    assert!(store.use_totp_step("u1", 101, None).await.unwrap());
    // Every old code is gone, every new one works (once).
    assert!(
        !store
            .use_recovery_code("u1", &RecoveryCodeHash::from_stored("code-0".into()))
            .await
            .unwrap()
    );
    assert!(store.use_recovery_code("u1", &fresh[3]).await.unwrap());
    assert!(!store.use_recovery_code("u1", &fresh[3]).await.unwrap());

    assert!(store.forget_shown_recovery_codes("u1").await.unwrap());
    assert!(!store.forget_shown_recovery_codes("u1").await.unwrap());
    let factors = store.second_factors("u1").await.unwrap();
    assert_eq!(factors.totp.unwrap().sealed_recovery_codes, None);
    assert_eq!(factors.recovery_codes_left, 3);
    // Replaced without a copy to show: none is kept.
    assert!(
        store
            .replace_recovery_codes("u1", &codes(2), None)
            .await
            .unwrap()
    );
    let factors = store.second_factors("u1").await.unwrap();
    assert_eq!(factors.totp.unwrap().sealed_recovery_codes, None);
    assert_eq!(factors.recovery_codes_left, 2);

    // Two tabs replacing at once: one whole set wins, never a mix of both.
    let set = |name: &str, count: usize| -> Vec<RecoveryCodeHash> {
        (0..count)
            .map(|i| RecoveryCodeHash::from_stored(format!("{name}-{i}")))
            .collect()
    };
    let (left_tab, right_tab) = (set("left", 5), set("right", 7));
    let (left, right) = tokio::join!(
        store.replace_recovery_codes("u1", &left_tab, Some("left")),
        store.replace_recovery_codes("u1", &right_tab, Some("right")),
    );
    assert!(left.unwrap() && right.unwrap());
    let factors = store.second_factors("u1").await.unwrap();
    let (winner, loser) = match factors.totp.unwrap().sealed_recovery_codes.as_deref() {
        Some("left") => (&left_tab, &right_tab),
        Some("right") => (&right_tab, &left_tab),
        other => panic!("shown copy {other:?}"),
    };
    assert_eq!(factors.recovery_codes_left as usize, winner.len());
    assert!(!store.use_recovery_code("u1", &loser[0]).await.unwrap());
    assert!(store.use_recovery_code("u1", &winner[0]).await.unwrap());
}

pub async fn a_step_up_ticket_is_taken_once_and_not_after_it_expires(store: &dyn Store) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    let (hash, mut live) = ticket("u1", NOW + 300);
    live.first_step = FirstStep::EmailCode;
    store.create_step_up(live).await.unwrap();
    // Finding does not use it.
    for _ in 0..2 {
        let found = store.find_step_up(&hash, NOW + 10).await.unwrap().unwrap();
        assert_eq!(
            (found.user_id.as_str(), found.expires_at, found.first_step),
            ("u1", NOW + 300, FirstStep::EmailCode)
        );
    }
    let guessed = store.spend_step_up_guess(&hash, NOW + 11, 5).await.unwrap();
    assert_eq!(
        guessed.map(|ticket| ticket.first_step),
        Some(FirstStep::EmailCode)
    );
    let takers = (0..16).map(|_| store.take_step_up(&hash, NOW + 20));
    let taken: Vec<_> = futures::future::join_all(takers)
        .await
        .into_iter()
        .filter_map(|outcome| outcome.unwrap())
        .collect();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].first_step, FirstStep::EmailCode);
    assert!(store.find_step_up(&hash, NOW + 21).await.unwrap().is_none());

    let (old_hash, old) = ticket("u1", NOW + 300);
    store.create_step_up(old).await.unwrap();
    assert!(
        store
            .find_step_up(&old_hash, NOW + 300)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_step_up(&old_hash, NOW + 301)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.purge_expired(NOW + 301).await.unwrap() >= 1);
    // Gone for good: not even a clock set back finds it.
    assert!(store.find_step_up(&old_hash, NOW).await.unwrap().is_none());
}
