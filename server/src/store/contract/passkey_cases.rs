//! Contract cases for passkeys and their ceremonies.

use super::*;
use crate::domain::TicketHash;

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

    // Only the owner renames a passkey; nothing else of it changes.
    let other = if owner == "u1" { "u2" } else { "u1" };
    assert!(!store.rename_passkey(other, "c3", "stolen").await.unwrap());
    assert!(!store.rename_passkey("u1", "nope", "ghost").await.unwrap());
    assert!(store.rename_passkey("u1", "c1", "laptop").await.unwrap());
    let renamed = store.passkey_by_credential("c1").await.unwrap().unwrap();
    assert_eq!(
        (
            renamed.name.as_str(),
            renamed.passkey.as_str(),
            renamed.last_used_at
        ),
        ("laptop", "{\"counter\":2}", Some(NOW + 9))
    );
    assert_eq!(
        store
            .passkey_by_credential("c3")
            .await
            .unwrap()
            .unwrap()
            .name,
        "key c3"
    );

    // Only the owner's passkey is removed; `None` removes all of them.
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

    // A sign-up's ceremony has no account yet, and serves no other purpose.
    let (sign_up, new) = ceremony(CeremonyPurpose::SignUp, None, NOW + 300);
    store.create_ceremony(new).await.unwrap();
    for other in [CeremonyPurpose::SignIn, CeremonyPurpose::Register] {
        assert!(
            store
                .take_ceremony(&sign_up, other, NOW)
                .await
                .unwrap()
                .is_none()
        );
    }
    let taken = store
        .take_ceremony(&sign_up, CeremonyPurpose::SignUp, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.user_id, None);

    // "Confirm it is you" keeps its user, and its state serves nothing else.
    let (confirm, new) = ceremony(CeremonyPurpose::Reauthenticate, Some("u1"), NOW + 300);
    store.create_ceremony(new).await.unwrap();
    for other in [CeremonyPurpose::StepUp, CeremonyPurpose::SignIn] {
        assert!(
            store
                .take_ceremony(&confirm, other, NOW)
                .await
                .unwrap()
                .is_none()
        );
    }
    let taken = store
        .take_ceremony(&confirm, CeremonyPurpose::Reauthenticate, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.user_id.as_deref(), Some("u1"));

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

fn passwordless(id: &str, name: &str) -> NewUser {
    NewUser {
        password_hash: None,
        ..new_user(id, name, Role::User)
    }
}

pub async fn an_account_and_its_first_passkey_are_made_together_or_not_at_all(store: &dyn Store) {
    let ada = store
        .create_user_with_passkey(passwordless("u1", "ada"), passkey("c1", "u1", NOW))
        .await
        .unwrap();
    assert_eq!(ada.password_hash, None);
    assert_eq!(
        store.user_by_id("u1").await.unwrap().unwrap().password_hash,
        None
    );
    assert_eq!(store.passkeys_of("u1").await.unwrap().len(), 1);

    // A taken name: no passkey is left behind for the account that was not made.
    let taken = store
        .create_user_with_passkey(passwordless("u2", "ada"), passkey("c2", "u2", NOW))
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict("username"))),
        "{taken:?}"
    );
    assert!(store.passkey_by_credential("c2").await.unwrap().is_none());
    // A taken credential: no account is left behind without a way in.
    let reused = store
        .create_user_with_passkey(passwordless("u3", "bob"), passkey("c1", "u3", NOW))
        .await;
    assert!(
        matches!(reused, Err(StoreError::Conflict("passkey"))),
        "{reused:?}"
    );
    assert!(store.user_by_id("u3").await.unwrap().is_none());
    assert!(store.user_by_username_key("bob").await.unwrap().is_none());
    assert_eq!(
        store
            .passkey_by_credential("c1")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u1"
    );

    // A first password later.
    let first = PasswordHashString::from_phc("$argon2id$first".into());
    store.set_password_hash("u1", &first).await.unwrap();
    assert_eq!(
        store.user_by_id("u1").await.unwrap().unwrap().password_hash,
        Some(first)
    );
}

pub async fn the_last_passkey_stays_when_it_must(store: &dyn Store) {
    use crate::store::PasskeyRemoval;
    for (id, name) in [("u1", "ada"), ("u2", "bob")] {
        store.create_user(passwordless(id, name)).await.unwrap();
    }
    for (credential, user) in [("c1", "u1"), ("c2", "u1"), ("c3", "u2")] {
        store
            .add_passkey(passkey(credential, user, NOW))
            .await
            .unwrap();
    }
    assert_eq!(
        store.remove_passkey_unless_last("u1", "c9").await.unwrap(),
        PasskeyRemoval::NoSuchPasskey
    );
    assert_eq!(
        store.remove_passkey_unless_last("u1", "c3").await.unwrap(),
        PasskeyRemoval::NoSuchPasskey,
        "another account's passkey"
    );
    // Two tabs removing both: never none left.
    let removals = (0..8)
        .map(|i| store.remove_passkey_unless_last("u1", if i % 2 == 0 { "c1" } else { "c2" }));
    let outcomes = futures::future::join_all(removals).await;
    let left = store.passkeys_of("u1").await.unwrap().len();
    assert!(left >= 1, "the last passkey went: {outcomes:?}");
    let removed = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(PasskeyRemoval::Removed)))
        .count();
    assert_eq!(removed, 2 - left, "{outcomes:?}");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let last = store.passkeys_of("u1").await.unwrap()[0]
        .credential_id
        .clone();
    if left == 2 {
        let other = if last == "c1" { "c2" } else { "c1" };
        assert_eq!(
            store.remove_passkey_unless_last("u1", other).await.unwrap(),
            PasskeyRemoval::Removed
        );
    }
    assert_eq!(
        store.remove_passkey_unless_last("u1", &last).await.unwrap(),
        PasskeyRemoval::KeptAsLast
    );
    assert_eq!(store.passkeys_of("u1").await.unwrap().len(), 1);
    assert_eq!(store.passkeys_of("u2").await.unwrap().len(), 1, "untouched");
}
