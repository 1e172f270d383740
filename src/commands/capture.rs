use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use super::{Error, Outcome, exit, require_root, running, shown};
use crate::cli::CaptureFormat;
use crate::verify::capture::{self, Ended, Format, Limits, OpenError, Tap};

/// `vnet capture [LAB] NODE:IF... [-w FILE|-] [--count N] [--timeout DUR]`.
pub(super) fn capture(
    target: &[String],
    write: Option<&Path>,
    format: Option<CaptureFormat>,
    limits: Limits,
) -> Outcome {
    if limits.count == Some(0) {
        return Err(Error::Usage(
            "--count 0 would stop before the first frame: give 1 or more, or leave --count out"
                .into(),
        ));
    }
    // The lab may be left out: then every argument is a `NODE:IF`.
    let (named, specs) = match target.split_first() {
        Some((first, rest)) if !first.contains(':') => (Some(first.as_str()), rest),
        _ => (None, target),
    };
    if specs.is_empty() {
        return Err(Error::Usage(
            "name the interfaces to watch: `vnet capture LAB NODE:IF [NODE:IF ...]`".into(),
        ));
    }
    // Twice the same socket would write each of its frames twice.
    if let Some(twice) = specs
        .iter()
        .enumerate()
        .find_map(|(i, s)| specs[..i].contains(s).then_some(s))
    {
        return Err(Error::Usage(format!(
            "{} is named twice: each interface is watched once",
            shown(twice)
        )));
    }
    require_root()?;
    let (lab, record) = running::lab(named, &running::typed_with_lab("capture"))?;
    let mut taps = Vec::new();
    for spec in specs {
        let Some((node, iface)) = spec
            .split_once(':')
            .filter(|(n, i)| !n.is_empty() && !i.is_empty())
        else {
            return Err(Error::Usage(format!(
                "{} is not NODE:IF (as in `pc1:eth0`)",
                shown(spec)
            )));
        };
        let i = running::node(&lab, &record, node)?;
        taps.push(Tap {
            label: spec.clone(),
            ns: record.lab.netns(i),
            iface: iface.to_owned(),
        });
    }
    let mut sockets = Vec::new();
    for tap in &taps {
        let node = tap.label.split_once(':').map_or("", |(n, _)| n);
        match capture::open(tap) {
            Ok(s) => sockets.push(s),
            Err(OpenError::NoInterface) => {
                let i = record.lab.node_index(node).unwrap_or_default();
                let known: Vec<&str> = record.lab.nodes[i]
                    .interfaces
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect();
                return Err(Error::NoSuchInterface {
                    node: node.to_owned(),
                    iface: shown(&tap.iface),
                    known: if known.is_empty() {
                        "none but lo".into()
                    } else {
                        known.join(", ")
                    },
                });
            }
            Err(OpenError::Namespace(error)) => {
                return Err(Error::OpenNamespace {
                    lab: lab.to_string(),
                    ns: tap.ns.clone(),
                    error,
                });
            }
            Err(OpenError::Socket(error)) => {
                return Err(Error::Capture {
                    what: tap.label.clone(),
                    error,
                });
            }
        }
    }
    let file_format = match format {
        Some(CaptureFormat::Pcapng) => Format::Pcapng,
        Some(CaptureFormat::Pcap) => Format::Pcap,
        None if write
            .and_then(Path::extension)
            .is_some_and(|e| e == "pcapng") =>
        {
            Format::Pcapng
        }
        None => Format::Pcap,
    };
    let (format, mut out): (Format, Box<dyn Write>) = match write {
        Some(p) if p == Path::new("-") => {
            if io::stdout().is_terminal() {
                return Err(Error::Usage(
                    "`-w -` writes binary pcap to standard output, which is a terminal here; pipe it (`| wireshark -k -i -`, `| tcpdump -r -`) or leave `-w` out".into(),
                ));
            }
            (file_format, Box::new(io::stdout().lock()))
        }
        Some(p) => {
            let file = File::create(p).map_err(|error| Error::Report {
                file: p.display().to_string(),
                error,
            })?;
            (file_format, Box::new(BufWriter::new(file)))
        }
        None => (
            Format::Lines {
                labelled: taps.len() > 1,
            },
            Box::new(BufWriter::new(io::stdout().lock())),
        ),
    };
    super::installed_signal_handlers();
    let names: Vec<&str> = taps.iter().map(|t| t.label.as_str()).collect();
    crate::errln!("capturing on {} (Ctrl-C stops)", names.join(", "));
    let summary = capture::run(
        &taps,
        &sockets,
        &format,
        limits,
        &crate::apply::INTERRUPTED,
        &mut out,
    )
    .map_err(|error| Error::Capture {
        what: names.join(", "),
        error,
    })?;
    drop(out);
    let why = match summary.ended {
        Ended::Count => "the count was reached",
        Ended::Timeout => "the time was up",
        Ended::Interrupted => "interrupted",
        Ended::OutputClosed => "the output was closed",
    };
    crate::errln!(
        "{} captured ({why})",
        crate::terminal::count(summary.frames as usize, "frame")
    );
    Ok(exit::OK)
}
