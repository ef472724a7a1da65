//! argon2id hashing. Hashes are CPU- and memory-heavy, so they never run on an async
//! worker: a fixed set of dedicated threads (one per allowed concurrent hash) takes them
//! from a queue. That bounds their memory: every hash, new or verified, runs in its
//! thread's own 19 MiB buffer, kept while hashes keep coming (faulting a fresh one in
//! costs a tenth of a hash) and given back to the kernel after `RELEASE_AFTER_IDLE`
//! without one. The threads run at a lower CPU priority, so a storm of logins cannot
//! starve token checks on the same cores.

use std::{sync::Arc, time::Duration};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version,
    password_hash::phc::{Output, ParamsString, Salt},
};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::domain::{Password, PasswordHashString};

/// How long a hashing thread keeps its buffer without a hash to run.
const RELEASE_AFTER_IDLE: Duration = Duration::from_secs(10);

/// argon2id cost parameters; the defaults are OWASP's (m=19 MiB, t=2, p=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            m_cost_kib: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
        }
    }
}

impl HashParams {
    pub fn validate(&self) -> Result<(), String> {
        self.argon2_params().map(|_| ()).map_err(|e| e.to_string())
    }

    fn argon2_params(&self) -> Result<Params, argon2::Error> {
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing pool is closed")]
    Closed,
    #[error("the hashing queue is full")]
    QueueFull,
    #[error("the hashing threads could not start: {0}")]
    Spawn(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Correct, and the hash already uses the current parameters.
    Yes,
    /// Correct, but the hash is weaker than the current parameters: store this new one.
    YesRehashed(PasswordHashString),
    No,
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasherPool {
    params: HashParams,
    jobs: Sender<Job>,
    /// Verified against when a login names no existing user, so that such a login costs
    /// the same time as one with a wrong password.
    dummy_hash: Arc<PasswordHashString>,
}

impl PasswordHasherPool {
    /// `max_concurrent` threads hash at once; at most `max_queued` more wait, and past
    /// that a hash is refused at once (`QueueFull`) rather than queued without bound.
    pub fn new(
        params: HashParams,
        max_concurrent: usize,
        max_queued: usize,
    ) -> Result<Self, HashError> {
        // Made by the crate in a buffer of its own, freed at once: this thread keeps none.
        let dummy = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params
                .argon2_params()
                .map_err(|e| HashError::Hash(e.to_string()))?,
        )
        .hash_password(b"gatehouse-dummy-password-for-timing")
        .map_err(|e| HashError::Hash(e.to_string()))?;
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(max_queued);
        for index in 0..max_concurrent.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    run_hashes(&queue, RELEASE_AFTER_IDLE);
                })
                .map_err(|e| HashError::Spawn(e.to_string()))?;
        }
        Ok(PasswordHasherPool {
            params,
            jobs,
            dummy_hash: Arc::new(PasswordHashString::from_phc(dummy.to_string())),
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    pub async fn hash(&self, password: &Password) -> Result<PasswordHashString, HashError> {
        let params = self.params;
        let password = password.clone();
        self.run_bounded(move || hash_now(&params, password.expose().as_bytes()))
            .await
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// stored hash (unknown user) — in which case the answer is always `No`.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHashString>,
    ) -> Result<Verified, HashError> {
        let params = self.params;
        let password = password.clone();
        let (hash, is_real) = match stored {
            Some(hash) => (hash.clone(), true),
            None => ((*self.dummy_hash).clone(), false),
        };
        self.run_bounded(move || {
            let verified = verify_now(&params, password.expose().as_bytes(), &hash)?;
            Ok(if is_real { verified } else { Verified::No })
        })
        .await
    }

    async fn run_bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|error| match error {
                TrySendError::Full(_) => HashError::QueueFull,
                TrySendError::Disconnected(_) => HashError::Closed,
            })?;
        answered.await.map_err(|_| HashError::Closed)?
    }
}

