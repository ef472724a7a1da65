//! The access check, as a server asks it (through its memory): every change shows at once.

use super::{link_cases::link_for, *};
use crate::{domain::LinkPurpose, store::NewEmail};

pub async fn access_status_reflects_revocation_session_and_user_state(store: &Served) {
    ada_with_session(&**store).await;
    let live = AccessStatus {
        jti_revoked: false,
        session_active: true,
        session_second_factor: false,
        user_disabled: false,
        role: Role::User,
        username: "ada".into(),
        user: UserFacts {
            email: None,
            email_verified: false,
            created_at: NOW,
        },
    };
    assert_eq!(
        store.access_status("j1", "s1", "u1", NOW).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        store
            .access_status("j1", "s1", "someone-else", NOW)
            .await
            .unwrap(),
        None
    );

    assert!(!store.jti_revoked("j1").await.unwrap());
    store.revoke_jti("j1", NOW + 900).await.unwrap();
    assert!(store.jti_revoked("j1").await.unwrap());
    assert!(!store.jti_revoked("j2").await.unwrap());
    let status = store
        .access_status("j1", "s1", "u1", NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(status.jti_revoked);
    assert!(
        !store
            .access_status("j2", "s1", "u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .jti_revoked
    );

    assert!(store.revoke_session("u1", "s1", NOW).await.unwrap());
    assert!(
        !store
            .access_status("j2", "s1", "u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .session_active
    );
    assert!(!store.revoke_session("u1", "s1", NOW).await.unwrap());

    store
        .update_user(
            "u1",
            &UserChange {
                role: None,
                disabled: Some(true),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .access_status("j2", "s1", "u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .user_disabled
    );
}

/// The embedded store answers repeated lookups from memory; each change below comes
/// after the same lookup was answered once, and must show at once.
pub async fn an_answered_access_status_follows_every_later_change(store: &Served) {
    store
        .create_user(new_user("u0", "root", Role::Admin))
        .await
        .unwrap();
    let first_refresh = ada_with_session(&**store).await;
    let status = |now: i64| async move {
        store
            .access_status("j1", "s1", "u1", now)
            .await
            .unwrap()
            .unwrap()
    };
    let change = |role: Option<Role>, disabled: Option<bool>| async move {
        store
            .update_user("u1", &UserChange { role, disabled })
            .await
            .unwrap();
    };
    assert_eq!(status(NOW).await.role, Role::User);

    change(Some(Role::Admin), None).await;
    assert_eq!(status(NOW).await.role, Role::Admin);
    change(None, Some(true)).await;
    assert!(status(NOW).await.user_disabled);
    change(None, Some(false)).await;
    assert!(!status(NOW).await.user_disabled);

    // The user facts `/auth/me` shows come with the answer: an address set, verified,
    // changed or removed shows at once too.
    let address = |text: &str| NewEmail {
        address: text.into(),
        key: text.to_lowercase(),
    };
    store
        .set_email("u1", Some(&address("Ada@Example.org")))
        .await
        .unwrap();
    let facts = status(NOW).await.user;
    assert_eq!(facts.email.as_deref(), Some("Ada@Example.org"));
    assert!(!facts.email_verified);
    let link = link_for(&**store, "u1", LinkPurpose::VerifyEmail, "Ada@Example.org").await;
    assert!(
        store
            .use_verification_link(&link, NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(status(NOW).await.user.email_verified);
    store
        .set_email("u1", Some(&address("ada@elsewhere.example")))
        .await
        .unwrap();
    let facts = status(NOW).await.user;
    assert_eq!(facts.email.as_deref(), Some("ada@elsewhere.example"));
    assert!(!facts.email_verified);
    store.set_email("u1", None).await.unwrap();
    assert_eq!(status(NOW).await.user.email, None);
    assert_eq!(status(NOW).await.user.created_at, NOW);

    // A rotation extends the session: the token stays good past the first expiry.
    let later = NOW + WEEK + 10;
    assert!(!status(later).await.session_active);
    let second_refresh = fresh_hash();
    assert!(matches!(
        store
            .rotate_refresh(
                &first_refresh,
                &second_refresh,
                NOW + 100,
                NOW + 2 * WEEK,
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    assert!(status(later).await.session_active);
    assert!(status(NOW + 200).await.session_active);

    // Replaying the superseded token ends the session.
    assert!(matches!(
        store
            .rotate_refresh(
                &first_refresh,
                &fresh_hash(),
                NOW + 300,
                NOW + 2 * WEEK,
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Reused { .. }
    ));
    assert!(!status(NOW + 300).await.session_active);
}
