//! The stream token rule, in one place.

/// The longest token taken, in bytes.
pub const MAX_TOKEN_LEN: usize = 256;

/// Why a token is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is empty.
    #[error("a stream token cannot be empty")]
    Empty,
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("stream token is {len} bytes long; the limit is {MAX_TOKEN_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A byte is not visible ASCII.
    #[error(
        "{byte:?} at byte {at} is not allowed: a stream token is visible ASCII (no spaces or control characters)"
    )]
    Invalid {
        /// The token (its first 64 characters).
        token: String,
        /// The first byte refused.
        byte: char,
        /// Its position, from 0.
        at: usize,
    },
}

/// Checks a stream token: 1 to [`MAX_TOKEN_LEN`] bytes of visible ASCII
/// (`!` to `~`), which travels in an HTTP header as it is.
///
/// ```
/// use plotstream_protocol::{check_token, TokenError};
///
/// assert!(check_token("noisy-cosine-0").is_ok());
/// assert_eq!(check_token(""), Err(TokenError::Empty));
/// assert!(check_token("has space").is_err());
/// ```
pub fn check_token(token: &str) -> Result<(), TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong { len: token.len() });
    }
    match token.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some((at, byte)) => Err(TokenError::Invalid {
            token: token.chars().take(64).collect(),
            byte,
            at,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_up_to_the_limit() {
        assert!(check_token("a").is_ok());
        assert!(check_token("A-z_0.9~!").is_ok());
        assert!(check_token(&"t".repeat(MAX_TOKEN_LEN)).is_ok());
        assert_eq!(
            check_token(&"t".repeat(MAX_TOKEN_LEN + 1)),
            Err(TokenError::TooLong {
                len: MAX_TOKEN_LEN + 1
            })
        );
        for bad in ["a b", "tab\t", "é", "nl\n", "\u{7f}"] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
        let err = check_token("ab c").expect_err("a space");
        assert_eq!(
            err,
            TokenError::Invalid {
                token: "ab c".into(),
                byte: ' ',
                at: 2
            }
        );
    }
}
