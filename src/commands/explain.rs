//! `vnet explain LAB FROM TO [--proto tcp|udp --port N] [--json]`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::{Error, Outcome, exit};
use crate::cli::ProtoArg;
use crate::model::{Lab, Proto};
use crate::state;
use crate::verify::explain::{self, World, words};

/// The JSON document's format; fields are only ever added within one version.
const JSON_VERSION: u32 = 1;

pub(super) fn explain(
    arg: &str,
    from: &str,
    to: &str,
    proto: Option<ProtoArg>,
    port: Option<u16>,
    json: bool,
) -> Outcome {
    let (lab, live) = resolve(arg)?;
    let world = if live {
        World::running(&lab)
    } else {
        World::planned(&lab)
    };
    let from = node(&lab, from)?;
    let (label, address, given_port) = target(&lab, from, to)?;
    let port = port.or(given_port);
    let proto = match (proto, port) {
        (Some(ProtoArg::Udp), _) => Proto::Udp,
        (Some(ProtoArg::Tcp), _) | (None, Some(_)) => Proto::Tcp,
        _ => Proto::Icmp,
    };
    if proto != Proto::Icmp && port.is_none() {
        return Err(Error::Usage(format!(
            "--proto {} needs a port: --port N or {to}:N",
            proto.as_str()
        )));
    }
    let port = port.filter(|_| proto != Proto::Icmp);
    let e = explain::explain(&world, from, &label, address, proto, port);
    let code = if e.arrives { exit::OK } else { exit::FAILED };
    if json {
        let mut doc = serde_json::to_value(&e).unwrap_or_default();
        if let Some(o) = doc.as_object_mut() {
            o.insert("version".into(), JSON_VERSION.into());
            o.insert("lab".into(), lab.name.clone().into());
            o.insert("summary".into(), words::line(&e).into());
            o.insert("ok".into(), e.arrives.into());
            o.insert("exit".into(), code.into());
        }
        crate::jsonln!(doc);
    } else {
        crate::outln!("{}", words::text(&e));
    }
    Ok(code)
}

/// The lab and whether to read it from the kernel: a running lab (by name, or by its file)
/// is read live, which takes root; a file whose lab is not running is reasoned on as written.
fn resolve(arg: &str) -> Result<(Lab, bool), Error> {
    let path = Path::new(arg);
    let file_like = arg.ends_with(".yaml") || arg.ends_with(".yml") || arg.contains('/');
    if path.is_file() && (file_like || !state::is_running(&super::lab_name(arg)?)) {
        let lab = super::load(path)?.lab;
        let name = super::name_of(&lab)?;
        if state::is_running(&name) && nix::unistd::geteuid().is_root() {
            let record = state::read_record(&name).map_err(|_| Error::NotRunning {
                lab: name.to_string(),
            })?;
            return Ok((record.lab, true));
        }
        return Ok((lab, false));
    }
    let name = super::lab_name(arg)?;
    let record = state::read_record(&name)
        .ok()
        .filter(|_| state::is_running(&name))
        .ok_or_else(|| Error::NotRunning {
            lab: name.to_string(),
        })?;
    super::require_root()?;
    Ok((record.lab, true))
}

fn node(lab: &Lab, name: &str) -> Result<usize, Error> {
    lab.node_index(name).ok_or_else(|| Error::NoSuchNode {
        lab: lab.name.clone(),
        node: super::shown(name),
        known: known(lab),
    })
}

fn known(lab: &Lab) -> String {
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).take(20).collect();
    let more = lab.nodes.len().saturating_sub(names.len());
    if more > 0 {
        format!("{}, … and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// TO as written: an address, a node, either with `:PORT`.
fn target(lab: &Lab, from: usize, to: &str) -> Result<(String, IpAddr, Option<u16>), Error> {
    if let Ok(a) = to.parse::<IpAddr>() {
        return Ok((to.to_owned(), a, None));
    }
    if let Ok(s) = to.parse::<SocketAddr>() {
        return Ok((s.ip().to_string(), s.ip(), Some(s.port())));
    }
    let (name, port) = match to.rsplit_once(':') {
        Some((n, p)) => {
            let port = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: the port after `:` must be 1 to 65535",
                    super::shown(to)
                ))
            })?;
            (n, Some(port))
        }
        None => (to, None),
    };
    let n = node(lab, name)?;
    let address = explain::address_of(lab, from, n).ok_or_else(|| {
        Error::Usage(format!(
            "{name} has no address of an IP version {} speaks",
            lab.nodes[from].name
        ))
    })?;
    Ok((name.to_owned(), address, port))
}
