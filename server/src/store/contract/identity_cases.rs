//! Contract cases for identities of other providers linked to accounts.

use super::*;
use crate::store::{IdentityUnlinking, LinkedIdentity};

fn identity(provider: &str, subject: &str, user_id: &str, at: i64) -> LinkedIdentity {
    LinkedIdentity {
        provider: provider.into(),
        subject: subject.into(),
        user_id: user_id.into(),
        email: Some(format!("{subject}@{provider}.example")),
        linked_at: at,
        last_used_at: None,
    }
}

fn without_password(id: &str, name: &str) -> NewUser {
    NewUser {
        password_hash: None,
        ..new_user(id, name, Role::User)
    }
}

pub async fn a_providers_subject_belongs_to_one_account_and_is_listed_and_used(store: &dyn Store) {
    for (id, name) in [("u1", "ada"), ("u2", "bob")] {
        store
            .create_user(new_user(id, name, Role::User))
            .await
            .unwrap();
    }
    store
        .link_identity(identity("corp", "s-2", "u1", NOW + 1))
        .await
        .unwrap();
    store
        .link_identity(identity("corp", "s-1", "u1", NOW))
        .await
        .unwrap();
    // The same subject of the same provider, for anyone, in parallel: exactly one lands.
    let attempts = (0..8).map(|i| {
        store.link_identity(identity(
            "corp",
            "shared subject",
            if i % 2 == 0 { "u1" } else { "u2" },
            NOW + 2,
        ))
    });
    let outcomes = futures::future::join_all(attempts).await;
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1);
    assert!(
        outcomes
            .iter()
            .filter(|outcome| outcome.is_err())
            .all(|outcome| matches!(outcome, Err(StoreError::Conflict("identity"))))
    );
    let owner = store
        .linked_identity("corp", "shared subject")
        .await
        .unwrap()
        .unwrap()
        .user_id;
    // The same subject at another provider is another person.
    store
        .link_identity(identity("other", "s-1", "u2", NOW))
        .await
        .unwrap();

    let listed: Vec<(String, String)> = store
        .identities_of("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|linked| (linked.provider, linked.subject))
        .collect();
    let mut expected = vec![
        ("corp".to_owned(), "s-1".to_owned()),
        ("corp".to_owned(), "s-2".to_owned()),
    ];
    if owner == "u1" {
        expected.push(("corp".into(), "shared subject".into()));
    }
    assert_eq!(listed, expected, "oldest first");
    assert_eq!(
        store
            .linked_identity("other", "s-1")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u2"
    );
    assert!(
        store
            .linked_identity("corp", "S-1")
            .await
            .unwrap()
            .is_none(),
        "subjects are exact"
    );
    assert!(
        store
            .linked_identity("other", "s-2")
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        store
            .record_identity_use("corp", "s-1", NOW + 60)
            .await
            .unwrap()
    );
    let used = store.linked_identity("corp", "s-1").await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(NOW + 60));
    assert_eq!(used.linked_at, NOW);
    assert_eq!(used.email.as_deref(), Some("s-1@corp.example"));
    assert!(
        !store
            .record_identity_use("corp", "nobody", NOW + 60)
            .await
            .unwrap()
    );
}

pub async fn an_account_and_its_first_identity_are_made_together_or_not_at_all(store: &dyn Store) {
    let ada = store
        .create_user_with_identity(
            without_password("u1", "ada"),
            identity("corp", "s-1", "u1", NOW),
        )
        .await
        .unwrap();
    assert_eq!(ada.password_hash, None);
    assert_eq!(store.identities_of("u1").await.unwrap().len(), 1);

    // A taken name: no identity is left behind for the account that was not made.
    let taken = store
        .create_user_with_identity(
            without_password("u2", "ada"),
            identity("corp", "s-2", "u2", NOW),
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict("username"))),
        "{taken:?}"
    );
    assert!(
        store
            .linked_identity("corp", "s-2")
            .await
            .unwrap()
            .is_none()
    );
    // A linked identity: no account is made around it.
    let linked = store
        .create_user_with_identity(
            without_password("u3", "bob"),
            identity("corp", "s-1", "u3", NOW),
        )
        .await;
    assert!(
        matches!(linked, Err(StoreError::Conflict("identity"))),
        "{linked:?}"
    );
    assert!(store.user_by_id("u3").await.unwrap().is_none());
    assert_eq!(
        store
            .linked_identity("corp", "s-1")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u1"
    );
}