/// A hashing thread's life: hashes until the pool is dropped, and gives its buffer back
/// whenever `release_after` passes without a hash.
fn run_hashes(queue: &Receiver<Job>, release_after: Duration) {
    loop {
        let holding_memory = HASH_MEMORY.with(|memory| !memory.borrow().is_empty());
        let next = if holding_memory {
            queue.recv_timeout(release_after)
        } else {
            queue.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match next {
            Ok(job) => job(),
            Err(RecvTimeoutError::Timeout) => release_thread_memory(),
            // The pool was dropped: no more jobs will come.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

/// Nice 10: under contention the scheduler gives request handling most of the CPU and
/// hashing the rest; with nothing else to do, hashing still gets whole cores.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: gettid and setpriority only read their arguments; on Linux PRIO_PROCESS
    // with a thread id changes that one thread's nice value.
    let outcome = unsafe {
        let thread_id = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread_id as libc::id_t, 10)
    };
    if outcome != 0 {
        tracing::debug!("could not lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

fn hash_now(params: &HashParams, password: &[u8]) -> Result<PasswordHashString, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Hash(e.to_string());
    let argon2_params = params.argon2_params().map_err(|e| failed(&e))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params.clone());
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    getrandom::fill(&mut salt).map_err(|e| failed(&e))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_thread_memory(argon2_params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, &salt, &mut output, blocks)
    })
    .map_err(|e| failed(&e))?;
    // What `PasswordHasher::hash_password` writes, computed in this thread's buffer.
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&argon2_params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(PasswordHashString::from_phc(phc.to_string()))
}

fn verify_now(
    params: &HashParams,
    password: &[u8],
    stored: &PasswordHashString,
) -> Result<Verified, HashError> {
    let Ok(parsed) = PasswordHash::new(stored.as_str()) else {
        // A hash we cannot read cannot match; it is logged, not fatal for the caller.
        tracing::warn!("a stored password hash is not a valid PHC string");
        return Ok(Verified::No);
    };
    if !matches_stored(password, &parsed) {
        return Ok(Verified::No);
    }
    if is_weaker_than(&parsed, params) {
        return Ok(Verified::YesRehashed(hash_now(params, password)?));
    }
    Ok(Verified::Yes)
}

/// Recomputes the stored hash with the parameters inside it (whatever the current ones)
/// and compares in constant time — what `PasswordVerifier` does, but in this thread's
/// reused memory rather than a fresh 19 MiB allocation per login, which the allocator
/// may hand back to the kernel and fault in again every time.
fn matches_stored(password: &[u8], stored: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(stored_params) = Params::try_from(stored) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, stored_params.clone());
    let mut computed = [0u8; Output::MAX_LENGTH];
    let Some(computed) = computed.get_mut(..expected.len()) else {
        return false;
    };
    let filled = with_thread_memory(stored_params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), computed, blocks)
    });
    // `Output`'s equality is constant-time.
    filled.is_ok() && Output::new(computed).is_ok_and(|computed| &computed == expected)
}

/// Memory above this (a stored hash with unusually high cost) is borrowed for one hash
/// only, so one odd hash cannot pin a large buffer to a thread for good.
const KEPT_MEMORY_BLOCKS: usize = 64 * 1024;

thread_local! {
    static HASH_MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Frees this thread's buffer; the allocator hands a block this big straight back to the
/// kernel (the binary sets glibc's mmap threshold so: `tune_the_allocator` in main.rs).
fn release_thread_memory() {
    HASH_MEMORY.with(|memory| *memory.borrow_mut() = Vec::new());
}

fn with_thread_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    if blocks > KEPT_MEMORY_BLOCKS {
        return work(&mut vec![Block::default(); blocks]);
    }
    HASH_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        work(&mut memory[..blocks])
    })
}

