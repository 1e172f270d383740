//! Deleting a lab's namespaces, and only those that are provably the lab's.

use std::io;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;

use super::{StepError, netns};
use crate::plan::Step;

/// Whether the namespace may be deleted: its inode matches the one recorded at creation, or
/// (when vnet was killed before it could record it) it carries the lab's tag or is still bare.
fn owned(ns: &str, inode: Option<u64>, tag: &str) -> io::Result<Option<u64>> {
    let Some(current) = netns::inode(ns)? else {
        return Ok(None);
    };
    if !netns::is_mounted(ns) {
        // A marker whose mount is gone (killed between the two): nothing to free but the name.
        return Ok(Some(current));
    }
    if inode == Some(current) {
        return Ok(Some(current));
    }
    if inode.is_some() {
        return Err(io::Error::other(format!(
            "{ns} is not the namespace this lab created (it was replaced); left untouched"
        )));
    }
    let file = netns::open(ns)?;
    let (alias, only_lo) = netns::in_netns(&file, loopback_alias)??;
    if alias.as_deref() == Some(tag) || (alias.is_none() && only_lo) {
        Ok(Some(current))
    } else {
        Err(io::Error::other(format!(
            "{ns} does not carry this lab's mark `{tag}`; left untouched"
        )))
    }
}

/// A link as teardown sees it: its index, name and alias.
type Seen = (u32, Option<String>, Option<String>);

/// Every link of the calling thread's namespace.
fn links_here() -> io::Result<Vec<Seen>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        let links: Vec<_> = handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(links
            .into_iter()
            .map(|l| {
                let mut name = None;
                let mut alias = None;
                for a in l.attributes {
                    match a {
                        LinkAttribute::IfName(n) => name = Some(n),
                        LinkAttribute::IfAlias(s) => alias = Some(s),
                        _ => {}
                    }
                }
                (l.header.index, name, alias)
            })
            .collect())
    })
}

/// `lo`'s alias and whether `lo` is the namespace's only link; runs inside the namespace.
fn loopback_alias() -> io::Result<(Option<String>, bool)> {
    let links = links_here()?;
    let alias = links
        .iter()
        .find(|(index, _, _)| *index == 1)
        .and_then(|(_, _, a)| a.clone());
    Ok((alias, links.len() == 1))
}

/// `ip link del DEV` in vnet's own namespace, only when the link carries the lab's mark.
fn del_link(dev: &str, tag: &str) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        let found = handle
            .link()
            .get()
            .match_name(dev.to_owned())
            .execute()
            .try_next()
            .await;
        let link = match found {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(rtnetlink::Error::NetlinkError(m))
                if m.to_io().raw_os_error() == Some(libc::ENODEV) =>
            {
                return Ok(());
            }
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
        let alias = link.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfAlias(s) => Some(s.as_str()),
            _ => None,
        });
        if alias != Some(tag) {
            return Err(io::Error::other(format!(
                "{dev} does not carry this lab's mark `{tag}`; left untouched"
            )));
        }
        handle
            .link()
            .del(link.header.index)
            .execute()
            .await
            .map_err(|e| io::Error::other(e.to_string()))
    })
}

/// Runs undo steps: the machine's NAT, links on the machine, then the lab's namespaces.
pub fn delete_namespaces(steps: &[Step]) -> Vec<StepError> {
    let mut errors = Vec::new();
    for s in steps {
        if let Step::DelMachineNat { table, tag, before } = s
            && let Err(e) = super::machine_nat::remove(table, tag, before.as_deref())
        {
            errors.push(StepError::new(s, e));
        }
    }
    for s in steps {
        if let Step::DelLink { dev, tag, .. } = s
            && let Err(e) = del_link(dev, tag)
        {
            errors.push(StepError::new(s, e));
        }
    }
    let mut doomed: Vec<(&Step, &str, u64)> = Vec::new();
    for s in steps {
        let Step::DelNetns { ns, inode, tag } = s else {
            continue;
        };
        match owned(ns, *inode, tag) {
            Ok(Some(ino)) => doomed.push((s, ns, ino)),
            Ok(None) => {}
            Err(e) => errors.push(StepError::new(s, e)),
        }
    }
    // Processes started inside (by `exec:` or `vnet exec`) are found by their namespace.
    let inodes: Vec<u64> = doomed.iter().map(|d| d.2).collect();
    let pids = netns::processes_in(&inodes);
    for pid in &pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::SIGKILL);
    }
    let names: Vec<&str> = doomed.iter().map(|d| d.1).collect();
    for ((s, _, _), deleted) in doomed.iter().zip(netns::delete_all(&names)) {
        if let Err(e) = deleted {
            errors.push(StepError::new(s, e));
        }
    }
    errors
}

/// What vnet left on this machine with its mark but without a journal (the state under
/// `/run/vnet` was lost, by a reboot of `/run` or by hand): undo steps per lab, found by the
/// `vnet:<lab>` mark on each namespace's `lo` and on the machine's links, never by name.
///
/// Finding the machine's NAT tables takes `nft` runs, so only when `tables` is asked for.
pub fn marked_orphans(known: &[String], tables: bool) -> Vec<(String, Vec<Step>)> {
    let mut found: Vec<(String, Vec<Step>)> = Vec::new();
    let mut add = |tag: String, step: Step| {
        let Some(lab) = tag.strip_prefix("vnet:").map(str::to_owned) else {
            return;
        };
        if known.contains(&lab) {
            return;
        }
        match found.iter_mut().find(|(l, _)| *l == lab) {
            Some((_, steps)) => steps.push(step),
            None => found.push((lab, vec![step])),
        }
    };
    if let Ok(dir) = std::fs::read_dir(netns::NETNS_DIR) {
        for e in dir.flatten() {
            let ns = e.file_name().to_string_lossy().into_owned();
            if !netns::is_mounted(&ns) {
                continue;
            }
            let Ok(file) = netns::open(&ns) else { continue };
            if let Ok(Ok((Some(tag), _))) = netns::in_netns(&file, loopback_alias) {
                add(
                    tag.clone(),
                    Step::DelNetns {
                        ns,
                        inode: None,
                        tag,
                    },
                );
            }
        }
    }
    let marked_tables = if tables {
        super::machine_nat::marked()
    } else {
        Vec::new()
    };
    for (table, tag) in marked_tables {
        add(
            tag.clone(),
            Step::DelMachineNat {
                table,
                tag,
                before: None,
            },
        );
    }
    for (dev, tag) in machine_marks().unwrap_or_default() {
        add(
            tag.clone(),
            Step::DelLink {
                ns: String::new(),
                dev,
                tag,
            },
        );
    }
    found
}

/// The names of the machine's interfaces.
pub fn machine_interfaces() -> io::Result<Vec<String>> {
    Ok(links_here()?
        .into_iter()
        .filter_map(|(_, name, _)| name)
        .collect())
}

/// The machine's links that carry a vnet mark, with the mark.
fn machine_marks() -> io::Result<Vec<(String, String)>> {
    Ok(links_here()?
        .into_iter()
        .filter(|(index, _, _)| *index != 1)
        .filter_map(|(_, name, alias)| Some((name?, alias.filter(|a| a.starts_with("vnet:"))?)))
        .collect())
}
