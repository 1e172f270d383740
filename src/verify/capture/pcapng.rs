//! The pcapng format (draft-ietf-opsawg-pcapng): unlike classic pcap it says on which
//! interface each frame was seen, so a capture of several interfaces stays apart in
//! Wireshark and `tcpdump -r`. Written little-endian: a section header, one interface
//! description per watched interface (named `node:iface`), then an enhanced packet block
//! per frame, stamped in microseconds (the interfaces' default resolution, which is what
//! SO_TIMESTAMP gives).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::pcap::SNAPLEN;

const SECTION_HEADER: u32 = 0x0A0D_0D0A;
const INTERFACE_DESCRIPTION: u32 = 1;
const ENHANCED_PACKET: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const LINKTYPE_ETHERNET: u16 = 1;
const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;

/// Options as the format lays them out: code, length, the value padded to 32 bits, and the
/// end-of-options marker after the last.
fn options(list: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    if list.is_empty() {
        return out;
    }
    for (code, value) in list {
        out.extend(code.to_le_bytes());
        out.extend((value.len() as u16).to_le_bytes());
        out.extend(*value);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out.extend(OPT_END.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A block: its type and total length, the body (padded to 32 bits), the length again.
fn block(out: &mut (impl Write + ?Sized), kind: u32, body: &[u8]) -> io::Result<()> {
    let padded = body.len().next_multiple_of(4);
    let total = (12 + padded) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend(kind.to_le_bytes());
    b.extend(total.to_le_bytes());
    b.extend(body);
    b.resize(8 + padded, 0);
    b.extend(total.to_le_bytes());
    out.write_all(&b)
}

/// The section header block, then an interface description block for each name in order:
/// a frame's interface id is the index of its interface here.
pub(crate) fn header(out: &mut (impl Write + ?Sized), interfaces: &[&str]) -> io::Result<()> {
    let mut body = Vec::new();
    body.extend(BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend((-1i64).to_le_bytes()); // section length: not given
    let app = format!("vnet {}", env!("CARGO_PKG_VERSION"));
    body.extend(options(&[(SHB_USERAPPL, app.as_bytes())]));
    block(out, SECTION_HEADER, &body)?;
    for name in interfaces {
        let mut body = Vec::new();
        body.extend(LINKTYPE_ETHERNET.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend(SNAPLEN.to_le_bytes());
        body.extend(options(&[(IF_NAME, name.as_bytes())]));
        block(out, INTERFACE_DESCRIPTION, &body)?;
    }
    Ok(())
}

/// One frame seen on interface `id` (its place in [`header`]'s list).
pub(crate) fn packet(
    out: &mut (impl Write + ?Sized),
    id: usize,
    at: SystemTime,
    data: &[u8],
    wire_len: usize,
) -> io::Result<()> {
    let micros = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let kept = data.len().min(SNAPLEN as usize);
    let mut body = Vec::with_capacity(20 + kept.next_multiple_of(4));
    body.extend((id as u32).to_le_bytes());
    body.extend(((micros >> 32) as u32).to_le_bytes());
    body.extend((micros as u32).to_le_bytes());
    body.extend((kept as u32).to_le_bytes());
    body.extend((wire_len as u32).to_le_bytes());
    body.extend(&data[..kept]);
    block(out, ENHANCED_PACKET, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// The blocks of a file: (type, body without the lengths), each checked for its framing.
    fn blocks(mut b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let total = u32_at(b, 4) as usize;
            assert_eq!(total % 4, 0, "a block's length is a multiple of 4");
            assert_eq!(u32_at(b, total - 4) as usize, total, "the trailing length");
            out.push((u32_at(b, 0), b[8..total - 4].to_vec()));
            b = &b[total..];
        }
        out
    }

    #[test]
    fn a_section_names_each_interface_and_ends_its_options() {
        let mut out = Vec::new();
        header(&mut out, &["a:eth0", "gw:wan"]).unwrap();
        let bl = blocks(&out);
        assert_eq!(bl.len(), 3);
        let (kind, shb) = &bl[0];
        assert_eq!(*kind, 0x0A0D_0D0A);
        assert_eq!(&out[8..12], &[0x4d, 0x3c, 0x2b, 0x1a], "byte-order magic");
        assert_eq!(&shb[4..8], &[1, 0, 0, 0], "version 1.0");
        assert_eq!(&shb[8..16], &[0xff; 8], "section length unknown");
        for ((kind, idb), name) in bl[1..].iter().zip(["a:eth0", "gw:wan"]) {
            assert_eq!(*kind, 1);
            assert_eq!(&idb[0..2], &[1, 0], "LINKTYPE_ETHERNET");
            assert_eq!(u32_at(idb, 4), SNAPLEN);
            // if_name, its length, the name padded to 4, then opt_endofopt.
            assert_eq!(&idb[8..10], &[2, 0]);
            assert_eq!(
                usize::from(u16::from_le_bytes([idb[10], idb[11]])),
                name.len()
            );
            assert_eq!(&idb[12..12 + name.len()], name.as_bytes());
            let end = 12 + name.len().next_multiple_of(4);
            assert_eq!(&idb[end..], &[0, 0, 0, 0]);
        }
    }

    #[test]
    fn a_frame_keeps_its_interface_stamp_and_lengths() {
        let mut out = Vec::new();
        let at = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
        packet(&mut out, 1, at, &[1, 2, 3, 4, 5], 60).unwrap();
        let bl = blocks(&out);
        let (kind, epb) = &bl[0];
        assert_eq!(*kind, 6);
        assert_eq!(u32_at(epb, 0), 1, "interface id");
        let micros = (u64::from(u32_at(epb, 4)) << 32) | u64::from(u32_at(epb, 8));
        assert_eq!(micros, 1_700_000_000_123_456);
        assert_eq!(u32_at(epb, 12), 5, "captured");
        assert_eq!(u32_at(epb, 16), 60, "on the wire");
        assert_eq!(&epb[20..25], &[1, 2, 3, 4, 5]);
        assert_eq!(epb.len(), 20 + 8, "the data padded to 32 bits, no options");
    }
}
