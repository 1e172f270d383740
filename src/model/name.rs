//! Names the kernel will take, and the rules that keep them safe.
//!
//! A node name becomes part of a file name under `/run/netns`, and an interface name must fit
//! IFNAMSIZ; both are checked here once so that nothing later can escape a directory or be
//! refused by the kernel for its length.

/// Interface names: at most 15 bytes (IFNAMSIZ - 1).
pub(crate) const IFNAME_MAX: usize = 15;
/// Node names: short enough to read in tables, safe in a path.
pub(crate) const NODE_NAME_MAX: usize = 32;
/// Lab names: a prefix of every namespace name.
pub(crate) const LAB_NAME_MAX: usize = 24;

/// Between the lab's name and the node's in a namespace name: a character neither name may
/// contain, so `<lab>.<node>` names one node of one lab and no two labs can make the same name
/// (with `-`, lab `a` + node `b-c` and lab `a-b` + node `c` would both be `a-b-c`).
pub(crate) const NETNS_SEPARATOR: char = '.';

pub(crate) fn netns(lab: &str, node: &str) -> String {
    format!("{lab}{NETNS_SEPARATOR}{node}")
}

/// The lab a namespace name of [`netns`] belongs to.
pub(crate) fn lab_of_netns(ns: &str) -> Option<&str> {
    ns.split_once(NETNS_SEPARATOR).map(|(lab, _)| lab)
}

/// Why a node name is refused, or `None` when it is fine.
pub(crate) fn node_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a node name cannot be empty".into());
    }
    if name.len() > NODE_NAME_MAX {
        return Some(format!(
            "node name is {} bytes long; the limit is {NODE_NAME_MAX}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Some(format!(
            "node name contains {c:?}; use letters, digits, `-` and `_`"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("a node name must start with a letter or a digit".into());
    }
    None
}

/// Why an interface name is refused, or `None` when the kernel will take it.
pub(crate) fn ifname_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an interface name cannot be empty".into());
    }
    if name.len() > IFNAME_MAX {
        return Some(format!(
            "interface name is {} bytes long; Linux allows at most {IFNAME_MAX}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Some(format!(
            "interface name contains {c:?}; use letters, digits, `-`, `_` and `.`"
        ));
    }
    if name == "." || name == ".." {
        return Some("`.` and `..` are not interface names".into());
    }
    if name == "lo" {
        return Some("`lo` is the loopback interface every node already has".into());
    }
    // /proc/sys/net/ipv{4,6}/conf/{all,default} are settings for every interface, not one.
    if name == "all" || name == "default" {
        return Some(format!(
            "`{name}` names the settings of every interface in /proc/sys/net, not an interface"
        ));
    }
    None
}

/// Why a lab name is refused, or `None`.
pub(crate) fn lab_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a lab name cannot be empty".into());
    }
    if name.len() > LAB_NAME_MAX {
        return Some(format!(
            "lab name is {} bytes long; the limit is {LAB_NAME_MAX}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "lab name contains {c:?}; use lowercase letters, digits and `-`"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("a lab name cannot start or end with `-`".into());
    }
    None
}

/// A lab's name that is safe to build paths from: it passed [`lab_name_problem`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LabName(String);

impl LabName {
    pub(crate) fn new(name: &str) -> Result<LabName, String> {
        match lab_name_problem(name) {
            None => Ok(LabName(name.to_owned())),
            Some(why) => Err(why),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LabName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The closest candidate by edit distance, for "did you mean" hints.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // One edit in three letters at most: `l3` is not a slip for `t3`, `swich` is for `switch`.
    if word.chars().count() < 3 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edits from one word to the other, a swap of two neighbouring letters counting as one
/// (`eht0` is one slip from `eth0`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_cannot_escape_the_netns_directory() {
        assert!(node_name_problem("../etc").is_some());
        assert!(node_name_problem("a/b").is_some());
        assert!(node_name_problem("a b").is_some());
        assert!(node_name_problem("-x").is_some());
        assert!(node_name_problem("h1").is_none());
        assert!(node_name_problem("core_router-2").is_none());
    }

    #[test]
    fn interface_names_fit_ifnamsiz() {
        assert!(ifname_problem("eth0").is_none());
        assert!(ifname_problem("a23456789012345").is_none());
        assert!(ifname_problem("a234567890123456").is_some());
        assert!(ifname_problem("eth/0").is_some());
        assert!(ifname_problem("..").is_some());
        assert!(ifname_problem("lo").is_some());
        assert!(ifname_problem("all").is_some());
        assert!(ifname_problem("default").is_some());
        assert!(ifname_problem("defaults").is_none());
    }

    #[test]
    fn did_you_mean_picks_a_near_name() {
        assert_eq!(closest("h11", ["h1", "r1", "br0"]), Some("h1"));
        assert_eq!(closest("routes", ["route", "gateway"]), Some("route"));
        assert_eq!(closest("zzzz", ["h1", "r1"]), None);
        assert_eq!(closest("eht0", ["eth0", "eth1"]), Some("eth0"));
        assert_eq!(closest("swich", ["host", "switch"]), Some("switch"));
        // Too short to tell a slip from another name.
        assert_eq!(closest("l3", ["t3"]), None);
    }
}
