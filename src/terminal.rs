//! What vnet prints for people: tables that fit the terminal, and words in the right number.

use tabled::Table;
use tabled::settings::peaker::Priority;
use tabled::settings::{Style, Width};

/// The width tables must fit: the terminal's, or `COLUMNS` when output is not a terminal (a
/// CI log, a pipe); `None` means no limit.
pub fn width() -> Option<usize> {
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: winsize is plain data; TIOCGWINSZ fills it for a terminal and fails otherwise.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl writes into our own winsize.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some(usize::from(ws.ws_col));
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|c| *c >= 20)
}

/// A table in vnet's style, its widest columns wrapped so that it fits [`width`].
pub fn fit(mut table: Table) -> String {
    table.with(Style::rounded());
    if let Some(w) = width() {
        table.with(
            Width::wrap(w)
                .priority(Priority::max(true))
                .keep_words(true),
        );
        // A word longer than its column is broken rather than overflowing the line.
        table.with(Width::wrap(w).priority(Priority::max(true)));
    }
    table.to_string()
}

/// `1 step`, `2 steps`, `1 switch`, `2 switches`.
pub fn count(n: usize, one: &str) -> String {
    format!("{n} {}", plural(n, one))
}

/// The word for `n` of them.
pub fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        return one.to_owned();
    }
    if one.ends_with("ch") || one.ends_with("sh") || one.ends_with('s') || one.ends_with('x') {
        format!("{one}es")
    } else if let Some(stem) = one
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{one}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_in_the_right_number() {
        assert_eq!(count(1, "step"), "1 step");
        assert_eq!(count(2, "step"), "2 steps");
        assert_eq!(count(2, "switch"), "2 switches");
        assert_eq!(count(3, "address"), "3 addresses");
        assert_eq!(count(0, "namespace"), "0 namespaces");
        assert_eq!(count(2, "entry"), "2 entries");
        assert_eq!(count(2, "day"), "2 days");
    }
}