fn is_weaker_than(hash: &PasswordHash, current: &HashParams) -> bool {
    if hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
        return true;
    }
    match Params::try_from(hash) {
        Ok(stored) => {
            stored.m_cost() < current.m_cost_kib
                || stored.t_cost() < current.t_cost
                || stored.p_cost() < current.p_cost
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams {
            m_cost_kib: 1024,
            t_cost: 1,
            p_cost: 1,
        }
    }

    fn password(text: &str) -> Password {
        Password::parse_offered(text.to_owned(), "password").unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let pool = PasswordHasherPool::new(cheap(), 2, 16).unwrap();
        let hash = pool.hash(&password("correct horse battery")).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            pool.verify(&password("correct horse battery"), Some(&hash))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            pool.verify(&password("wrong horse battery"), Some(&hash))
                .await
                .unwrap(),
            Verified::No
        );
    }

    #[test]
    fn a_new_hash_is_what_the_crate_itself_verifies() {
        use argon2::PasswordVerifier;
        let hash = hash_now(&cheap(), b"correct horse battery").unwrap();
        let parsed = PasswordHash::new(hash.as_str()).unwrap();
        let salt = parsed.salt.unwrap();
        assert_eq!(salt.len(), Salt::RECOMMENDED_LENGTH, "{hash:?}");
        let crate_default = Argon2::default();
        assert!(
            crate_default
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            crate_default
                .verify_password(b"wrong horse battery", &parsed)
                .is_err()
        );
        assert_ne!(
            hash_now(&cheap(), b"correct horse battery").unwrap(),
            hash,
            "every hash draws its own salt"
        );
    }

    /// The buffer stays while hashes keep coming and is freed once none has come for
    /// `release_after`; the next hash then takes a new one.
    #[test]
    fn a_hashing_thread_gives_its_memory_back_when_idle() {
        // Long enough that a busy test machine does not pause a second between two jobs.
        let release_after = Duration::from_secs(1);
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(4);
        let thread = std::thread::spawn(move || run_hashes(&queue, release_after));
        let held_blocks = |hash_first: bool| {
            let (answer, answered) = std::sync::mpsc::channel();
            let job: Job = Box::new(move || {
                if hash_first {
                    hash_now(&cheap(), b"correct horse battery").unwrap();
                }
                let held = HASH_MEMORY.with(|memory| memory.borrow().len());
                answer.send(held).unwrap();
            });
            jobs.send(job).unwrap();
            answered.recv().unwrap()
        };
        let cheap_blocks = 1024;
        assert_eq!(held_blocks(true), cheap_blocks);
        assert_eq!(held_blocks(false), cheap_blocks, "freed between two hashes");
        std::thread::sleep(release_after * 3);
        assert_eq!(
            held_blocks(false),
            0,
            "still held after {release_after:?} idle"
        );
        assert_eq!(held_blocks(true), cheap_blocks);
        drop(jobs);
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_waiting() {
        // One hashing thread and room for one waiting job.
        let pool = PasswordHasherPool::new(cheap(), 1, 1).unwrap();
        let (started, running) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        // Polled once here (not spawned): its first poll enqueues the job, and the blocking
        // `recv` below must not starve a runtime that other tasks need.
        let mut blocker = Box::pin(pool.run_bounded(move || {
            let _ = started.send(());
            let _ = released.recv();
            Ok(())
        }));
        assert!(futures::poll!(&mut blocker).is_pending());
        running.recv().unwrap();
        // The thread is busy: the next job waits in the queue (its first poll enqueues it)...
        let offered = password("correct horse battery");
        let mut queued = Box::pin(pool.hash(&offered));
        assert!(futures::poll!(&mut queued).is_pending());
        // ...and the one after that is refused at once.
        let refused = pool.hash(&password("correct horse battery")).await;
        assert!(matches!(refused, Err(HashError::QueueFull)), "{refused:?}");
        release.send(()).unwrap();
        blocker.await.unwrap();
        assert!(queued.await.is_ok());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let pool = PasswordHasherPool::new(cheap(), 1, 16).unwrap();
        let dummy = password("gatehouse-dummy-password-for-timing");
        assert_eq!(pool.verify(&dummy, None).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn a_weaker_hash_is_upgraded_at_the_next_successful_login() {
        let old = PasswordHasherPool::new(cheap(), 1, 16).unwrap();
        let hash = old.hash(&password("correct horse battery")).await.unwrap();
        let stronger = HashParams {
            m_cost_kib: 2048,
            t_cost: 2,
            p_cost: 1,
        };
        let current = PasswordHasherPool::new(stronger, 1, 16).unwrap();
        match current
            .verify(&password("correct horse battery"), Some(&hash))
            .await
            .unwrap()
        {
            Verified::YesRehashed(new_hash) => {
                assert!(new_hash.as_str().contains("m=2048,t=2,p=1"))
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    /// One hashing thread, so the same reused memory serves hashes of different cost in
    /// turn, bigger then smaller; and hashes from the crate's own hasher (another cost, a
    /// tampered output) are judged exactly as its own verifier judges them.
    #[tokio::test]
    async fn reused_memory_verifies_hashes_of_any_cost_like_the_crates_own_verifier() {
        let pool = PasswordHasherPool::new(cheap(), 1, 16).unwrap();
        let costs = [(2048, 2), (512, 1), (1024, 3)];
        for (m_cost_kib, t_cost) in costs {
            let params = Params::new(m_cost_kib, t_cost, 1, None).unwrap();
            let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"correct horse battery")
                .unwrap()
                .to_string();
            let stored = PasswordHashString::from_phc(hash.clone());
            let answer = pool
                .verify(&password("correct horse battery"), Some(&stored))
                .await
                .unwrap();
            assert_ne!(answer, Verified::No, "{hash}");
            assert_eq!(
                pool.verify(&password("correct horse batterz"), Some(&stored))
                    .await
                    .unwrap(),
                Verified::No
            );
            // Flip the last character of the encoded output.
            let mut tampered = hash.clone();
            let last = tampered.pop().unwrap();
            tampered.push(if last == 'A' { 'B' } else { 'A' });
            assert_eq!(
                pool.verify(
                    &password("correct horse battery"),
                    Some(&PasswordHashString::from_phc(tampered))
                )
                .await
                .unwrap(),
                Verified::No
            );
        }
    }

    #[tokio::test]
    async fn a_garbage_stored_hash_does_not_verify() {
        let pool = PasswordHasherPool::new(cheap(), 1, 16).unwrap();
        let garbage = PasswordHashString::from_phc("not-a-phc-string".into());
        assert_eq!(
            pool.verify(&password("anything at all"), Some(&garbage))
                .await
                .unwrap(),
            Verified::No
        );
    }
}
