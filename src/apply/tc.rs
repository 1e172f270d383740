//! Queueing disciplines by hand: rtnetlink 0.24 has no builders for netem or TBF, so the
//! TCA_OPTIONS payloads are laid out here byte for byte, as the kernel's uapi structs are.

use rtnetlink::packet_core::{
    DefaultNla, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage};

use crate::model::impair::{Chance, Distribution, Impair};
use crate::plan::shape::{NETEM_LIMIT, Shape, Tbf};

const TCA_OPTIONS: u16 = 2;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TCA_NETEM_CORR: u16 = 1;
const TCA_NETEM_DELAY_DIST: u16 = 2;
const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;
/// `NETEM_DIST_SCALE`: a distribution table holds deviations in units of 1/8192 sigma.
const NETEM_DIST_SCALE: f64 = 8192.0;
/// TC_LINKLAYER_ETHERNET: with it the kernel computes rates itself and needs no rate table.
const LINKLAYER_ETHERNET: u8 = 1;
/// The kernel's scheduler clock: one "tick" of `tc_tbf_qopt.buffer` is 64 ns.
const PSCHED_TICK_NS: u64 = 64;

/// A qdisc kind and its TCA_OPTIONS payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Qdisc {
    pub kind: &'static str,
    pub options: Vec<u8>,
}

/// `struct tc_netem_qopt` with a packet limit and no impairment. Netem's TCA_OPTIONS is the
/// bare struct, not a nest of attributes (optional attributes may follow it; none do here).
pub(crate) fn netem(limit: u32) -> Qdisc {
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

/// A probability as netem takes it: a fraction of `u32::MAX`.
fn probability(ppb: u32) -> u32 {
    ((u64::from(ppb) * u64::from(u32::MAX)) / 1_000_000_000) as u32
}

fn ticks(ns: u64) -> u32 {
    u32::try_from(ns / PSCHED_TICK_NS).unwrap_or(u32::MAX)
}

fn pair(a: u32, b: u32) -> Vec<u8> {
    let mut v = a.to_ne_bytes().to_vec();
    v.extend_from_slice(&b.to_ne_bytes());
    v
}

/// netem with everything an [`Impair`] says (its rate aside): `struct tc_netem_qopt`, then
/// the attributes for what the struct cannot hold (64-bit times, correlations, reordering,
/// corruption, the delay distribution's table).
pub(crate) fn netem_for(i: &Impair) -> Qdisc {
    let chance = |c: Option<Chance>| c.map_or(0, |c| probability(c.ppb));
    let corr = |c: Option<Chance>| c.map_or(0, |c| probability(c.correlation_ppb));
    let delay = i.delay_ns.unwrap_or(0);
    let jitter = i.jitter.map_or(0, |j| j.ns);
    let fields = [
        ticks(delay),
        NETEM_LIMIT,
        chance(i.loss),
        // `gap`: with reordering, every packet may be the one sent at once, as `tc` sets it.
        u32::from(i.reorder.is_some()),
        chance(i.duplicate),
        ticks(jitter),
    ];
    let mut options: Vec<u8> = fields.iter().flat_map(|f| f.to_ne_bytes()).collect();
    let delay_corr = i.jitter.map_or(0, |j| probability(j.correlation_ppb));
    if delay_corr != 0 || corr(i.loss) != 0 || corr(i.duplicate) != 0 {
        let mut c = pair(delay_corr, corr(i.loss));
        c.extend_from_slice(&corr(i.duplicate).to_ne_bytes());
        options.extend(nla(TCA_NETEM_CORR, &c));
    }
    if i.reorder.is_some() {
        options.extend(nla(
            TCA_NETEM_REORDER,
            &pair(chance(i.reorder), corr(i.reorder)),
        ));
    }
    if i.corrupt.is_some() {
        options.extend(nla(
            TCA_NETEM_CORRUPT,
            &pair(chance(i.corrupt), corr(i.corrupt)),
        ));
    }
    if i.jitter
        .is_some_and(|j| j.distribution == Distribution::Normal)
    {
        let table: Vec<u8> = normal_table()
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        options.extend(nla(TCA_NETEM_DELAY_DIST, &table));
    }
    options.extend(nla(TCA_NETEM_LATENCY64, &(delay as i64).to_ne_bytes()));
    options.extend(nla(TCA_NETEM_JITTER64, &(jitter as i64).to_ne_bytes()));
    Qdisc {
        kind: "netem",
        options,
    }
}

/// The table iproute2 ships as `normal.dist` (made by its `normal.c`): 4096 points of the
/// inverse normal distribution, in units of sigma / 8192, clamped to an `i16`.
pub(crate) fn normal_table() -> Vec<i16> {
    (0..4096)
        .map(|i| {
            let p = (f64::from(i) * 4.0 + 0.5) / 16384.0;
            let v = (inverse_normal(p) * NETEM_DIST_SCALE).round();
            v.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
        })
        .collect()
}

/// Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// TBF for a planned [`Tbf`]: rates beyond `u32` bytes/s go in TCA_TBF_RATE64.
pub(crate) fn tbf_for(t: &Tbf) -> Qdisc {
    let bytes = t.rate_bps / 8;
    let mut q = tbf(u32::try_from(bytes).unwrap_or(u32::MAX), t.burst, t.limit);
    if bytes > u64::from(u32::MAX) {
        q.options.extend(nla(TCA_TBF_RATE64, &bytes.to_ne_bytes()));
    }
    q
}

/// The qdiscs of a shape as requests, in the order they must be made: the root first.
pub(crate) fn shape_requests(
    index: i32,
    shape: &Shape,
) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    if let Some(n) = &shape.netem {
        out.push(request_at(
            index,
            TcHandle::ROOT,
            Shape::ROOT_HANDLE,
            &netem_for(n),
        ));
    }
    if let Some(t) = &shape.tbf {
        let (parent, handle) = if shape.netem.is_some() {
            (TcHandle::from(Shape::CHILD_PARENT), Shape::CHILD_HANDLE)
        } else {
            (TcHandle::ROOT, Shape::ROOT_HANDLE)
        };
        out.push(request_at(index, parent, handle, &tbf_for(t)));
    }
    out
}

