//! Forward-auth rules: one rule per host and path prefix, and every change in the
//! revocation log (each instance's memory of the rules follows it).

use super::*;
use crate::store::ForwardRule;

fn rule(id: &str, host: &str, path_prefix: &str) -> ForwardRule {
    ForwardRule {
        id: id.into(),
        host: host.into(),
        path_prefix: path_prefix.into(),
        roles: vec![Role::Admin],
        users: vec!["ada".into(), "grace".into()],
        two_factor: true,
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn position(store: &dyn Store) -> u64 {
    store.revocation_position().await.unwrap().unwrap()
}

async fn sorted_rules(store: &dyn Store) -> Vec<ForwardRule> {
    let mut rules = store.forward_rules().await.unwrap();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    rules
}

pub async fn forward_rules_are_added_listed_replaced_and_removed_each_moving_the_log(
    store: &dyn Store,
) {
    assert!(store.forward_rules().await.unwrap().is_empty());
    let start = position(store).await;
    store
        .add_forward_rule(rule("r1", "wiki.example.org", "/"))
        .await
        .unwrap();
    store
        .add_forward_rule(rule("r2", "*.example.org", "/admin"))
        .await
        .unwrap();
    assert_eq!(position(store).await, start + 2);
    assert_eq!(
        sorted_rules(store).await,
        vec![
            rule("r1", "wiki.example.org", "/"),
            rule("r2", "*.example.org", "/admin")
        ]
    );

    assert!(matches!(
        store
            .add_forward_rule(rule("r3", "wiki.example.org", "/"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let replaced = ForwardRule {
        roles: vec![],
        users: vec![],
        two_factor: false,
        updated_at: NOW + 5,
        ..rule("r1", "wiki.example.org", "/docs")
    };
    let before_replace = position(store).await;
    store.replace_forward_rule(replaced.clone()).await.unwrap();
    assert_eq!(position(store).await, before_replace + 1);
    assert_eq!(sorted_rules(store).await[0], replaced);
    assert!(matches!(
        store
            .replace_forward_rule(rule("r1", "*.example.org", "/admin"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .replace_forward_rule(rule("nobody", "x.example.org", "/"))
            .await,
        Err(StoreError::NotFound)
    ));

    let before_remove = position(store).await;
    assert!(store.remove_forward_rule("r2").await.unwrap());
    assert_eq!(position(store).await, before_remove + 1);
    assert!(!store.remove_forward_rule("r2").await.unwrap());
    assert_eq!(sorted_rules(store).await, vec![replaced]);
}

pub async fn parallel_additions_of_one_host_and_prefix_add_exactly_one(store: &dyn Store) {
    let additions =
        (0..8).map(|i| store.add_forward_rule(rule(&format!("r{i}"), "app.example.org", "/")));
    let outcomes = futures::future::join_all(additions).await;
    let added = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((added, conflicts), (1, 7));
    assert_eq!(store.forward_rules().await.unwrap().len(), 1);
}

pub async fn a_session_signed_in_with_a_second_factor_says_so_to_access_checks(store: &Served) {
    ada_with_session(&**store).await;
    store
        .create_session(NewSession {
            id: "s2".into(),
            user_id: "u1".into(),
            refresh_hash: fresh_hash(),
            created_at: NOW,
            expires_at: NOW + WEEK,
            user_agent: None,
            ip: None,
            sign_in: SignInMethod::PasswordAndTotp,
            grant: None,
        })
        .await
        .unwrap();
    let with_password = store.access_status("j1", "s1", "u1", NOW).await.unwrap();
    let with_second_factor = store.access_status("j2", "s2", "u1", NOW).await.unwrap();
    assert!(!with_password.unwrap().session_second_factor);
    assert!(with_second_factor.unwrap().session_second_factor);
    // And how: what an ID token's amr is made of.
    for (session, method) in [
        ("s1", SignInMethod::Password),
        ("s2", SignInMethod::PasswordAndTotp),
    ] {
        let found = store
            .session_authentication("u1", session, NOW)
            .await
            .unwrap();
        assert_eq!(found.map(|found| found.method), Some(method));
    }
}
