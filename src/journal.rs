//! ⑥a The write-ahead journal of a running lab: what `up` is about to create, written before
//! the kernel is asked, so that `down` works after SIGKILL, without the YAML file, and after
//! the file changed.
//!
//! One JSON object per line. Writes are batched per stage (one `write` each); the journal
//! lives on `/run` (tmpfs), where a process crash loses nothing that was written.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::Step;

/// Something the kernel told us while applying that teardown will need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "kebab-case")]
pub(crate) enum Fact {
    /// A namespace vnet created, and its inode: the proof that it is the lab's.
    Netns { ns: String, inode: u64 },
    /// What the machine's IPv4 forwarding was before the lab's NAT table (`--allow-machine-nat`).
    MachineForwarding { table: String, before: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub lab: String,
    pub file: String,
    pub vnet: String,
    pub started: u64,
    /// The journal's format; journals from before it was written are format 1.
    #[serde(default = "first_format")]
    pub format: u32,
}

/// The journal format this vnet writes and reads.
pub(crate) const FORMAT: u32 = 1;

fn first_format() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Entry {
    Header(Header),
    Step(Step),
    Fact(Fact),
}

pub(crate) const FILE_NAME: &str = "journal.jsonl";

pub(crate) struct Journal {
    file: File,
}

impl Journal {
    /// Starts a journal in `dir`; fails if one is already there (the lab is running).
    pub(crate) fn create(dir: &Path, header: Header) -> io::Result<Journal> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        let mut j = Journal { file };
        j.write(&[Entry::Header(header)])?;
        Ok(j)
    }

    pub(crate) fn steps(&mut self, steps: &[Step]) -> io::Result<()> {
        let entries: Vec<Entry> = steps.iter().cloned().map(Entry::Step).collect();
        self.write(&entries)
    }

    pub(crate) fn facts(&mut self, facts: &[Fact]) -> io::Result<()> {
        let entries: Vec<Entry> = facts.iter().cloned().map(Entry::Fact).collect();
        self.write(&entries)
    }

    fn write(&mut self, entries: &[Entry]) -> io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(entries.len() * 96);
        for e in entries {
            serde_json::to_writer(&mut buf, e)?;
            buf.push(b'\n');
        }
        // One write per batch: a crash leaves whole lines and at most one torn last line.
        self.file.write_all(&buf)
    }
}

/// What a journal says: the lab, its steps in order, and the facts learned on the way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Contents {
    pub header: Option<Header>,
    pub steps: Vec<Step>,
    pub facts: Vec<Fact>,
    /// What is wrong with the journal, line by line: whatever it says may be incomplete.
    /// A torn last line (vnet killed mid-write) is not damage: its stage never reached the
    /// kernel.
    pub damage: Vec<String>,
}

/// The whole journal; vnet itself reads only the parts it needs ([`read_some`]).
#[cfg(test)]
pub(crate) fn read(path: &Path) -> io::Result<Contents> {
    read_some(path, |_| true)
}

/// Opens the journal for reading: a regular file, never through a symbolic link.
fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::other("it is a symbolic link, not vnet's journal")
            } else {
                e
            }
        })?;
    let kind = file.metadata()?.file_type();
    if kind.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if !kind.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The journal's header (its first line), without reading the rest.
pub(crate) fn header(path: &Path) -> io::Result<Option<Header>> {
    use std::io::BufRead;
    let mut first = Vec::new();
    io::BufReader::new(open(path)?)
        .take(64 * 1024)
        .read_until(b'\n', &mut first)?;
    Ok(match serde_json::from_slice::<Entry>(&first) {
        Ok(Entry::Header(h)) => Some(h),
        _ => None,
    })
}

