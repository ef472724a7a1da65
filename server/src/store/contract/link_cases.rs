//! Contract cases for addresses and mailed links (verification, password reset).

use super::*;
use crate::{
    domain::{LinkHash, LinkPurpose},
    store::{NewEmail, NewLink},
};

const HOUR: i64 = 3600;

fn address(text: &str) -> NewEmail {
    NewEmail {
        address: text.into(),
        key: text.to_lowercase(),
    }
}

fn with_email(id: &str, name: &str, email: &str) -> NewUser {
    NewUser {
        email: Some(address(email)),
        ..new_user(id, name, Role::User)
    }
}

pub(super) async fn link_for(
    store: &dyn Store,
    user_id: &str,
    purpose: LinkPurpose,
    email: &str,
) -> LinkHash {
    let hash = LinkHash::of_issued(&uuid::Uuid::now_v7().to_string());
    store
        .create_link(NewLink {
            hash: hash.clone(),
            user_id: user_id.into(),
            purpose,
            email: email.into(),
            created_at: NOW,
            expires_at: NOW + HOUR,
        })
        .await
        .unwrap();
    hash
}

pub async fn an_address_is_unique_among_verified_accounts_case_insensitively(store: &dyn Store) {
    let ada = store
        .create_user(with_email("u1", "ada", "Ada@Example.org"))
        .await
        .unwrap();
    assert_eq!(ada.email.as_deref(), Some("Ada@Example.org"));
    assert!(!ada.email_verified);
    // Unverified, the address blocks nobody: a squatter cannot keep its owner out.
    let squatter = store
        .create_user(with_email("u2", "bob", "ADA@example.ORG"))
        .await
        .unwrap();
    assert!(!squatter.email_verified);
    store
        .create_user(new_user("u3", "cy", Role::User))
        .await
        .unwrap();
    store
        .set_email("u3", Some(&address("ada@EXAMPLE.org")))
        .await
        .unwrap();
    // With nobody verified, the address names the account that took it first.
    let found = store.user_by_email_key("ada@example.org").await.unwrap();
    assert_eq!(found.unwrap().id, "u1");
    assert!(
        store
            .user_by_email_key("nobody@example.org")
            .await
            .unwrap()
            .is_none()
    );

    // The first to verify it owns it: the address then names that account, and the
    // others' links no longer verify it.
    let bobs = link_for(store, "u2", LinkPurpose::VerifyEmail, "ADA@example.ORG").await;
    let adas = link_for(store, "u1", LinkPurpose::VerifyEmail, "Ada@Example.org").await;
    let verified = store.use_verification_link(&bobs, NOW + 1).await.unwrap();
    assert!(verified.unwrap().email_verified);
    let found = store.user_by_email_key("ada@example.org").await.unwrap();
    assert_eq!(found.unwrap().id, "u2");
    assert!(matches!(
        store.use_verification_link(&adas, NOW + 2).await,
        Err(StoreError::Conflict("email"))
    ));
    assert!(
        !store
            .user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    // Once it is given up, another account can verify it.
    store.set_email("u2", None).await.unwrap();
    let adas = link_for(store, "u1", LinkPurpose::VerifyEmail, "Ada@Example.org").await;
    let verified = store.use_verification_link(&adas, NOW + 3).await.unwrap();
    assert!(verified.unwrap().email_verified);
    let removed = store.set_email("u1", None).await.unwrap();
    assert_eq!(removed.email, None);
    let found = store.user_by_email_key("ada@example.org").await.unwrap();
    assert_eq!(found.unwrap().id, "u3");
}

pub async fn parallel_verifications_of_one_address_by_two_accounts_verify_exactly_one(
    store: &dyn Store,
) {
    let mut links = Vec::new();
    for (id, name) in [("u1", "ada"), ("u2", "bob"), ("u3", "cy"), ("u4", "di")] {
        store
            .create_user(with_email(id, name, "shared@example.org"))
            .await
            .unwrap();
        links.push(link_for(store, id, LinkPurpose::VerifyEmail, "shared@example.org").await);
    }
    let outcomes = futures::future::join_all(
        links
            .iter()
            .map(|link| store.use_verification_link(link, NOW + 1)),
    )
    .await;
    let verified = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Some(user)) if user.email_verified))
        .count();
    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(StoreError::Conflict("email"))))
        .count();
    assert_eq!((verified, refused), (1, 3), "{outcomes:?}");
}

