//! Providers admins added: one per id, every change in the revocation log (each
//! instance's memory of them follows it), and a removal takes its links with it.

use super::*;
use crate::store::{LinkedIdentity, StoredProvider};

fn provider(id: &str) -> StoredProvider {
    StoredProvider {
        id: id.into(),
        kind: "oidc".into(),
        name: format!("{id} SSO"),
        issuer: format!("https://{id}.example.com"),
        api_url: None,
        client_id: "gatehouse".into(),
        sealed_client_secret: Some(format!("g1.k1.sealed-{id}")),
        sign_up: true,
        trust_amr: false,
        link_verified_email: false,
        disabled: false,
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn position(store: &dyn Store) -> u64 {
    store.revocation_position().await.unwrap().unwrap()
}

async fn sorted_providers(store: &dyn Store) -> Vec<StoredProvider> {
    let mut providers = store.stored_providers().await.unwrap();
    providers.sort_by(|a, b| a.id.cmp(&b.id));
    providers
}

fn linked(provider: &str, subject: &str, user_id: &str) -> LinkedIdentity {
    LinkedIdentity {
        provider: provider.into(),
        subject: subject.into(),
        user_id: user_id.into(),
        email: None,
        linked_at: NOW,
        last_used_at: None,
    }
}

pub async fn providers_are_added_listed_replaced_and_removed_each_moving_the_log(
    store: &dyn Store,
) {
    assert!(store.stored_providers().await.unwrap().is_empty());
    let start = position(store).await;
    store.add_provider(provider("corp")).await.unwrap();
    store
        .add_provider(StoredProvider {
            kind: "github".into(),
            api_url: Some("https://api.github.com".into()),
            sealed_client_secret: None,
            ..provider("octo")
        })
        .await
        .unwrap();
    assert_eq!(position(store).await, start + 2);
    let listed = sorted_providers(store).await;
    assert_eq!(listed[0], provider("corp"));
    assert_eq!(listed[1].api_url.as_deref(), Some("https://api.github.com"));
    assert_eq!(listed[1].sealed_client_secret, None);

    assert!(matches!(
        store
            .add_provider(StoredProvider {
                name: "Another".into(),
                ..provider("corp")
            })
            .await,
        Err(StoreError::Conflict("provider"))
    ));
    let replaced = StoredProvider {
        name: "Corp".into(),
        sealed_client_secret: Some("g1.k1.another".into()),
        sign_up: false,
        trust_amr: true,
        link_verified_email: true,
        disabled: true,
        updated_at: NOW + 5,
        // Kept as first stored, whatever the replacement says.
        created_at: NOW + 99,
        ..provider("corp")
    };
    let before_replace = position(store).await;
    store.replace_provider(replaced.clone()).await.unwrap();
    assert_eq!(position(store).await, before_replace + 1);
    assert_eq!(
        sorted_providers(store).await[0],
        StoredProvider {
            created_at: NOW,
            ..replaced.clone()
        }
    );
    assert!(matches!(
        store.replace_provider(provider("nobody")).await,
        Err(StoreError::NotFound)
    ));

    let before_remove = position(store).await;
    assert_eq!(store.remove_provider("octo").await.unwrap(), Some(0));
    assert_eq!(position(store).await, before_remove + 1);
    assert_eq!(store.remove_provider("octo").await.unwrap(), None);
    assert_eq!(position(store).await, before_remove + 1);
    assert_eq!(sorted_providers(store).await.len(), 1);
}

pub async fn removing_a_provider_removes_its_links_and_no_other(store: &dyn Store) {
    for (id, name) in [("u1", "ada"), ("u2", "bob")] {
        store
            .create_user(new_user(id, name, Role::User))
            .await
            .unwrap();
    }
    store.add_provider(provider("corp")).await.unwrap();
    store.add_provider(provider("other")).await.unwrap();
    for identity in [
        linked("corp", "s-1", "u1"),
        linked("corp", "s-2", "u2"),
        linked("other", "s-1", "u1"),
    ] {
        store.link_identity(identity).await.unwrap();
    }
    assert_eq!(store.identity_count_at("corp").await.unwrap(), 2);
    assert_eq!(store.identity_count_at("other").await.unwrap(), 1);
    assert_eq!(store.identity_count_at("nobody").await.unwrap(), 0);

    assert_eq!(store.remove_provider("corp").await.unwrap(), Some(2));
    assert_eq!(store.identity_count_at("corp").await.unwrap(), 0);
    assert!(
        store
            .linked_identity("corp", "s-1")
            .await
            .unwrap()
            .is_none()
    );
    let kept = store.identities_of("u1").await.unwrap();
    assert_eq!(kept, vec![linked("other", "s-1", "u1")]);
    assert_eq!(sorted_providers(store).await, vec![provider("other")]);
}

pub async fn parallel_additions_of_one_provider_id_add_exactly_one(store: &dyn Store) {
    let additions = (0..8).map(|i| {
        store.add_provider(StoredProvider {
            name: format!("Corp {i}"),
            ..provider("corp")
        })
    });
    let outcomes = futures::future::join_all(additions).await;
    let added = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(StoreError::Conflict("provider"))))
        .count();
    assert_eq!((added, conflicts), (1, 7));
    assert_eq!(store.stored_providers().await.unwrap().len(), 1);
}