/// RTM_DELQDISC of the root: the device goes back to its default queue, children and all.
pub(crate) fn delete_root(index: i32) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut msg = TcMessage::with_index(index);
    msg.header.parent = TcHandle::ROOT;
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::DelQueueDiscipline(msg));
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    req
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
pub(crate) fn tbf(rate: u32, burst: u32, limit: u32) -> Qdisc {
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
pub(crate) fn request(index: i32, qdisc: &Qdisc) -> NetlinkMessage<RouteNetlinkMessage> {
    request_at(index, TcHandle::ROOT, 0, qdisc)
}

/// RTM_NEWQDISC under `parent` with its own `handle` (0: the kernel picks one).
pub(crate) fn request_at(
    index: i32,
    parent: TcHandle,
    handle: u32,
    qdisc: &Qdisc,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut msg = TcMessage::with_index(index);
    msg.header.parent = parent;
    msg.header.handle = TcHandle::from(handle);
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
pub(crate) async fn add(
    handle: rtnetlink::Handle,
    index: i32,
    qdisc: &Qdisc,
) -> std::io::Result<()> {
    send(handle, request(index, qdisc)).await
}

/// Sends one tc request and waits for the kernel's acknowledgement.
pub(crate) async fn send(
    mut handle: rtnetlink::Handle,
    req: NetlinkMessage<RouteNetlinkMessage>,
) -> std::io::Result<()> {
    use futures_util::StreamExt;
    let mut answers = handle
        .request(req)
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
    fn netem_carries_every_setting() {
        use crate::model::impair::{Chance, Jitter};
        let i = Impair {
            delay_ns: Some(40_000_000),
            jitter: Some(Jitter {
                ns: 5_000_000,
                correlation_ppb: 0,
                distribution: Distribution::Normal,
            }),
            loss: Some(Chance {
                ppb: 1_000_000_000,
                correlation_ppb: 250_000_000,
            }),
            reorder: Some(Chance {
                ppb: 500_000_000,
                correlation_ppb: 0,
            }),
            ..Impair::default()
        };
        let q = netem_for(&i);
        let o = &q.options;
        assert_eq!(u32_at(o, 0), 625_000, "40 ms in 64 ns ticks");
        assert_eq!(u32_at(o, 4), 1000, "limit");
        assert_eq!(u32_at(o, 8), u32::MAX, "100% loss");
        assert_eq!(u32_at(o, 12), 1, "gap, for reordering");
        // The attributes after the struct: CORR, REORDER, DELAY_DIST, LATENCY64, JITTER64.
        let mut kinds = Vec::new();
        let mut at = 24;
        while at < o.len() {
            let len = usize::from(u16_at(o, at));
            kinds.push(u16_at(o, at + 2));
            at += len.next_multiple_of(4);
        }
        assert_eq!(at, o.len());
        assert_eq!(kinds, [1, 3, 2, 10, 11]);
    }

    #[test]
    fn the_normal_table_is_symmetric_and_spans_the_tails() {
        let t = normal_table();
        assert_eq!(t.len(), 4096);
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "monotonic");
        assert!(
            t[0] < -8192 * 3 && t[4095] > 8192 * 3,
            "{} {}",
            t[0],
            t[4095]
        );
        assert!((i32::from(t[2048]) + i32::from(t[2047])).abs() < 10);
    }

    #[test]
    fn a_shape_with_both_is_netem_then_tbf_under_it() {
        let shape = Shape::of(
            &Impair {
                delay_ns: Some(1_000_000),
                rate_bps: Some(80_000_000_000),
                ..Impair::default()
            },
            1500,
        );
        let reqs = shape_requests(3, &shape);
        assert_eq!(reqs.len(), 2);
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewQueueDiscipline(m)) =
            &reqs[1].payload
        else {
            panic!("not RTM_NEWQDISC");
        };
        assert_eq!(u32::from(m.header.parent), Shape::CHILD_PARENT);
        assert!(m.attributes.contains(&TcAttribute::Kind("tbf".into())));
        // 10 GB/s does not fit tc_ratespec's u32: TCA_TBF_RATE64 carries it.
        assert_eq!(tbf_for(shape.tbf.as_ref().unwrap()).options.len(), 48 + 12);
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
