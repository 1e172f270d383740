//! ⑥a The write-ahead journal of a running lab: what `up` is about to create, written before
//! the kernel is asked, so that `down` works after SIGKILL, without the YAML file, and after
//! the file changed.
//!
//! One JSON object per line. Writes are batched per stage (one `write` each); the journal
//! lives on `/run` (tmpfs), where a process crash loses nothing that was written.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apply::Fact;
use crate::plan::Step;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub lab: String,
    pub file: String,
    pub vnet: String,
    pub started: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Entry {
    Header(Header),
    Step(Step),
    Fact(Fact),
}

pub const FILE_NAME: &str = "journal.jsonl";

pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Starts a journal in `dir`; fails if one is already there (the lab is running).
    pub fn create(dir: &Path, header: Header) -> io::Result<Journal> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        let mut j = Journal { file, path };
        j.write(&[Entry::Header(header)])?;
        Ok(j)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn steps(&mut self, steps: &[Step]) -> io::Result<()> {
        let entries: Vec<Entry> = steps.iter().cloned().map(Entry::Step).collect();
        self.write(&entries)
    }

    pub fn facts(&mut self, facts: &[Fact]) -> io::Result<()> {
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
pub struct Contents {
    pub header: Option<Header>,
    pub steps: Vec<Step>,
    pub facts: Vec<Fact>,
}

pub fn read(path: &Path) -> io::Result<Contents> {
    read_some(path, |_| true)
}

/// Like [`read`], keeping only the steps whose `op` (`add-netns`, `sysctl`, ...) `keep`
/// wants. Teardown needs a few kinds of the tens of thousands of steps a large lab journals;
/// a step is read in full only once its kind is known to be wanted, which makes reading the
/// journal of 1000 hosts several times faster.
pub fn read_some(path: &Path, keep: impl Fn(&str) -> bool) -> io::Result<Contents> {
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
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut c = Contents::default();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(Peek { step: Some(kind) }) = serde_json::from_slice::<Peek>(line)
            && !keep(&kind.op)
        {
            continue;
        }
        // A torn last line (killed mid-write) is skipped: its stage never reached the kernel.
        match serde_json::from_slice::<Entry>(line) {
            Ok(Entry::Header(h)) => c.header = Some(h),
            Ok(Entry::Step(s)) => c.steps.push(s),
            Ok(Entry::Fact(f)) => c.facts.push(f),
            Err(_) => continue,
        }
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
