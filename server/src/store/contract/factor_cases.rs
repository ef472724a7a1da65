//! Contract cases for second factors (TOTP, recovery codes) and step-up tickets.

use super::*;
use crate::{
    domain::{RecoveryCodeHash, TicketHash},
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

pub async fn a_step_up_ticket_is_taken_once_and_not_after_it_expires(store: &dyn Store) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    let (hash, live) = ticket("u1", NOW + 300);
    store.create_step_up(live).await.unwrap();
    // Finding does not use it.
    for _ in 0..2 {
        let found = store.find_step_up(&hash, NOW + 10).await.unwrap().unwrap();
        assert_eq!(
            (found.user_id.as_str(), found.expires_at),
            ("u1", NOW + 300)
        );
    }
    let takers = (0..16).map(|_| store.take_step_up(&hash, NOW + 20));
    let taken = futures::future::join_all(takers)
        .await
        .into_iter()
        .filter(|outcome| outcome.as_ref().unwrap().is_some())
        .count();
    assert_eq!(taken, 1);
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

fn passkey(credential_id: &str, user_id: &str, at: i64) -> crate::store::NewPasskey {
    crate::store::NewPasskey {
        credential_id: credential_id.into(),
        user_id: user_id.into(),
        name: format!("key {credential_id}"),
        passkey: format!("{{\"cred\":\"{credential_id}\"}}"),
        created_at: at,
    }
}

pub async fn a_credential_belongs_to_one_account_and_is_listed_removed_and_updated(
    store: &dyn Store,
) {
    for (id, name) in [("u1", "ada"), ("u2", "bob")] {
        store
            .create_user(new_user(id, name, Role::User))
            .await
            .unwrap();
    }
    store
        .add_passkey(passkey("c2", "u1", NOW + 1))
        .await
        .unwrap();
    store.add_passkey(passkey("c1", "u1", NOW)).await.unwrap();
    // The same credential again, for anyone, is refused — in parallel, exactly one lands.
    let attempts = (0..8)
        .map(|i| store.add_passkey(passkey("c3", if i % 2 == 0 { "u1" } else { "u2" }, NOW + 2)));
    let outcomes = futures::future::join_all(attempts).await;
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1);
    assert!(
        outcomes
            .iter()
            .filter(|outcome| outcome.is_err())
            .all(|outcome| matches!(outcome, Err(StoreError::Conflict("passkey"))))
    );
    let owner = store
        .passkey_by_credential("c3")
        .await
        .unwrap()
        .unwrap()
        .user_id;

    let listed: Vec<String> = store
        .passkeys_of("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.credential_id)
        .collect();
    let mut expected = vec!["c1".to_owned(), "c2".to_owned()];
    if owner == "u1" {
        expected.push("c3".into());
    }
    assert_eq!(listed, expected, "oldest first");

    assert!(
        store
            .record_passkey_use("c1", "{\"counter\":2}", NOW + 9)
            .await
            .unwrap()
    );
    let used = store.passkey_by_credential("c1").await.unwrap().unwrap();
    assert_eq!(
        (used.passkey.as_str(), used.last_used_at, used.name.as_str()),
        ("{\"counter\":2}", Some(NOW + 9), "key c1")
    );
    assert!(!store.record_passkey_use("nope", "{}", NOW).await.unwrap());

    // Only the owner's passkey is removed; `None` removes all of them.
    let other = if owner == "u1" { "u2" } else { "u1" };
    assert_eq!(store.remove_passkeys(other, Some("c3")).await.unwrap(), 0);
    assert_eq!(store.remove_passkeys("u1", Some("c2")).await.unwrap(), 1);
    assert!(store.passkey_by_credential("c2").await.unwrap().is_none());
    let left = store.passkeys_of("u1").await.unwrap().len() as u64;
    assert_eq!(store.remove_passkeys("u1", None).await.unwrap(), left);
    assert!(store.passkeys_of("u1").await.unwrap().is_empty());
}

pub async fn a_ceremony_is_taken_once_for_its_own_purpose_and_not_after_it_expires(
    store: &dyn Store,
) {
    use crate::store::{CeremonyPurpose, NewCeremony};
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    let ceremony = |purpose, user_id: Option<&str>, expires_at| {
        let hash = TicketHash::of_issued(&uuid::Uuid::now_v7().to_string());
        let new = NewCeremony {
            hash: hash.clone(),
            user_id: user_id.map(str::to_owned),
            purpose,
            state: "{\"state\":1}".into(),
            created_at: NOW,
            expires_at,
        };
        (hash, new)
    };
    let (register, new) = ceremony(CeremonyPurpose::Register, Some("u1"), NOW + 300);
    store.create_ceremony(new).await.unwrap();
    // A registration's state never serves a sign-in.
    assert!(
        store
            .take_ceremony(&register, CeremonyPurpose::SignIn, NOW)
            .await
            .unwrap()
            .is_none()
    );
    let takers = (0..12).map(|_| store.take_ceremony(&register, CeremonyPurpose::Register, NOW));
    let taken: Vec<_> = futures::future::join_all(takers)
        .await
        .into_iter()
        .filter_map(|outcome| outcome.unwrap())
        .collect();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].user_id.as_deref(), Some("u1"));
    assert_eq!(taken[0].state, "{\"state\":1}");

    let (sign_in, new) = ceremony(CeremonyPurpose::SignIn, None, NOW + 300);
    store.create_ceremony(new).await.unwrap();
    assert!(
        store
            .take_ceremony(&sign_in, CeremonyPurpose::SignIn, NOW + 300)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(store.purge_expired(NOW + 301).await.unwrap() >= 1);
    assert!(
        store
            .take_ceremony(&sign_in, CeremonyPurpose::SignIn, NOW)
            .await
            .unwrap()
            .is_none(),
        "purged"
    );
}
