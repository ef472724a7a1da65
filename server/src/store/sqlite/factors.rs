//! Second factors and step-up tickets on SQLite: each code, step and ticket is
//! spent by one conditional write.

use super::SqliteStore;
use super::rows::map_error;
use crate::domain::{FirstStep, RecoveryCodeHash, TicketHash};
use crate::store::{
    FactorStore, NewStepUp, NewTotp, SecondFactors, StepUpRecord, StoreError, StoreResult,
    TotpRecord,
};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

/// Makes `codes` the user's only recovery codes, inside the caller's transaction.
fn replace_codes(
    tx: &rusqlite::Transaction<'_>,
    user_id: &str,
    codes: &[String],
) -> StoreResult<()> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])
        .map_err(map_error)?;
    let mut insert = tx
        .prepare_cached("INSERT INTO recovery_codes (user_id, hash) VALUES (?1, ?2)")
        .map_err(map_error)?;
    for code in codes {
        insert.execute(params![user_id, code]).map_err(map_error)?;
    }
    Ok(())
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn second_factors(&self, user_id: &str) -> StoreResult<SecondFactors> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            let totp = db
                .prepare_cached(
                    "SELECT sealed_secret, sealed_recovery_codes, confirmed_at, last_used_step,
                            created_at
                     FROM totp_factors WHERE user_id = ?1",
                )?
                .query_row([&user_id], |row| {
                    Ok(TotpRecord {
                        sealed_secret: row.get(0)?,
                        sealed_recovery_codes: row.get(1)?,
                        confirmed_at: row.get(2)?,
                        last_used_step: row.get(3)?,
                        created_at: row.get(4)?,
                    })
                })
                .optional()?;
            let recovery_codes_left: u32 = db
                .prepare_cached("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1")?
                .query_row([&user_id], |row| row.get(0))?;
            Ok(SecondFactors {
                totp,
                recovery_codes_left,
            })
        })
        .await
    }

    async fn begin_totp(&self, enrolment: NewTotp) -> StoreResult<()> {
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "INSERT INTO totp_factors (user_id, sealed_secret, sealed_recovery_codes, created_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id) DO UPDATE SET
                         sealed_secret = excluded.sealed_secret,
                         sealed_recovery_codes = excluded.sealed_recovery_codes,
                         created_at = excluded.created_at
                     WHERE confirmed_at IS NULL",
                    params![
                        enrolment.user_id,
                        enrolment.sealed_secret,
                        enrolment.sealed_recovery_codes,
                        enrolment.created_at
                    ],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict("totp"));
            }
            Ok(())
        })
        .await
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: i64,
    ) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        let codes: Vec<String> = recovery_codes
            .iter()
            .map(|code| code.as_str().to_owned())
            .collect();
        self.write(move |tx| {
            let confirmed = tx
                .execute(
                    "UPDATE totp_factors
                     SET confirmed_at = ?2, last_used_step = ?3, sealed_recovery_codes = NULL
                     WHERE user_id = ?1 AND confirmed_at IS NULL",
                    params![user_id, now, step],
                )
                .map_err(map_error)?;
            if confirmed == 0 {
                return Ok(false);
            }
            replace_codes(tx, &user_id, &codes)?;
            Ok(true)
        })
        .await
    }

    async fn use_totp_step(
        &self,
        user_id: &str,
        step: i64,
        resealed: Option<&str>,
    ) -> StoreResult<bool> {
        let (user_id, resealed) = (user_id.to_owned(), resealed.map(str::to_owned));
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE totp_factors
                     SET last_used_step = ?2, sealed_secret = coalesce(?3, sealed_secret)
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL AND last_used_step < ?2",
                    params![user_id, step, resealed],
                )
                .map_err(map_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_codes: &[RecoveryCodeHash],
        sealed_to_show: Option<&str>,
    ) -> StoreResult<bool> {
        let (user_id, sealed_to_show) = (user_id.to_owned(), sealed_to_show.map(str::to_owned));
        let codes: Vec<String> = recovery_codes
            .iter()
            .map(|code| code.as_str().to_owned())
            .collect();
        self.write(move |tx| {
            let confirmed = tx
                .execute(
                    "UPDATE totp_factors SET sealed_recovery_codes = ?2
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL",
                    params![user_id, sealed_to_show],
                )
                .map_err(map_error)?;
            if confirmed == 0 {
                return Ok(false);
            }
            replace_codes(tx, &user_id, &codes)?;
            Ok(true)
        })
        .await
    }

    async fn forget_shown_recovery_codes(&self, user_id: &str) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            let forgotten = tx
                .execute(
                    "UPDATE totp_factors SET sealed_recovery_codes = NULL
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL
                       AND sealed_recovery_codes IS NOT NULL",
                    [&user_id],
                )
                .map_err(map_error)?;
            Ok(forgotten == 1)
        })
        .await
    }

    async fn use_recovery_code(&self, user_id: &str, code: &RecoveryCodeHash) -> StoreResult<bool> {
        let (user_id, code) = (user_id.to_owned(), code.as_str().to_owned());
        self.write(move |tx| {
            let used = tx
                .execute(
                    "DELETE FROM recovery_codes WHERE user_id = ?1 AND hash = ?2",
                    params![user_id, code],
                )
                .map_err(map_error)?;
            Ok(used == 1)
        })
        .await
    }

    async fn remove_second_factors(&self, user_id: &str) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            let factors = tx
                .execute("DELETE FROM totp_factors WHERE user_id = ?1", [&user_id])
                .map_err(map_error)?;
            let codes = tx
                .execute("DELETE FROM recovery_codes WHERE user_id = ?1", [&user_id])
                .map_err(map_error)?;
            Ok(factors + codes > 0)
        })
        .await
    }

    async fn create_step_up(&self, ticket: NewStepUp) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO step_up_tickets (hash, user_id, created_at, expires_at, first_step)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    ticket.hash.as_str(),
                    ticket.user_id,
                    ticket.created_at,
                    ticket.expires_at,
                    ticket.first_step.stored()
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn find_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        let hash = hash.clone();
        self.read(move |db| live_step_up_in(db, &hash, now)).await
    }

    async fn spend_step_up_guess(
        &self,
        hash: &TicketHash,
        now: i64,
        guesses: u32,
    ) -> StoreResult<Option<StepUpRecord>> {
        let hash = hash.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE step_up_tickets SET wrong_codes = wrong_codes + 1
                 WHERE hash = ?1 AND expires_at > ?2 AND wrong_codes < ?3
                 RETURNING user_id, created_at, expires_at, first_step",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![hash.as_str(), now, guesses], step_up_of_row)
                    .optional()
            })
            .map_err(map_error)
        })
        .await
    }

    async fn take_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>> {
        let hash = hash.clone();
        self.write(move |tx| {
            let ticket = live_step_up_in(tx, &hash, now).map_err(map_error)?;
            if ticket.is_some() {
                tx.execute(
                    "DELETE FROM step_up_tickets WHERE hash = ?1",
                    [hash.as_str()],
                )
                .map_err(map_error)?;
            }
            Ok(ticket)
        })
        .await
    }
}

fn live_step_up_in(
    connection: &rusqlite::Connection,
    hash: &TicketHash,
    now: i64,
) -> rusqlite::Result<Option<StepUpRecord>> {
    connection
        .prepare_cached(
            "SELECT user_id, created_at, expires_at, first_step FROM step_up_tickets
             WHERE hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![hash.as_str(), now], step_up_of_row)
        .optional()
}

fn step_up_of_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StepUpRecord> {
    Ok(StepUpRecord {
        user_id: row.get(0)?,
        created_at: row.get(1)?,
        expires_at: row.get(2)?,
        first_step: FirstStep::from_stored(row.get::<_, Option<String>>(3)?.as_deref()),
    })
}
