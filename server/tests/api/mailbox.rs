//! A real SMTP server on loopback for the tests: Python's `aiosmtpd` (Debian's
//! `python3-aiosmtpd`, installed by `scripts/setup`), storing what it receives in a
//! maildir that the tests read.

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// Debian's interpreter, where `python3-aiosmtpd` lives (a `python3` earlier on PATH
/// may be another one).
const PYTHON: &str = "/usr/bin/python3";

pub struct SmtpServer {
    child: Child,
    port: u16,
    dir: TempDir,
}

/// One delivered mail, decoded.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Delivered {
    /// The token of the one link in the mail that leads to `page`.
    pub fn token_for(&self, page: &str) -> String {
        let start = self
            .text
            .find(&format!("{page}?token="))
            .unwrap_or_else(|| panic!("no {page} link in {:?}", self.text));
        let rest = &self.text[start + page.len() + "?token=".len()..];
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    pub fn link_for(&self, page: &str) -> String {
        let start = self.text.find("http").expect("a link");
        let link: String = self.text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        assert!(link.contains(page), "{link} does not lead to {page}");
        link
    }
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts (scripts/setup installs python3-aiosmtpd)");
        let server = SmtpServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn new_mail_dir(&self) -> PathBuf {
        self.dir.path().join("maildir").join("new")
    }

    /// Everything delivered so far, oldest first.
    pub fn delivered(&self) -> Vec<Delivered> {
        let Ok(entries) = std::fs::read_dir(self.new_mail_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .map(|entry| entry.unwrap())
            .map(|entry| (entry.metadata().unwrap().modified().unwrap(), entry.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| parse(&std::fs::read(path).unwrap()))
            .collect()
    }

    /// Waits until `count` mails have arrived (failing after 15 s) and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Delivered> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let delivered = self.delivered();
            if delivered.len() >= count {
                return delivered;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} mails, got {}: {delivered:#?}",
                delivered.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits long enough for a mail that was going to be sent to have arrived, then
    /// returns what did.
    pub async fn settled(&self) -> Vec<Delivered> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.delivered()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn parse(raw: &[u8]) -> Delivered {
    let mail = mailparse::parse_mail(raw).unwrap();
    let header = |name: &str| {
        mail.headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
            .unwrap_or_default()
    };
    let part = |mime: &str| {
        mail.subparts
            .iter()
            .find(|part| part.ctype.mimetype == mime)
            .map(|part| part.get_body().unwrap())
            .unwrap_or_default()
    };
    Delivered {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        text: part("text/plain"),
        html: part("text/html"),
    }
}
