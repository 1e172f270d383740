//! NAT on the machine itself (`nat:` on `host`, only with `--allow-machine-nat`): the lab's
//! own nftables table, and IPv4 forwarding, the one machine-wide setting vnet ever changes.
//!
//! What forwarding was before is kept in the table's comment (`vnet:<lab> ip_forward=0`), so
//! it is found again without vnet's state: by `down`, by the sweep after lost state, and by a
//! second lab, which inherits the first one's "before" instead of the 1 the first one set.
//! The last lab's table to go puts it back. A machine-wide lock orders labs doing either.

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::Duration;

use super::{exec, netns};
use crate::model::Netns;
use crate::plan::step::machine_table;
use crate::state::Lock;

const FORWARDING: &str = "/proc/sys/net/ipv4/ip_forward";
const PREFIX: &str = "vnet-";

/// Creates the lab's table and turns forwarding on; returns what forwarding was, which the
/// table's comment keeps too.
pub(crate) fn add(
    table: &str,
    tag: &str,
    chains: &str,
) -> Result<String, (io::Error, Option<String>)> {
    let _lock = MachineLock::take().map_err(|e| (e, None))?;
    let machine = netns::open(Netns::Machine.as_str()).map_err(|e| (e, None))?;
    let tables = tables().map_err(|e| {
        let hint = (e.kind() == io::ErrorKind::NotFound)
            .then(|| "  the `nft` program is missing: install the `nftables` package".to_owned());
        (e, hint)
    })?;
    if tables.iter().any(|(name, _)| name == table) {
        return Err((
            io::Error::from_raw_os_error(libc::EEXIST),
            Some(format!(
                "  the machine already has a table `inet {table}`: `vnet down` the lab it belongs to, or `nft delete table inet {table}` if it is a leftover"
            )),
        ));
    }
    let before = match tables.iter().find_map(|(_, c)| forwarding_before(c)) {
        Some(v) => v.to_owned(),
        None => forwarding(&machine, None).map_err(|e| (e, None))?,
    };
    let ruleset = machine_table(table, &format!("{tag} ip_forward={before}"), chains);
    exec::nft(&machine, &ruleset)?;
    forwarding(&machine, Some("1")).map_err(|e| (e, None))?;
    Ok(before)
}

/// Deletes the lab's table if it carries the lab's mark; puts forwarding back to what it was
/// when no other lab's table is left. `before` (from the journal) stands in for the table's
/// comment when the table is already gone: a `flush ruleset` takes it, not the forwarding.
pub(crate) fn remove(table: &str, tag: &str, before: Option<&str>) -> io::Result<()> {
    let _lock = MachineLock::take()?;
    let tables = match tables() {
        Ok(t) => t,
        // Without `nft` nobody made a table through it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let others = tables
        .iter()
        .any(|(name, c)| name != table && forwarding_before(c).is_some());
    let machine = netns::open(Netns::Machine.as_str())?;
    let Some((_, comment)) = tables.iter().find(|(name, _)| name == table) else {
        if let (false, Some(b)) = (others, before.filter(|b| matches!(*b, "0" | "1"))) {
            forwarding(&machine, Some(b))?;
        }
        return Ok(());
    };
    if mark(comment) != Some(tag) {
        return Err(io::Error::other(format!(
            "table inet {table} does not carry this lab's mark `{tag}`; left untouched"
        )));
    }
    nft_output(&["delete", "table", "inet", table])?;
    if let (false, Some(before)) = (others, forwarding_before(comment)) {
        forwarding(&machine, Some(before))?;
    }
    Ok(())
}

/// The machine's tables that carry a vnet mark: `(table, mark)`.
pub(crate) fn marked() -> Vec<(String, String)> {
    tables()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, comment)| Some((name, mark(&comment)?.to_owned())))
        .collect()
}

