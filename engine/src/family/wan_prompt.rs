//! The prompt cleaning of diffusers' `WanPipeline` (`prompt_clean`): HTML entities unescaped twice,
//! whitespace runs collapsed to one space, the ends stripped.
//!
//! diffusers also runs `ftfy.fix_text` first when ftfy is installed (it repairs mojibake such as "cafÃ©" →
//! "café" and some punctuation); the engine does not, so such broken text tokenizes as typed. Prompts typed
//! into an editor are rarely mojibake; a package exported with ftfy absent behaves exactly like the engine.

/// Python's `str.isspace()`: Unicode White_Space plus the four information separators U+001C–U+001F,
/// which `re`'s `\s` and `str.strip()` also treat as whitespace.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `prompt_clean(text)` as diffusers writes it, without ftfy.
pub(super) fn clean(text: &str) -> String {
    let once = htmlize::unescape(text);
    let twice = htmlize::unescape(once.as_ref());
    twice
        .split(python_space)
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn entities_are_unescaped_twice_and_whitespace_collapsed() {
        // Each expected text is what diffusers' prompt_clean returns (ftfy absent).
        assert_eq!(
            clean("  a  cat\t\non\u{a0}the beach  "),
            "a cat on the beach"
        );
        assert_eq!(clean("fish &amp; chips"), "fish & chips");
        assert_eq!(clean("fish &amp;amp; chips"), "fish & chips");
        assert_eq!(clean("&lt;b&gt; &#39;quoted&#x27;"), "<b> 'quoted'");
        assert_eq!(clean("a\u{1f}b\u{3000}c"), "a b c");
        assert_eq!(clean(""), "");
        assert_eq!(clean(" \n "), "");
        // Entities without their semicolon where HTML allows it, code points, Windows-1252 numbers.
        assert_eq!(
            clean("AT&T &copy 2024 &notit; &#128512; &#x80;"),
            "AT&T © 2024 ¬it; 😀 €"
        );
    }
}