pub async fn a_verification_link_works_once_and_only_for_the_address_it_was_sent_to(
    store: &dyn Store,
) {
    store
        .create_user(with_email("u1", "ada", "ada@example.org"))
        .await
        .unwrap();
    let link = link_for(store, "u1", LinkPurpose::VerifyEmail, "ada@example.org").await;
    let found = store
        .find_link(&link, LinkPurpose::VerifyEmail, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_id, "u1");
    // A link made for one purpose never serves the other.
    assert!(
        store
            .find_link(&link, LinkPurpose::ResetPassword, NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .use_reset_link(&link, &PasswordHashString::from_phc("$x".into()), NOW)
            .await
            .unwrap()
            .is_none()
    );

    let verified = store
        .use_verification_link(&link, NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert!(verified.email_verified);
    assert!(
        store
            .use_verification_link(&link, NOW + 2)
            .await
            .unwrap()
            .is_none()
    );

    // Changing the address makes it unverified and ends links sent to the old one.
    let stale = link_for(store, "u1", LinkPurpose::VerifyEmail, "ada@example.org").await;
    let changed = store
        .set_email("u1", Some(&address("ada@elsewhere.org")))
        .await
        .unwrap();
    assert!(!changed.email_verified);
    assert!(
        store
            .use_verification_link(&stale, NOW + 3)
            .await
            .unwrap()
            .is_none()
    );
    // Even a link that survived would not verify an address the account no longer has.
    let old_address = link_for(store, "u1", LinkPurpose::VerifyEmail, "ada@example.org").await;
    assert!(
        store
            .use_verification_link(&old_address, NOW + 4)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );

    let expired = link_for(store, "u1", LinkPurpose::VerifyEmail, "ada@elsewhere.org").await;
    assert!(
        store
            .use_verification_link(&expired, NOW + HOUR)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_reset_link_sets_the_password_once_and_ends_every_session(store: &Served) {
    store
        .create_user(with_email("u1", "ada", "ada@example.org"))
        .await
        .unwrap();
    session_for(&**store, "s1", "u1").await;
    session_for(&**store, "s2", "u1").await;
    let first = link_for(
        &**store,
        "u1",
        LinkPurpose::ResetPassword,
        "ada@example.org",
    )
    .await;
    let second = link_for(
        &**store,
        "u1",
        LinkPurpose::ResetPassword,
        "ada@example.org",
    )
    .await;
    let new_hash = PasswordHashString::from_phc("$argon2id$new".into());

    let user = store
        .use_reset_link(&first, &new_hash, NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.password_hash.as_ref(), Some(&new_hash));
    assert!(store.list_sessions("u1", NOW + 1).await.unwrap().is_empty());
    assert!(
        !store
            .access_status("j", "s1", "u1", NOW + 1)
            .await
            .unwrap()
            .unwrap()
            .session_active
    );
    // Used once; and every other reset link of the account died with the old password.
    assert!(
        store
            .use_reset_link(&first, &new_hash, NOW + 2)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_link(&second, LinkPurpose::ResetPassword, NOW + 2)
            .await
            .unwrap()
            .is_none()
    );

    let expired = link_for(
        &**store,
        "u1",
        LinkPurpose::ResetPassword,
        "ada@example.org",
    )
    .await;
    assert!(
        store
            .use_reset_link(&expired, &new_hash, NOW + HOUR)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn parallel_uses_of_one_reset_link_succeed_exactly_once(store: &dyn Store) {
    store
        .create_user(with_email("u1", "ada", "ada@example.org"))
        .await
        .unwrap();
    let link = link_for(store, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
    let attempts = (0..8).map(|n| {
        let hash = PasswordHashString::from_phc(format!("$argon2id${n}"));
        let link = link.clone();
        async move { store.use_reset_link(&link, &hash, NOW + 1).await.unwrap() }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let winners: Vec<_> = outcomes.into_iter().flatten().collect();
    assert_eq!(winners.len(), 1);
    let stored = store.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(stored.password_hash, winners[0].password_hash);
}

pub async fn a_sign_in_code_is_used_once_and_ends_its_users_other_codes(store: &dyn Store) {
    for (id, name) in [("u1", "ada"), ("u2", "bob")] {
        store
            .create_user(with_email(id, name, &format!("{name}@example.org")))
            .await
            .unwrap();
    }
    let code = link_for(store, "u1", LinkPurpose::SignInCode, "ada@example.org").await;
    let older = link_for(store, "u1", LinkPurpose::SignInCode, "ada@example.org").await;
    let bobs = link_for(store, "u2", LinkPurpose::SignInCode, "bob@example.org").await;
    let reset = link_for(store, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
    // Not a code: a link of another purpose is not used as one.
    assert!(store.use_sign_in_code(&reset, NOW).await.unwrap().is_none());
    let users = (0..8).map(|_| store.use_sign_in_code(&code, NOW + 1));
    let used: Vec<_> = futures::future::join_all(users)
        .await
        .into_iter()
        .filter_map(Result::unwrap)
        .collect();
    assert_eq!(used.len(), 1, "one of eight parallel uses succeeds");
    assert_eq!(
        (
            used[0].user_id.as_str(),
            used[0].email.as_str(),
            used[0].purpose
        ),
        ("u1", "ada@example.org", LinkPurpose::SignInCode)
    );
    assert!(
        store
            .use_sign_in_code(&older, NOW + 2)
            .await
            .unwrap()
            .is_none()
    );
    // Another user's code and the reset link live on.
    assert!(
        store
            .find_link(&reset, LinkPurpose::ResetPassword, NOW + 2)
            .await
            .unwrap()
            .is_some()
    );
    let expired = link_for(store, "u2", LinkPurpose::SignInCode, "bob@example.org").await;
    assert!(
        store
            .use_sign_in_code(&expired, NOW + HOUR)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .use_sign_in_code(&bobs, NOW + 3)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn a_password_change_ends_outstanding_reset_links_but_not_verification(
    store: &dyn Store,
) {
    store
        .create_user(with_email("u1", "ada", "ada@example.org"))
        .await
        .unwrap();
    let reset = link_for(store, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
    let verify = link_for(store, "u1", LinkPurpose::VerifyEmail, "ada@example.org").await;
    store
        .set_password_hash(
            "u1",
            &PasswordHashString::from_phc("$argon2id$changed".into()),
        )
        .await
        .unwrap();
    assert!(
        store
            .find_link(&reset, LinkPurpose::ResetPassword, NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_link(&verify, LinkPurpose::VerifyEmail, NOW)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn an_address_change_ends_every_link_sent_to_the_old_address(store: &dyn Store) {
    store
        .create_user(with_email("u1", "ada", "ada@example.org"))
        .await
        .unwrap();
    let reset = link_for(store, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
    let verify = link_for(store, "u1", LinkPurpose::VerifyEmail, "ada@example.org").await;
    let code = link_for(store, "u1", LinkPurpose::SignInCode, "ada@example.org").await;
    store
        .set_email("u1", Some(&address("ada@elsewhere.example")))
        .await
        .unwrap();
    for (link, purpose) in [
        (&reset, LinkPurpose::ResetPassword),
        (&verify, LinkPurpose::VerifyEmail),
        (&code, LinkPurpose::SignInCode),
    ] {
        assert!(
            store.find_link(link, purpose, NOW).await.unwrap().is_none(),
            "{purpose:?}"
        );
    }
}

pub async fn purging_removes_expired_links(store: &dyn Store) {
    store
        .create_user(with_email("u1", "ada", "ada@example.org"))
        .await
        .unwrap();
    let link = link_for(store, "u1", LinkPurpose::ResetPassword, "ada@example.org").await;
    assert!(store.purge_expired(NOW + HOUR - 1).await.unwrap() == 0);
    assert!(
        store
            .find_link(&link, LinkPurpose::ResetPassword, NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.purge_expired(NOW + HOUR).await.unwrap(), 1);
    assert!(
        store
            .find_link(&link, LinkPurpose::ResetPassword, NOW)
            .await
            .unwrap()
            .is_none()
    );
}
