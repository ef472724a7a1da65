//! Accounts: creation, uniqueness, the first admin, the last admin, listing.

use super::*;

pub async fn a_created_user_is_found_by_id_and_by_key(store: &dyn Store) {
    let created = store
        .create_user(new_user("u1", "Ada", Role::User))
        .await
        .unwrap();
    assert_eq!(created.username, "Ada");
    let by_key = store.user_by_username_key("ada").await.unwrap().unwrap();
    assert_eq!(by_key.id, "u1");
    let by_id = store.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(by_id.username_key, "ada");
    assert!(store.user_by_id("nobody").await.unwrap().is_none());
}

pub async fn the_ways_an_owner_turned_off_are_kept_and_replaced(store: &dyn Store) {
    let created = store
        .create_user(new_user("u1", "Ada", Role::User))
        .await
        .unwrap();
    assert_eq!(created.ways_off, WaysOff::default());
    let off = WaysOff {
        password: true,
        passkey: false,
        email_code: true,
    };
    assert_eq!(store.set_ways_off("u1", off).await.unwrap().ways_off, off);
    assert_eq!(store.user_by_id("u1").await.unwrap().unwrap().ways_off, off);
    assert_eq!(
        store
            .user_by_username_key("ada")
            .await
            .unwrap()
            .unwrap()
            .ways_off,
        off
    );
    let back_on = store.set_ways_off("u1", WaysOff::default()).await.unwrap();
    assert_eq!(back_on.ways_off, WaysOff::default());
    assert_eq!(
        store.user_by_id("u1").await.unwrap().unwrap().ways_off,
        WaysOff::default()
    );
    assert!(matches!(
        store.set_ways_off("nobody", off).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_second_user_with_the_same_key_is_a_conflict(store: &dyn Store) {
    store
        .create_user(new_user("u1", "ada", Role::User))
        .await
        .unwrap();
    let mut twin = new_user("u2", "ADA", Role::User);
    twin.username_key = "ada".into();
    assert!(matches!(
        store.create_user(twin).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn only_one_of_many_parallel_creations_of_a_name_succeeds(store: &dyn Store) {
    let attempts =
        (0..20).map(|i| store.create_user(new_user(&format!("u{i}"), "ada", Role::User)));
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((created, conflicts), (1, 19));
}

pub async fn the_first_admin_is_created_only_once(store: &dyn Store) {
    let first = store
        .create_first_admin(new_user("a1", "root", Role::User))
        .await
        .unwrap();
    assert_eq!(first.unwrap().role, Role::Admin);
    let second = store
        .create_first_admin(new_user("a2", "root2", Role::User))
        .await
        .unwrap();
    assert!(second.is_none());
}

pub async fn the_last_active_admin_cannot_be_demoted_or_disabled(store: &dyn Store) {
    store
        .create_user(new_user("a1", "root", Role::Admin))
        .await
        .unwrap();
    let demote = UserChange {
        role: Some(Role::User),
        disabled: None,
    };
    let disable = UserChange {
        role: None,
        disabled: Some(true),
    };
    assert!(matches!(
        store.update_user("a1", &demote).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store.update_user("a1", &disable).await,
        Err(StoreError::LastAdmin)
    ));
    store
        .create_user(new_user("a2", "root2", Role::Admin))
        .await
        .unwrap();
    assert_eq!(
        store.update_user("a1", &demote).await.unwrap().role,
        Role::User
    );
    assert!(matches!(
        store.update_user("a2", &disable).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store.update_user("nobody", &demote).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn users_are_listed_paged_and_searched(store: &dyn Store) {
    for (i, name) in ["alice", "bob", "alina", "carol", "al_x"]
        .iter()
        .enumerate()
    {
        store
            .create_user(new_user(&format!("u{i}"), name, Role::User))
            .await
            .unwrap();
    }
    let all = store
        .list_users(&UserQuery {
            search: None,
            offset: 0,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!((all.total, all.items.len()), (5, 2));
    let found = store
        .list_users(&UserQuery {
            search: Some("ALI".into()),
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    let names: Vec<String> = found.items.into_iter().map(|u| u.username).collect();
    assert_eq!(names, vec!["alice".to_string(), "alina".to_string()]);
    // LIKE wildcards in the search are literal characters.
    let underscore = store
        .list_users(&UserQuery {
            search: Some("_".into()),
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(underscore.total, 1);
}
