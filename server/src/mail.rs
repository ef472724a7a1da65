//! Sending mail without making anyone wait for it: requests put a mail on a bounded
//! queue and answer at once; a worker hands each one to SMTP (lettre), retrying with
//! growing pauses, or — with no SMTP configured — writes it as an `.eml` file to the
//! outbox directory. A mail that cannot go out is logged and counted
//! (`gatehouse_mails_total{outcome="failed"}`), never reported to the requester, who must
//! learn nothing from it.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use tokio::sync::{Semaphore, mpsc};

use crate::{config::MailConfig, metrics::MailCounters};

/// Mails waiting beyond this are dropped (and counted): a flood must not eat memory.
const QUEUE_CAPACITY: usize = 512;
/// Deliveries in flight at once, so one slow server does not hold up every mail.
const CONCURRENT_DELIVERIES: usize = 4;
/// Pauses between attempts; one more attempt than pauses.
const RETRY_PAUSES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the SMTP URL is not usable: {0}")]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
    #[error("GATEHOUSE_MAIL_FROM is not an address: {0}")]
    From(#[source] lettre::address::AddressError),
    #[error("the outbox directory {dir} cannot be created: {source}")]
    Outbox {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One mail to one person: a plain-text body and the same in HTML.
pub struct Mail {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox {
        files: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

/// The sending side of the queue; cheap to share.
#[derive(Clone)]
pub struct Mailer {
    queue: mpsc::Sender<Mail>,
    counters: MailCounters,
}

impl Mailer {
    /// Opens the transport the configuration names and starts the worker.
    pub fn start(
        config: &MailConfig,
        outbox_dir: PathBuf,
        counters: MailCounters,
    ) -> Result<Mailer, MailError> {
        let from: Mailbox = config.from.parse().map_err(MailError::From)?;
        let transport = match &config.smtp {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(MailError::SmtpUrl)?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                tracing::info!("mails go out over SMTP");
                Transport::Smtp(transport)
            }
            None => {
                create_private_dir(&outbox_dir)?;
                tracing::info!(
                    outbox = %outbox_dir.display(),
                    "no SMTP server configured (GATEHOUSE_SMTP_URL): mails are written to the outbox as .eml files"
                );
                Transport::Outbox {
                    files: AsyncFileTransport::new(&outbox_dir),
                    dir: outbox_dir,
                }
            }
        };
        let (queue, waiting) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(deliver_all(
            waiting,
            Arc::new(transport),
            from,
            counters.clone(),
        ));
        Ok(Mailer { queue, counters })
    }

    /// Queues a mail and returns at once.
    pub fn send(&self, mail: Mail) {
        if self.queue.try_send(mail).is_err() {
            self.counters.dropped.inc();
            tracing::error!("the mail queue is full; a mail was dropped");
        }
    }
}

/// Reset links are secrets: only the server's own user may read the outbox.
fn create_private_dir(dir: &Path) -> Result<(), MailError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| MailError::Outbox {
            dir: dir.to_path_buf(),
            source,
        })
}

async fn deliver_all(
    mut waiting: mpsc::Receiver<Mail>,
    transport: Arc<Transport>,
    from: Mailbox,
    counters: MailCounters,
) {
    let in_flight = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
    while let Some(mail) = waiting.recv().await {
        let message = match compose(&from, mail) {
            Ok(message) => message,
            Err(error) => {
                counters.failed.inc();
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "a mail could not be composed"
                );
                continue;
            }
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let (transport, counters) = (transport.clone(), counters.clone());
        tokio::spawn(async move {
            deliver(&transport, &message, &counters).await;
            drop(permit);
        });
    }
}

fn compose(from: &Mailbox, mail: Mail) -> Result<Message, lettre::error::Error> {
    Message::builder()
        .from(from.clone())
        .to(mail.to)
        .subject(mail.subject)
        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
}

async fn deliver(transport: &Transport, message: &Message, counters: &MailCounters) {
    let mut pauses = RETRY_PAUSES.iter();
    loop {
        let outcome = match transport {
            Transport::Smtp(smtp) => {
                smtp.send(message.clone()).await.map(|_| None).map_err(
                    |error| -> Box<dyn std::error::Error + Send + Sync> { Box::new(error) },
                )
            }
            Transport::Outbox { files, dir } => files
                .send(message.clone())
                .await
                .map(|id| Some(dir.join(format!("{id}.eml"))))
                .map_err(|error| -> Box<dyn std::error::Error + Send + Sync> { Box::new(error) }),
        };
        match outcome {
            Ok(written) => {
                counters.sent.inc();
                match written {
                    Some(path) => {
                        tracing::info!(file = %path.display(), "mail written to the outbox")
                    }
                    None => tracing::debug!("mail handed to the SMTP server"),
                }
                return;
            }
            Err(error) => match pauses.next() {
                Some(pause) => {
                    counters.retried.inc();
                    tracing::warn!(error = %error, retry_in_secs = pause.as_secs(), "a mail could not be sent; retrying");
                    tokio::time::sleep(*pause).await;
                }
                None => {
                    counters.failed.inc();
                    tracing::error!(error = %error, "a mail could not be sent; giving up");
                    return;
                }
            },
        }
    }
}
