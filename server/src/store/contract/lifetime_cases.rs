//! Contract cases for what holds over a store's whole life and under several writers:
//! reuse detection however old the replayed token, a disabled account's token left as it
//! was, a first-admin bootstrap that neither blocks after a failure nor creates two, pages
//! far past the end, and audit ids from parallel writers. Each of these once differed
//! between the backends.

use super::*;
use crate::store::{Page, UserRecord};

const CHAIN: usize = 60;

fn event(kind: &'static str, at: i64) -> NewAuditEvent {
    NewAuditEvent {
        at,
        kind,
        user_id: Some("u1".into()),
        username: Some("ada".into()),
        ip: None,
        user_agent: None,
        detail: None,
    }
}

async fn first_hundred_users(store: &dyn Store) -> Page<UserRecord> {
    store
        .list_users(&UserQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

pub async fn reuse_is_detected_however_many_rotations_ago_the_token_was_replaced(
    store: &dyn Store,
) {
    let first = ada_with_session(store).await;
    let mut current = first.clone();
    for step in 0..CHAIN {
        let next = fresh_hash();
        let at = NOW + step as i64 * 60;
        let rotation = store
            .rotate_refresh(&current, &next, at, at + WEEK, NO_GRACE)
            .await
            .unwrap();
        assert!(matches!(rotation, Rotation::Rotated { .. }), "step {step}");
        current = next;
    }
    let later = NOW + CHAIN as i64 * 60;
    let replay = store
        .rotate_refresh(&first, &fresh_hash(), later, later + WEEK, NO_GRACE)
        .await
        .unwrap();
    assert!(
        matches!(&replay, Rotation::Reused { session_id, .. } if session_id == "s1"),
        "{replay:?}"
    );
    assert!(
        store
            .session_by_refresh(&current, later)
            .await
            .unwrap()
            .is_none(),
        "the replay ended the session"
    );
}

pub async fn a_disabled_users_refresh_token_is_refused_and_left_as_it_was(store: &dyn Store) {
    let token = ada_with_session(store).await;
    let disable = |disabled| UserChange {
        role: None,
        disabled: Some(disabled),
    };
    store.update_user("u1", &disable(true)).await.unwrap();
    let refused = store
        .rotate_refresh(&token, &fresh_hash(), NOW + 1, NOW + WEEK, NO_GRACE)
        .await
        .unwrap();
    assert!(matches!(refused, Rotation::Invalid), "{refused:?}");
    // Enabled again (the core also ends the sessions on disabling; the store alone does
    // not): the token was never rotated, so it still rotates once.
    store.update_user("u1", &disable(false)).await.unwrap();
    let rotated = store
        .rotate_refresh(&token, &fresh_hash(), NOW + 2, NOW + WEEK, NO_GRACE)
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated { .. }), "{rotated:?}");
}

pub async fn a_failed_first_admin_does_not_block_the_next_bootstrap(store: &dyn Store) {
    store
        .create_user(new_user("u1", "taken", Role::User))
        .await
        .unwrap();
    let clash = store
        .create_first_admin(new_user("a1", "taken", Role::User))
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let admin = store
        .create_first_admin(new_user("a2", "root", Role::User))
        .await
        .unwrap()
        .expect("the failed bootstrap left the way open");
    assert_eq!((admin.id.as_str(), admin.role), ("a2", Role::Admin));
}

pub async fn parallel_bootstraps_create_exactly_one_admin(store: &dyn Store) {
    let attempts = (0..12).map(|i| {
        store.create_first_admin(new_user(&format!("a{i}"), &format!("root{i}"), Role::User))
    });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|result| matches!(result, Ok(Some(_))))
        .count();
    let declined = results
        .iter()
        .filter(|result| matches!(result, Ok(None)))
        .count();
    assert_eq!((created, declined), (1, 11), "{results:?}");
    let everyone = first_hundred_users(store).await;
    assert_eq!(everyone.total, 1);
    assert_eq!(everyone.items[0].role, Role::Admin);
}

pub async fn a_page_far_past_the_end_is_empty_and_still_counts_everything(store: &dyn Store) {
    for (i, name) in ["alice", "bob", "carol"].iter().enumerate() {
        store
            .create_user(new_user(&format!("u{i}"), name, Role::User))
            .await
            .unwrap();
        store
            .append_audit(event("login", NOW + i as i64))
            .await
            .unwrap();
    }
    for offset in [3, 1 << 40, u64::MAX] {
        let users = store
            .list_users(&UserQuery {
                search: None,
                offset,
                limit: 100,
            })
            .await
            .unwrap();
        assert_eq!((users.items.len(), users.total), (0, 3), "offset {offset}");
        let events = store
            .list_audit(&AuditQuery {
                offset,
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (events.items.len(), events.total),
            (0, 3),
            "offset {offset}"
        );
    }
}

pub async fn audit_events_written_at_once_all_land_with_distinct_ids_newest_first(
    store: &dyn Store,
) {
    let writes = (0..40).map(|i| store.append_audit(event("login", NOW + i)));
    for outcome in futures::future::join_all(writes).await {
        outcome.unwrap();
    }
    store.append_audit(event("logout", NOW + 99)).await.unwrap();
    let page = store
        .list_audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (41, 41));
    assert_eq!(
        page.items[0].kind, "logout",
        "the last written is listed first"
    );
    assert!(
        page.items.windows(2).all(|pair| pair[0].id > pair[1].id),
        "ids are distinct and listed newest first"
    );
}

pub async fn admins_demoted_and_disabled_at_once_leave_exactly_one_active(store: &dyn Store) {
    for id in ["a1", "a2", "a3", "a4"] {
        store
            .create_user(new_user(id, &format!("root_{id}"), Role::Admin))
            .await
            .unwrap();
    }
    let demote = UserChange {
        role: Some(Role::User),
        disabled: None,
    };
    let disable = UserChange {
        role: None,
        disabled: Some(true),
    };
    let changes = [
        ("a1", &demote),
        ("a2", &disable),
        ("a3", &demote),
        ("a4", &disable),
    ];
    let results = futures::future::join_all(
        changes
            .iter()
            .map(|(id, change)| store.update_user(id, change)),
    )
    .await;
    let done = results.iter().filter(|result| result.is_ok()).count();
    let refused = results
        .iter()
        .filter(|result| matches!(result, Err(StoreError::LastAdmin)))
        .count();
    assert_eq!((done, refused), (3, 1), "{results:?}");
    let everyone = first_hundred_users(store).await;
    let active_admins = everyone
        .items
        .iter()
        .filter(|user| user.role == Role::Admin && !user.disabled)
        .count();
    assert_eq!(active_admins, 1);
}
