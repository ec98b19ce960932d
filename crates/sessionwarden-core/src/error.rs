//! What stores and core types report.

/// A boxed error from a backend driver, kept as the source of [`StoreError::Unavailable`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a [`crate::SessionStore`] reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or refused the operation.
    ///
    /// Usually transient (network, pool exhausted, server restarting); the request gets 503
    /// and nothing stored is overwritten.
    #[error("session store unavailable: {operation}")]
    Unavailable {
        /// The store operation that failed (`load`, `save`, ...).
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A stored record could not be decoded (garbage bytes, unknown format).
    ///
    /// The session layer treats it as no session, deletes it and records a security event.
    #[error("stored session record is corrupt: {reason}")]
    Corrupt {
        /// What was wrong, in a few words.
        reason: &'static str,
    },
}

impl StoreError {
    /// Wraps a driver error as [`StoreError::Unavailable`].
    pub fn unavailable(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable { operation, source: source.into() }
    }
}

/// The operating system's random number generator failed.
///
/// Nothing can be done but retry later; the request gets an error, never a weak id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
#[non_exhaustive]
pub struct RandomError;