pub async fn an_identity_is_unlinked_by_its_owner_and_the_last_is_kept_when_asked(
    store: &dyn Store,
) {
    let corp = ["corp".to_owned()];
    for (id, name) in [("u1", "ada"), ("u2", "bob")] {
        store.create_user(without_password(id, name)).await.unwrap();
    }
    for (subject, at) in [("s-1", NOW), ("s-2", NOW + 1)] {
        store
            .link_identity(identity("corp", subject, "u1", at))
            .await
            .unwrap();
    }
    store
        .link_identity(identity("corp", "s-9", "u2", NOW))
        .await
        .unwrap();
    // Only its owner unlinks it.
    assert_eq!(
        store
            .unlink_identity("u2", "corp", "s-1", None)
            .await
            .unwrap(),
        IdentityUnlinking::NotLinked
    );
    // The last two, unlinked in parallel when one must stay: one goes, one stays.
    let (first, second) = futures::join!(
        store.unlink_identity("u1", "corp", "s-1", Some(&corp)),
        store.unlink_identity("u1", "corp", "s-2", Some(&corp)),
    );
    let outcomes = [first.unwrap(), second.unwrap()];
    let unlinked = outcomes
        .iter()
        .filter(|outcome| **outcome == IdentityUnlinking::Unlinked)
        .count();
    // MongoDB's take-and-put-back may refuse both (never unlink both); SQLite unlinks one.
    assert!(
        unlinked == 1 || (unlinked == 0 && store.identities_of("u1").await.unwrap().len() == 2),
        "{outcomes:?}"
    );
    let left = store.identities_of("u1").await.unwrap();
    assert_eq!(left.len(), 2 - unlinked);
    if unlinked == 1 {
        let last = &left[0].subject;
        assert_eq!(
            store
                .unlink_identity("u1", "corp", last, Some(&corp))
                .await
                .unwrap(),
            IdentityUnlinking::KeptAsLast
        );
        assert_eq!(
            store
                .unlink_identity("u1", "corp", last, None)
                .await
                .unwrap(),
            IdentityUnlinking::Unlinked
        );
        assert!(store.identities_of("u1").await.unwrap().is_empty());
        assert!(store.linked_identity("corp", last).await.unwrap().is_none());
    }
    assert_eq!(
        store.identities_of("u2").await.unwrap().len(),
        1,
        "untouched"
    );
}

pub async fn an_identity_with_a_provider_no_longer_offered_is_no_way_in_to_keep(store: &dyn Store) {
    store
        .create_user(without_password("u1", "ada"))
        .await
        .unwrap();
    for (provider, subject) in [("gone", "s-1"), ("corp", "s-2"), ("gone", "s-3")] {
        store
            .link_identity(identity(provider, subject, "u1", NOW))
            .await
            .unwrap();
    }
    let offered = &["corp".to_owned(), "other".to_owned()];
    let unlink = |provider: &'static str, subject: &'static str| async move {
        store
            .unlink_identity("u1", provider, subject, Some(offered))
            .await
            .unwrap()
    };
    // Two identities are left beside it, but neither signs in any more: it stays.
    assert_eq!(unlink("corp", "s-2").await, IdentityUnlinking::KeptAsLast);
    // One with a provider no longer offered changes no way in: it goes, even the last.
    assert_eq!(unlink("gone", "s-1").await, IdentityUnlinking::Unlinked);
    assert_eq!(unlink("gone", "s-3").await, IdentityUnlinking::Unlinked);
    let left = store.identities_of("u1").await.unwrap();
    assert_eq!(
        left.iter()
            .map(|identity| (identity.provider.as_str(), identity.subject.as_str()))
            .collect::<Vec<_>>(),
        [("corp", "s-2")]
    );
    assert_eq!(unlink("corp", "s-2").await, IdentityUnlinking::KeptAsLast);
}
