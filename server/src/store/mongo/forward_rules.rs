//! Forward-auth rules on MongoDB: a unique index on (host, path prefix) settles races;
//! every change is bracketed in the revocation log like the other revoking writes.

use super::revocation_log::every_outcome;
use super::{ForwardRuleDoc, MongoStore, map_error};
use crate::store::{ForwardRule, ForwardRuleStore, StoreError, StoreResult};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;

#[async_trait]
impl ForwardRuleStore for MongoStore {
    async fn forward_rules(&self) -> StoreResult<Vec<ForwardRule>> {
        self.indexed().await?;
        let documents: Vec<ForwardRuleDoc> = self
            .forward_rules
            .find(doc! {})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(documents.into_iter().map(ForwardRule::from).collect())
    }

    async fn add_forward_rule(&self, rule: ForwardRule) -> StoreResult<()> {
        self.indexed().await?;
        let store = self.clone();
        let document = ForwardRuleDoc::from(rule);
        self.to_the_end(every_outcome, async move {
            store
                .revoking("forward_rule", |_| true, async {
                    store
                        .forward_rules
                        .insert_one(&document)
                        .await
                        .map(drop)
                        .map_err(map_error)
                })
                .await
        })
        .await
    }

    async fn replace_forward_rule(&self, rule: ForwardRule) -> StoreResult<()> {
        self.indexed().await?;
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            store
                .revoking("forward_rule", |_| true, async {
                    let replaced = store
                        .forward_rules
                        .update_one(
                            doc! {"_id": &rule.id},
                            doc! {"$set": {
                                "host": &rule.host,
                                "path_prefix": &rule.path_prefix,
                                "roles": rule.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
                                "users": &rule.users,
                                "two_factor": rule.two_factor,
                                "updated_at": rule.updated_at,
                            }},
                        )
                        .await
                        .map_err(map_error)?;
                    if replaced.matched_count == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                })
                .await
        })
        .await
    }

    async fn remove_forward_rule(&self, id: &str) -> StoreResult<bool> {
        self.indexed().await?;
        let store = self.clone();
        let id = id.to_owned();
        self.to_the_end(every_outcome, async move {
            store
                .revoking("forward_rule", |removed| *removed, async {
                    store
                        .forward_rules
                        .delete_one(doc! {"_id": &id})
                        .await
                        .map(|outcome| outcome.deleted_count > 0)
                        .map_err(map_error)
                })
                .await
        })
        .await
    }
}
