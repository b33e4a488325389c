//! Text of messages: quoted user input is cut, so that a huge token cannot make a huge error line; an error
//! with its causes on one line.

/// Characters of quoted input shown at most.
pub const QUOTE_LIMIT: usize = 80;

/// `text` quoted as Rust's `{:?}` does, cut after [`QUOTE_LIMIT`] characters with the total length noted.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// `text` as it is, cut after [`QUOTE_LIMIT`] characters with the total length noted.
pub fn shortened(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes in all)", &text[..cut], text.len()),
    }
}

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

    #[test]
    fn short_text_is_quoted_whole_and_long_text_is_cut() {
        assert_eq!(quoted("sim\n"), "\"sim\\n\"");
        let long = "é".repeat(1_000_000);
        let q = quoted(&long);
        assert!(q.len() < 200, "{q}");
        assert!(q.ends_with("... (2000000 bytes in all)"), "{q}");
        assert!(q.starts_with(&format!("{:?}", "é".repeat(QUOTE_LIMIT)).trim_end_matches('"').to_string()));
        assert_eq!(shortened("[1, 2]"), "[1, 2]");
        assert!(shortened(&"[1, 2]".repeat(100_000)).ends_with("... (600000 bytes in all)"));
    }
}
