//! What vnet prints for people: tables that fit the terminal, and words in the right number.

use tabled::Table;
use tabled::settings::peaker::Peaker;
use tabled::settings::{Style, Width};

/// The width tables must fit: the terminal's, or `COLUMNS` when output is not a terminal (a
/// CI log, a pipe); `None` means no limit.
pub(crate) fn width() -> Option<usize> {
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
pub(crate) fn fit(table: Table) -> String {
    fit_to(table, width())
}

/// [`fit`] to a width of the caller's (`None`: no limit).
pub(crate) fn fit_to(mut table: Table, width: Option<usize>) -> String {
    table.with(Style::rounded());
    if let Some(w) = width.filter(|w| table.total_width() > *w) {
        let prose = prose_columns(&table);
        table.with(
            Width::wrap(w)
                .priority(ProseFirst(prose.clone()))
                .keep_words(true),
        );
        // A word longer than its column is broken rather than overflowing the line.
        table.with(Width::wrap(w).priority(ProseFirst(prose)));
    }
    table.to_string()
}

/// The columns of running text (`got`, `detail`, ...), which wrap well, by their header.
fn prose_columns(table: &Table) -> Vec<usize> {
    const PROSE: [&str; 8] = [
        "interfaces",
        "got",
        "expect",
        "detail",
        "what to do",
        "addresses",
        "file",
        "health",
    ];
    table
        .get_records()
        .iter()
        .next()
        .map(|header| {
            header
                .iter()
                .enumerate()
                .filter(|(_, cell)| PROSE.contains(&cell.as_ref().trim()))
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
}

/// Narrows the widest column of running text first, down to a readable width; only then
/// any other column.
#[derive(Clone)]
struct ProseFirst(Vec<usize>);

impl Peaker for ProseFirst {
    fn peak(&mut self, mins: &[usize], widths: &[usize]) -> Option<usize> {
        const READABLE: usize = 14;
        let room = |i: usize| mins.is_empty() || widths[i] > mins[i];
        self.0
            .iter()
            .copied()
            .filter(|&i| i < widths.len() && widths[i] > READABLE && room(i))
            .max_by_key(|&i| widths[i])
            .or_else(|| {
                (0..widths.len())
                    .filter(|&i| widths[i] > 4 && room(i))
                    .max_by_key(|&i| widths[i])
            })
    }
}

/// `1 step`, `2 steps`, `1 switch`, `2 switches`.
pub(crate) fn count(n: usize, one: &str) -> String {
    format!("{n} {}", plural(n, one))
}

/// The word for `n` of them.
pub(crate) fn plural(n: usize, one: &str) -> String {
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

/// The machine's offset from UTC, in seconds, at `unix_secs` (0 when it cannot be told).
pub(crate) fn utc_offset(unix_secs: i64) -> i64 {
    let t: libc::time_t = unix_secs as libc::time_t;
    // SAFETY: tm is plain data; localtime_r fills it from our own time_t and touches nothing
    // shared (unlike localtime).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to our own, live locals.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return 0;
    }
    i64::from(tm.tm_gmtoff as i32)
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
