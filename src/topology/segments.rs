//! MAC addresses are unique in their layer-2 segment ([`Segments`]): the same MAC in two
//! segments is fine.

use std::collections::HashMap;

use miette::SourceSpan;

use super::diag::Problems;
use super::schema::RawLab;
use crate::model::Lab;
use crate::model::segments::Segments;

pub(crate) fn macs(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    let mut segments = Segments::of(lab);
    let mut first: HashMap<(usize, &str), SourceSpan> = HashMap::new();
    // Raw and built nodes are in the same order.
    for (ni, rn) in raw.nodes.iter().enumerate() {
        for i in &rn.interfaces {
            let Some(mac) = &i.mac else { continue };
            let segment = segments.of_iface(ni, &i.name.v);
            match first.get(&(segment, mac.v.as_str())) {
                Some(at) => {
                    let problem = p
                        .new_problem(
                            "duplicate_mac",
                            format!("MAC address {} is used twice in one layer-2 segment", mac.v),
                        )
                        .label(*at, "first used here")
                        .label(mac.at, "used again here, in the same broadcast domain")
                        .help("frames for it would reach either interface; give each interface its own MAC");
                    p.push(problem);
                }
                None => {
                    first.insert((segment, mac.v.as_str()), mac.at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn valid(text: &str) -> bool {
        crate::topology::parse("lab.yaml", "lab", text.as_bytes()).is_ok()
    }

    fn lab(r1_a: &str) -> String {
        let iface =
            |a: &str, mac: &str| format!("{{addresses: [{a}], mac: '02:00:00:00:00:{mac}'}}");
        format!(
            "nodes:\n  h1: {{interfaces: {{eth0: {}}}}}\n  h2: {{interfaces: {{eth0: {}}}}}\n  h3: {{interfaces: {{eth0: {}}}}}\n  h4: {{interfaces: {{eth0: {}}}}}\n  r1: {{kind: router, interfaces: {{a: {}, b: {}}}}}\n  br1: {{kind: bridge}}\n  br2: {{kind: bridge}}\n  sw: {{kind: switch, ports: {{p3: {{vlan: 10}}, p4: {{vlan: 20}}}}}}\nlinks:\n  - [h1:eth0, br1:p1]\n  - [h2:eth0, br2:p1]\n  - [h3:eth0, sw:p3]\n  - [h4:eth0, sw:p4]\n  - [r1:a, br1:p2]\n  - [r1:b, br2:p2]\n",
            iface("10.0.1.1/24", "01"),
            iface("10.0.2.1/24", "01"),
            iface("10.0.3.1/24", "01"),
            iface("10.0.4.1/24", "01"),
            iface("10.0.1.9/24", r1_a),
            iface("10.0.2.9/24", "99"),
        )
    }

    /// One MAC in several segments: two bridges not joined (a router between them has the
    /// same MAC on both sides), two VLANs of one switch.
    #[test]
    fn the_same_mac_in_two_segments_is_fine_and_in_one_is_not() {
        assert!(valid(&lab("99")));
        assert!(!valid(&lab("01")), "r1:a and h1 share br1");
    }
}
