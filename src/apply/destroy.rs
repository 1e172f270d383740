//! Deleting a lab's namespaces, and only those that are provably the lab's.

use std::io;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;

use super::{StepError, netns};
use crate::model::Netns;
use crate::plan::Step;

/// Whether the namespace may be deleted: its inode matches the one recorded at creation, or
/// (when vnet was killed before it could record it) it carries the lab's tag or is still bare.
fn owned(ns: &str, inode: Option<u64>, tag: &str) -> io::Result<Option<u64>> {
    // Whatever a journal says, a lab deletes only namespaces of its own name.
    let lab = tag.strip_prefix("vnet:").unwrap_or_default();
    if lab.is_empty() || crate::model::name::lab_of_netns(ns) != Some(lab) {
        return Err(io::Error::other(format!(
            "{ns} is not a namespace of lab `{lab}`; left untouched"
        )));
    }
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

/// Runs undo steps: the machine's NAT, links on the machine, the lab's processes, then its
/// namespaces, and last whatever is left of its processes and their cgroup.
pub(crate) fn delete_namespaces(steps: &[Step]) -> Vec<StepError> {
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
    // Processes started inside (by `exec:` or `vnet exec`): by their namespace, and by the
    // lab's cgroup and mark wherever they went since.
    let inodes: Vec<u64> = doomed.iter().map(|d| d.2).collect();
    let labs: Vec<(&Step, &str)> = steps
        .iter()
        .filter_map(|s| match s {
            Step::StopProcesses { lab } => Some((s, lab.as_str())),
            _ => None,
        })
        .collect();
    let mut pids = netns::processes_in(&inodes);
    for (_, lab) in &labs {
        pids.extend(super::procs::processes_of(lab));
    }
    super::procs::kill_all(&pids);
    let names: Vec<&str> = doomed.iter().map(|d| d.1).collect();
    for ((s, _, _), deleted) in doomed.iter().zip(netns::delete_all(&names)) {
        if let Err(e) = deleted {
            errors.push(StepError::new(s, e));
        }
    }
    for (s, lab) in labs {
        if let Err(e) = super::procs::stop(lab) {
            errors.push(StepError::new(s, e));
        }
    }
    errors
}

/// What of the lab carries its mark on this machine right now: namespaces named
/// `<lab>.<node>` whose `lo` carries `vnet:<lab>`, the machine's links that carry it, and the
/// machine's table `inet vnet-<lab>` if its comment does. Undo steps for each, found by the
/// mark, never by name alone.
pub(crate) fn marked_of(lab: &str) -> Vec<Step> {
    let tag = crate::plan::owner_tag(lab);
    let mut steps = Vec::new();
    if let Ok(dir) = std::fs::read_dir(netns::NETNS_DIR) {
        for e in dir.flatten() {
            let ns = e.file_name().to_string_lossy().into_owned();
            if crate::model::name::lab_of_netns(&ns) != Some(lab) || !netns::is_mounted(&ns) {
                continue;
            }
            let Ok(file) = netns::open(&ns) else { continue };
            if let Ok(Ok((Some(alias), _))) = netns::in_netns(&file, loopback_alias)
                && alias == tag
            {
                steps.push(Step::DelNetns {
                    ns,
                    inode: None,
                    tag: tag.clone(),
                });
            }
        }
    }
    for (dev, mark) in machine_marks().unwrap_or_default() {
        if mark == tag {
            steps.push(Step::DelLink {
                ns: Netns::Machine.as_str().to_owned(),
                dev,
                tag: tag.clone(),
            });
        }
    }
    let table = crate::plan::machine_nat_table(lab);
    if super::machine_nat::mark_of(&table).as_deref() == Some(tag.as_str()) {
        steps.insert(
            0,
            Step::DelMachineNat {
                table,
                tag: tag.clone(),
                before: None,
            },
        );
    }
    steps
}

/// What vnet left on this machine with its mark but without a journal (the state under
/// `/run/vnet` was lost, by a reboot of `/run` or by hand): undo steps per lab, found by the
/// `vnet:<lab>` mark on each namespace's `lo` and on the machine's links, never by name.
///
/// Finding the machine's NAT tables takes `nft` runs, so only when `tables` is asked for.
pub(crate) fn marked_orphans(
    known: &[crate::model::name::LabName],
    tables: bool,
) -> Vec<(String, Vec<Step>)> {
    let mut found: Vec<(String, Vec<Step>)> = Vec::new();
    let mut add = |tag: String, step: Step| {
        let Some(lab) = tag.strip_prefix("vnet:").map(str::to_owned) else {
            return;
        };
        if known.iter().any(|k| k.as_str() == lab) {
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
                ns: Netns::Machine.as_str().to_owned(),
                dev,
                tag,
            },
        );
    }
    found
}

/// The names of the machine's interfaces.
pub(crate) fn machine_interfaces() -> io::Result<Vec<String>> {
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
