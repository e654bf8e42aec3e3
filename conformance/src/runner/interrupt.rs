//! A run cut short by a signal (Ctrl-C, a cancelled CI job): the shell raises
//! an [`Interrupt`], the runner stops what plays, and what ran is reported.

use std::sync::Arc;

use tokio::sync::watch;
use wasim_reports::exit;

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: a cancelled CI job, `kill`.
    Terminate,
}

impl Signal {
    /// Its name (`SIGTERM`).
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The exit code a process stopped by it ends with (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => exit::INTERRUPTED,
            Signal::Terminate => exit::TERMINATED,
        }
    }
}

/// Whether a run was asked to stop, shared by everything that plays. Clones
/// share one flag; the first signal raised is the one kept.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<watch::Sender<Option<Signal>>>);

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt(Arc::new(watch::channel(None).0))
    }
}

impl Interrupt {
    /// A flag no signal has raised yet.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Raises it with `signal`, unless it was raised already.
    pub fn raise(&self, signal: Signal) {
        self.0.send_if_modified(|raised| {
            if raised.is_some() {
                return false;
            }
            *raised = Some(signal);
            true
        });
    }

    /// The signal it was raised with, if any.
    pub fn raised(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Waits until it is raised; never returns when it is not.
    pub async fn wait(&self) -> Signal {
        let mut raised = self.0.subscribe();
        // The sender lives as long as `self`, so the wait cannot end unraised.
        if let Ok(signal) = raised.wait_for(Option::is_some).await
            && let Some(signal) = *signal
        {
            return signal;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_raised_interrupt_wakes_every_clone_and_keeps_the_first_signal() {
        let interrupt = Interrupt::new();
        let clone = interrupt.clone();
        assert_eq!(clone.raised(), None);
        let waiter = tokio::spawn(async move { clone.wait().await });
        tokio::task::yield_now().await;
        interrupt.raise(Signal::Terminate);
        interrupt.raise(Signal::Interrupt);
        assert_eq!(waiter.await.ok(), Some(Signal::Terminate));
        assert_eq!(interrupt.raised(), Some(Signal::Terminate));
        // A wait begun after the signal ends at once.
        assert_eq!(interrupt.wait().await, Signal::Terminate);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Interrupt.exit_code(), 130);
    }
}
