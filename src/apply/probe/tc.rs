//! Queueing disciplines by hand: rtnetlink 0.24 has no builders for netem or TBF, so the
//! TCA_OPTIONS payloads are laid out here byte for byte, as the kernel's uapi structs are.

use rtnetlink::packet_core::{
    DefaultNla, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage};

const TCA_OPTIONS: u16 = 2;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_BURST: u16 = 6;
/// TC_LINKLAYER_ETHERNET: with it the kernel computes rates itself and needs no rate table.
const LINKLAYER_ETHERNET: u8 = 1;
/// The kernel's scheduler clock: one "tick" of `tc_tbf_qopt.buffer` is 64 ns.
const PSCHED_TICK_NS: u64 = 64;

/// A qdisc kind and its TCA_OPTIONS payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qdisc {
    pub kind: &'static str,
    pub options: Vec<u8>,
}

/// `struct tc_netem_qopt` with a packet limit and no impairment. Netem's TCA_OPTIONS is the
/// bare struct, not a nest of attributes (optional attributes may follow it; none do here).
pub fn netem(limit: u32) -> Qdisc {
    let fields = [
        0u32,  // latency
        limit, // limit
        0,     // loss
        0,     // gap
        0,     // duplicate
        0,     // jitter
    ];
    Qdisc {
        kind: "netem",
        options: fields.iter().flat_map(|f| f.to_ne_bytes()).collect(),
    }
}

/// `struct tc_ratespec` for a rate in bytes per second.
fn ratespec(bytes_per_sec: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(12);
    b.push(0); // cell_log
    b.push(if bytes_per_sec == 0 {
        0
    } else {
        LINKLAYER_ETHERNET
    });
    b.extend_from_slice(&0u16.to_ne_bytes()); // overhead
    b.extend_from_slice(&0i16.to_ne_bytes()); // cell_align
    b.extend_from_slice(&0u16.to_ne_bytes()); // mpu
    b.extend_from_slice(&bytes_per_sec.to_ne_bytes());
    b
}

/// One netlink attribute: header (length, type), value, padding to 4 bytes.
fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut b = Vec::with_capacity(len.next_multiple_of(4));
    b.extend_from_slice(&(len as u16).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(value);
    b.resize(len.next_multiple_of(4), 0);
    b
}

/// A token bucket: `rate` bytes/s, `burst` bytes of bucket, `limit` bytes of queue.
/// TCA_OPTIONS is a nest: TCA_TBF_PARMS (`struct tc_tbf_qopt`) and TCA_TBF_BURST.
pub fn tbf(rate: u32, burst: u32, limit: u32) -> Qdisc {
    // The kernel recomputes the bucket from TCA_TBF_BURST; the ticks are sent anyway so the
    // struct is self-consistent for kernels that read it.
    let buffer_ns = u64::from(burst) * 1_000_000_000 / u64::from(rate.max(1));
    let buffer = u32::try_from(buffer_ns / PSCHED_TICK_NS).unwrap_or(u32::MAX);
    let mut parms = ratespec(rate);
    parms.extend(ratespec(0)); // no peak rate
    parms.extend_from_slice(&limit.to_ne_bytes());
    parms.extend_from_slice(&buffer.to_ne_bytes());
    parms.extend_from_slice(&0u32.to_ne_bytes()); // mtu: only used with a peak rate
    let mut options = nla(TCA_TBF_PARMS, &parms);
    options.extend(nla(TCA_TBF_BURST, &burst.to_ne_bytes()));
    Qdisc {
        kind: "tbf",
        options,
    }
}

/// RTM_NEWQDISC for the root of interface `index`, asking the kernel to create it or fail.
pub fn request(index: i32, qdisc: &Qdisc) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut msg = TcMessage::with_index(index);
    msg.header.parent = TcHandle::ROOT;
    msg.attributes
        .push(TcAttribute::Kind(qdisc.kind.to_owned()));
    // Raw bytes as an opaque attribute: the kernel parses them per kind, as laid out above.
    msg.attributes.push(TcAttribute::Other(DefaultNla::new(
        TCA_OPTIONS,
        qdisc.options.clone(),
    )));
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(msg));
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    req
}

/// Sends the request and waits for the kernel's answer.
pub async fn add(mut handle: rtnetlink::Handle, index: i32, qdisc: &Qdisc) -> std::io::Result<()> {
    use futures_util::StreamExt;
    let mut answers = handle
        .request(request(index, qdisc))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    while let Some(answer) = answers.next().await {
        if let NetlinkPayload::Error(e) = answer.payload
            && e.code.is_some()
        {
            return Err(e.to_io());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn netem_options_are_the_bare_struct() {
        let q = netem(1000);
        assert_eq!(q.kind, "netem");
        assert_eq!(q.options.len(), 24, "six u32 fields, no attribute header");
        assert_eq!(u32_at(&q.options, 0), 0, "latency");
        assert_eq!(u32_at(&q.options, 4), 1000, "limit");
        assert!(
            q.options[8..].iter().all(|b| *b == 0),
            "no loss, gap, dup, jitter"
        );
    }

    #[test]
    fn tbf_options_are_a_nest_of_parms_and_burst() {
        let q = tbf(125_000, 10_000, 20_000);
        assert_eq!(q.kind, "tbf");
        // TCA_TBF_PARMS: 4-byte header + 36-byte tc_tbf_qopt; TCA_TBF_BURST: 4 + 4.
        assert_eq!(q.options.len(), 40 + 8);
        assert_eq!(u16_at(&q.options, 0), 40);
        assert_eq!(u16_at(&q.options, 2), TCA_TBF_PARMS);
        let p = &q.options[4..40];
        assert_eq!(p[0], 0, "rate.cell_log");
        assert_eq!(p[1], LINKLAYER_ETHERNET, "rate.linklayer");
        assert_eq!(u16_at(p, 2), 0, "rate.overhead");
        assert_eq!(u16_at(p, 4), 0, "rate.cell_align");
        assert_eq!(u16_at(p, 6), 0, "rate.mpu");
        assert_eq!(u32_at(p, 8), 125_000, "rate.rate");
        assert!(p[12..24].iter().all(|b| *b == 0), "no peak rate");
        assert_eq!(u32_at(p, 24), 20_000, "limit");
        // 10 000 bytes at 125 000 B/s = 80 ms = 1 250 000 ticks of 64 ns.
        assert_eq!(u32_at(p, 28), 1_250_000, "buffer");
        assert_eq!(u32_at(p, 32), 0, "mtu");
        assert_eq!(u16_at(&q.options, 40), 8);
        assert_eq!(u16_at(&q.options, 42), TCA_TBF_BURST);
        assert_eq!(u32_at(&q.options, 44), 10_000);
    }

    #[test]
    fn the_request_creates_a_root_qdisc() {
        let req = request(7, &netem(1000));
        assert_eq!(
            req.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewQueueDiscipline(m)) = &req.payload
        else {
            panic!("not RTM_NEWQDISC: {:?}", req.payload);
        };
        assert_eq!(m.header.index, 7);
        assert_eq!(m.header.parent, TcHandle::ROOT);
        assert!(m.attributes.contains(&TcAttribute::Kind("netem".into())));
    }
}
