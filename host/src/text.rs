//! Text of messages: an error with its causes on one line. User input quoted in messages is cut by
//! [`Excerpt`] (shared with the protocol and the emulator), so a huge token cannot make a huge error line.

pub use bss2_protocol::Excerpt;

/// `error` and its sources, joined by ": " (as the command line prints them).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading c.yaml")]
    struct Reading(#[source] std::io::Error);

    #[test]
    fn a_chain_shows_every_cause_once() {
        let error = Reading(std::io::Error::other("disk full"));
        assert_eq!(chain(&error), "reading c.yaml: disk full");
    }
}
