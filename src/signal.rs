//! SIGINT and SIGTERM: one rule for every command that runs until stopped
//! (`stream`, `replay`, `load`, `serve`, and the live demos).
//!
//! The first signal asks the command to finish: stop writing, close its
//! streams (waiting [`GRACE`] at most for their answers), print its summary
//! and write its report, or for `serve`, save its store. It then exits 130
//! after SIGINT and 143 after SIGTERM (128 + the signal's number, as a shell
//! reports a process the signal ended), so that a CI gate never takes an
//! interrupted run for a passed one. A second signal exits at once.

use std::time::Duration;

use tokio::sync::watch;

/// How long a command stopped by a signal waits for its streams' answers.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// A stopping signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, Kubernetes stopping a pod, systemd).
    Terminate,
}

impl Signal {
    /// The exit code after it: 130 or 143.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Listens for SIGINT and SIGTERM from when it is made.
#[derive(Clone, Debug)]
pub(crate) struct Signals {
    rx: watch::Receiver<Option<Signal>>,
}

impl Signals {
    /// Starts listening (inside the runtime): from now on the first signal
    /// is told to [`Signals::stopped`], and a second one exits at once with
    /// its code.
    pub(crate) fn listen() -> std::io::Result<Signals> {
        let (tx, rx) = watch::channel(None);
        let mut listener = Listener::new()?;
        tokio::spawn(async move {
            let first = listener.next().await;
            let _ = tx.send(Some(first));
            let again = listener.next().await;
            std::process::exit(i32::from(again.exit_code()));
        });
        Ok(Signals { rx })
    }

    /// Completes once a signal came.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.rx.clone();
        async move {
            let _ = rx.wait_for(Option::is_some).await;
        }
    }

    /// The signal that came, if one did.
    pub(crate) fn received(&self) -> Option<Signal> {
        *self.rx.borrow()
    }

    /// The exit code: the signal's if one came, else `code`.
    pub(crate) fn exit_code(&self, code: u8) -> u8 {
        self.received().map_or(code, Signal::exit_code)
    }
}

/// The signal handlers, installed when it is made (before any work
/// starts, so that no signal finds the default action, which kills).
struct Listener {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Listener {
    #[cfg(unix)]
    fn new() -> std::io::Result<Listener> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Listener {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Listener> {
        Ok(Listener {})
    }

    /// The next signal.
    #[cfg(unix)]
    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.int.recv() => Signal::Interrupt,
            _ = self.term.recv() => Signal::Terminate,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}