/// The mark of one of the machine's tables, `None` when there is no such table (or no
/// `nft`): one short `nft` run.
pub(crate) fn mark_of(table: &str) -> Option<String> {
    let listing = nft_output(&["list", "table", "inet", table]).ok()?;
    let (_, comment) = parse_tables(&listing)
        .into_iter()
        .find(|(n, _)| n == table)?;
    mark(&comment).map(str::to_owned)
}

/// `vnet:<lab>` of a comment `vnet:<lab> ip_forward=<before>`.
fn mark(comment: &str) -> Option<&str> {
    comment
        .split_whitespace()
        .next()
        .filter(|m| m.starts_with("vnet:"))
}

fn forwarding_before(comment: &str) -> Option<&str> {
    mark(comment)?;
    comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ip_forward="))
        .filter(|v| matches!(*v, "0" | "1"))
}

/// The machine's `inet` tables named `vnet-…`, each with its comment: one `nft` run (the
/// table listing has no comments, the ruleset has them on the line after each table's).
fn tables() -> io::Result<Vec<(String, String)>> {
    Ok(parse_tables(&nft_output(&["list", "ruleset", "inet"])?))
}

fn parse_tables(ruleset: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = ruleset.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        let Some(name) = line
            .strip_prefix("table inet ")
            .and_then(|rest| rest.strip_suffix(" {"))
            .filter(|n| n.starts_with(PREFIX))
        else {
            continue;
        };
        let comment = lines
            .peek()
            .and_then(|l| l.strip_prefix("comment \""))
            .and_then(|c| c.strip_suffix('"'))
            .unwrap_or_default();
        found.push((name.to_owned(), comment.to_owned()));
    }
    found
}

/// `nft ARGS` in the machine's namespace, its output.
fn nft_output(args: &[&str]) -> io::Result<String> {
    exec::nft_output(&netns::open(Netns::Machine.as_str())?, args)
}

/// Reads `net.ipv4.ip_forward` of the machine, or writes it.
fn forwarding(machine: &File, write: Option<&str>) -> io::Result<String> {
    netns::in_netns(machine, || -> io::Result<String> {
        match write {
            Some(v) => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(FORWARDING)?
                    .write_all(v.as_bytes())?;
                Ok(v.to_owned())
            }
            None => {
                let mut s = String::new();
                File::open(FORWARDING)?.read_to_string(&mut s)?;
                Ok(s.trim().to_owned())
            }
        }
    })?
}

/// One vnet at a time changes the machine's tables and forwarding: a lock like a lab's, under
/// a name no lab can have, waited for (each holder keeps it for a few `nft` runs).
struct MachineLock;

impl MachineLock {
    fn take() -> io::Result<Lock> {
        Lock::waited(
            Lock::machine,
            Duration::from_secs(30),
            "the machine's NAT lock",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_comments_are_read_from_the_ruleset() {
        let ruleset = "table inet filter {\n\tchain input {\n\t}\n}\ntable inet vnet-a {\n\tcomment \"vnet:a ip_forward=0\"\n\tchain postrouting {\n\t}\n}\ntable inet vnet-b {\n\tchain x {\n\t}\n}\n";
        assert_eq!(
            parse_tables(ruleset),
            vec![
                ("vnet-a".to_owned(), "vnet:a ip_forward=0".to_owned()),
                ("vnet-b".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn the_comment_carries_the_mark_and_what_forwarding_was() {
        assert_eq!(mark("vnet:lab ip_forward=0"), Some("vnet:lab"));
        assert_eq!(forwarding_before("vnet:lab ip_forward=0"), Some("0"));
        assert_eq!(forwarding_before("vnet:lab ip_forward=1"), Some("1"));
        // Not vnet's, or not a value vnet would write back.
        assert_eq!(mark("somebody else's"), None);
        assert_eq!(forwarding_before("other ip_forward=0"), None);
        assert_eq!(forwarding_before("vnet:lab ip_forward=7; rm -rf"), None);
    }
}
