//! The file before it is YAML: a regular file, not too large, with lines short enough to
//! show. A refusal here shows a short excerpt of the file, never a whole line: miette cannot
//! draw a label past column 65,535 (it panics), and echoing megabytes helps nobody.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use miette::NamedSource;

use super::diag::{Problem, Problems};

/// A topology file larger than this is refused before parsing (no lab is this big: the
/// 10,000 hosts of `vnet gen single 10000` take 0.7 MB).
pub(crate) const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// The longest line vnet reads; no name, address or command needs more.
pub(crate) const MAX_LINE_BYTES: usize = 4096;
/// How much of a line too long to show a diagnostic shows.
pub(crate) const EXCERPT_BYTES: usize = 60;
/// Lines too long are reported up to this many; the last one says how many more there are.
const MAX_REPORTED: usize = 10;

/// The file's bytes, at most one past [`MAX_FILE_BYTES`]. Anything but a regular file (a
/// FIFO, a device, a directory, a socket) is refused before a byte is read: a FIFO would
/// block forever, `/dev/zero` never ends. Symlinks to regular files are followed.
pub(crate) fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    // Without O_NONBLOCK, open(2) of a FIFO waits for a writer that may never come.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            // A socket cannot be opened at all (ENXIO): say what it is rather than the errno.
            if let Ok(meta) = std::fs::metadata(path) {
                regular(&meta)?;
            }
            return Err(e);
        }
    };
    // fstat of what was opened, not stat of the name: it cannot change in between.
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn regular(meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file ({what}); vnet reads a topology from a regular file"),
    ))
}

/// The file is refused as a whole: only its start is shown.
pub(crate) fn too_large(file: &str, bytes: &[u8]) -> Problem {
    let head: Arc<str> = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into();
    Problems::new(NamedSource::new(file, head))
        .new_problem(
            "too_large",
            format!("the file is larger than {MAX_FILE_BYTES} bytes, the most vnet reads"),
        )
        .label((0, 0), "file starts here")
}

/// Every line longer than [`MAX_LINE_BYTES`] (the first [`MAX_REPORTED`] of them), each
/// pointed at where it starts.
pub(crate) fn long_lines(file: &str, text: &str) -> Vec<Problem> {
    let long: Vec<(usize, usize)> = text
        .split('\n')
        .enumerate()
        .filter(|(_, line)| line.len() > MAX_LINE_BYTES)
        .map(|(i, line)| (i, line.len()))
        .collect();
    let more = long.len().saturating_sub(MAX_REPORTED);
    let last = long.len().min(MAX_REPORTED);
    long.into_iter()
        .take(MAX_REPORTED)
        .enumerate()
        .map(|(n, (line, len))| {
            let (source, offset, shown) = excerpt(text, line);
            let help = if n + 1 == last && more > 0 {
                format!(
                    "{more} more lines are longer than that; a topology's lines are short: split a long `exec:` command into several, or let it run a script"
                )
            } else {
                "a topology's lines are short: split a long `exec:` command into several, or let it run a script".into()
            };
            Problems::new(NamedSource::new(file, source))
                .new_problem(
                    "line_too_long",
                    format!("this line is {len} bytes long; vnet reads lines of at most {MAX_LINE_BYTES} bytes"),
                )
                .label((offset, shown), "the line starts here")
                .help(help)
        })
        .collect()
}

/// The text as a diagnostic about line `at` (from 0) shows it: the line and its neighbours,
/// each cut to [`EXCERPT_BYTES`], and every line before them empty, so that line numbers stay
/// right however large the file. Returns the excerpt, where line `at` starts in it, and how
/// many of its bytes are shown.
fn excerpt(text: &str, at: usize) -> (Arc<str>, usize, usize) {
    let mut out = String::new();
    let (mut offset, mut shown) = (0, 0);
    for (i, line) in text.split('\n').enumerate() {
        if i + 1 < at {
            out.push('\n');
            continue;
        }
        if i > at + 1 {
            break;
        }
        let kept = cut(line);
        if i == at {
            offset = out.len();
            shown = kept.len();
        }
        out.push_str(kept);
        if kept.len() < line.len() {
            out.push('…');
        }
        out.push('\n');
    }
    (out.into(), offset, shown)
}

/// The start of a line, at most [`EXCERPT_BYTES`] long, cut at a character boundary.
pub(crate) fn cut(line: &str) -> &str {
    let mut end = EXCERPT_BYTES.min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_keeps_line_numbers_and_cuts_long_lines() {
        let text = format!("a: 1\nb: 2\nc: {}\nd: 4\ne: 5\n", "x".repeat(10_000));
        let (src, offset, shown) = excerpt(&text, 2);
        assert_eq!(
            &*src,
            format!("\nb: 2\nc: {}…\nd: 4\n", "x".repeat(EXCERPT_BYTES - 3))
        );
        assert_eq!(offset, 6);
        assert_eq!(shown, EXCERPT_BYTES);
    }

    #[test]
    fn long_lines_are_reported_at_their_start_with_a_short_source() {
        let text = format!("nodes:\n  {}: {{}}\n", "a".repeat(70_000));
        let problems = long_lines("lab.yaml", &text);
        assert_eq!(problems.len(), 1);
        let shown = super::super::diag::render_plain(&problems[0]);
        assert!(shown.contains("lab.yaml:2:1"), "{shown}");
        assert!(shown.len() < 2000, "{shown}");
    }

    #[test]
    fn only_the_first_long_lines_are_reported() {
        let text = format!("{}\n", "x".repeat(5000)).repeat(25);
        let problems = long_lines("lab.yaml", &text);
        assert_eq!(problems.len(), MAX_REPORTED);
        assert!(
            problems[MAX_REPORTED - 1]
                .help
                .as_deref()
                .unwrap()
                .starts_with("15 more")
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("lab.yaml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read(&fifo).unwrap_err();
        assert!(
            err.to_string().contains("not a regular file (a FIFO)"),
            "{err}"
        );
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
        let err = read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
    }
}