/// Like [`read`], keeping only the steps whose `op` (`add-netns`, `sysctl`, ...) `keep`
/// wants. Teardown needs a few kinds of the tens of thousands of steps a large lab journals;
/// a step is read in full only once its kind is known to be wanted, which makes reading the
/// journal of 1000 hosts several times faster.
pub(crate) fn read_some(path: &Path, keep: impl Fn(&str) -> bool) -> io::Result<Contents> {
    /// Just the kind of a step, borrowed from the line; everything else is skipped unread.
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(borrow)]
        step: Option<Kind<'a>>,
    }
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        op: std::borrow::Cow<'a, str>,
    }
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes)?;
    let mut c = Contents::default();
    if bytes.is_empty() {
        c.damage.push("the journal is empty".into());
        return Ok(c);
    }
    // Every batch ends with a newline: a last line without one was torn by a kill mid-write.
    let torn = !bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Ok(Peek { step: Some(kind) }) = serde_json::from_slice::<Peek>(line)
            && !keep(&kind.op)
        {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(Entry::Header(h)) if i == 0 => c.header = Some(h),
            Ok(Entry::Header(_)) => c.damage.push(format!("line {} is a second header", i + 1)),
            Ok(Entry::Step(s)) => c.steps.push(s),
            Ok(Entry::Fact(f)) => c.facts.push(f),
            Err(_) if i == last && torn => {}
            Err(_) => c
                .damage
                .push(format!("line {} is not a journal entry", i + 1)),
        }
    }
    match &c.header {
        None => c.damage.insert(0, "line 1 is not the journal's header".into()),
        Some(h) if h.format > FORMAT => c.damage.insert(
            0,
            format!(
                "it was written by a newer vnet ({}, journal format {}; this vnet reads format {FORMAT})",
                h.vnet, h.format
            ),
        ),
        Some(_) => {}
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            lab: "t".into(),
            file: "t.yaml".into(),
            vnet: "0".into(),
            started: 1,
            format: FORMAT,
        }
    }

    #[test]
    fn round_trips_and_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), header()).unwrap();
        let steps = vec![
            Step::AddNetns { ns: "t.a".into() },
            Step::AddNetns { ns: "t.b".into() },
        ];
        j.steps(&steps).unwrap();
        j.facts(&[Fact::Netns {
            ns: "t.a".into(),
            inode: 7,
        }])
        .unwrap();
        drop(j);
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"step":{"op":"add-ne"#).unwrap();
        let c = read(&path).unwrap();
        assert_eq!(
            c.damage,
            Vec::<String>::new(),
            "a torn last line is not damage"
        );
        assert_eq!(c.header, Some(header()));
        assert_eq!(c.steps, steps);
        assert_eq!(
            c.facts,
            vec![Fact::Netns {
                ns: "t.a".into(),
                inode: 7
            }]
        );
    }

    /// A journal written before `model::Netns` spells the machine's namespace as `""`, and a
    /// lab left up across an upgrade must still come down: its lines read as they did, the
    /// machine's end as the machine's, and are written back byte for byte.
    #[test]
    fn an_older_journal_still_names_the_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let head = serde_json::to_string(&Entry::Header(header())).unwrap();
        let moved =
            r#"{"step":{"op":"move-link","ns":"t.a","dev":"vnet-m0","name":"v0","tag":"vnet:t"}}"#;
        let undo = r#"{"step":{"op":"del-link","ns":"","dev":"v0","tag":"vnet:t"}}"#;
        std::fs::write(&path, format!("{head}\n{moved}\n{undo}\n")).unwrap();
        let c = read(&path).unwrap();
        assert_eq!(c.damage, Vec::<String>::new());
        assert_eq!(c.steps.len(), 2);
        assert_eq!(
            crate::model::Netns::of(c.steps[0].ns()),
            crate::model::Netns::Named("t.a")
        );
        assert!(crate::model::Netns::of(c.steps[1].ns()).is_machine());
        for (step, line) in c.steps.iter().zip([moved, undo]) {
            let again = serde_json::to_string(&Entry::Step(step.clone())).unwrap();
            assert_eq!(again, line);
        }
    }

    /// Damage anywhere but a torn last line is named by its line, and reading goes on.
    #[test]
    fn damage_is_reported_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let head = serde_json::to_string(&Entry::Header(header())).unwrap();
        let step = r#"{"step":{"op":"add-netns","ns":"t.a"}}"#;
        let cases: Vec<(String, Vec<&str>, usize)> = vec![
            (String::new(), vec!["the journal is empty"], 0),
            (format!("{head}\n"), vec![], 0),
            (
                format!("{head}\n{{\"step\":{{\"op\n{step}\n"),
                vec!["line 2 is not a journal entry"],
                1,
            ),
            // Ends with a newline: written whole, so not torn, but damaged.
            (
                format!("{head}\n{step}\nnot json\n"),
                vec!["line 3 is not a journal entry"],
                1,
            ),
            (
                format!("{step}\n{step}\n"),
                vec!["line 1 is not the journal's header"],
                2,
            ),
            (
                format!("{head}\n{head}\n"),
                vec!["line 2 is a second header"],
                0,
            ),
            (
                format!("{}\n", head.replace("\"format\":1", "\"format\":9")),
                vec!["journal format 9; this vnet reads format 1"],
                0,
            ),
        ];
        for (text, damage, steps) in cases {
            std::fs::write(&path, &text).unwrap();
            let c = read(&path).unwrap();
            assert_eq!(c.damage.len(), damage.len(), "{text:?}: {:?}", c.damage);
            for (got, want) in c.damage.iter().zip(damage) {
                assert!(got.contains(want), "{text:?}: {got:?} lacks {want:?}");
            }
            assert_eq!(c.steps.len(), steps, "{text:?}");
        }
    }

    #[test]
    fn a_journal_is_never_read_through_a_link_or_as_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"someone's\n").unwrap();
        let path = dir.path().join(FILE_NAME);
        std::os::unix::fs::symlink(&other, &path).unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(super::header(&path).is_err());
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(read(&path).unwrap_err().raw_os_error(), Some(libc::EISDIR));
    }

    #[test]
    fn a_second_journal_for_the_same_lab_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _j = Journal::create(dir.path(), header()).unwrap();
        let again = Journal::create(dir.path(), header());
        assert_eq!(
            again.err().map(|e| e.kind()),
            Some(io::ErrorKind::AlreadyExists)
        );
    }
}
