//! The thin safe layer over the OpenFX C ABI: every action goes through these types, so raw pointers,
//! status codes and C strings stay in this folder.

pub mod effect;
pub mod image;
pub mod message;
pub mod param;
pub mod progress;
pub mod props;
pub mod suites;

use std::ffi::{CStr, CString};

pub use ofx_sys::OfxStatus;

/// A failed OFX call (or a failed action): the status to return and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: OfxStatus,
    pub message: String,
}

impl Error {
    pub fn new(status: OfxStatus, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    /// A failure to show the user (the render/action fails with kOfxStatFailed).
    pub fn failed(message: impl Into<String>) -> Error {
        Error::new(ofx_sys::kOfxStatFailed, message)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (OFX status {})", self.message, self.status)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Turns a status into a result; `what` names the call for the error text.
pub fn check(status: OfxStatus, what: impl FnOnce() -> String) -> Result<()> {
    if status == ofx_sys::kOfxStatOK {
        Ok(())
    } else {
        Err(Error::new(status, format!("{} failed", what())))
    }
}

/// A C string for the host; interior NULs (impossible in our own names) are dropped rather than panicking.
pub fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

/// `name` as text for error messages.
pub fn name(name: &CStr) -> String {
    name.to_string_lossy().into_owned()
}

/// A function pointer from a suite, or an error naming the missing member.
macro_rules! member {
    ($suite:expr, $field:ident) => {
        $suite.$field.ok_or_else(|| {
            $crate::ofx::Error::new(
                ofx_sys::kOfxStatErrMissingHostFeature,
                concat!("the host's suite has no ", stringify!($field)),
            )
        })
    };
}
pub(crate) use member;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_maps_statuses() {
        assert_eq!(check(ofx_sys::kOfxStatOK, || "x".into()), Ok(()));
        let err = check(ofx_sys::kOfxStatErrBadIndex, || "propGetInt(Foo)".into()).unwrap_err();
        assert_eq!(err.status, ofx_sys::kOfxStatErrBadIndex);
        assert_eq!(err.to_string(), "propGetInt(Foo) failed (OFX status 10)");
        assert_eq!(c_string("a\0b").as_bytes(), b"ab");
    }
}
