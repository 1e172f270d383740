//! The classic libpcap file format: what `tcpdump -r`, Wireshark and every pcap library read.
//! Little-endian, microsecond stamps, Ethernet frames (LINKTYPE_ETHERNET = 1).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// The most of one frame kept: veth carries frames up to 64 KiB when offloads merge segments.
pub(crate) const SNAPLEN: u32 = 262_144;

const MAGIC_MICROSECONDS: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// The 24-byte file header.
pub(crate) fn header(out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    let mut h = Vec::with_capacity(24);
    h.extend(MAGIC_MICROSECONDS.to_le_bytes());
    h.extend(2u16.to_le_bytes());
    h.extend(4u16.to_le_bytes());
    h.extend(0i32.to_le_bytes()); // thiszone: stamps are UTC
    h.extend(0u32.to_le_bytes()); // sigfigs
    h.extend(SNAPLEN.to_le_bytes());
    h.extend(LINKTYPE_ETHERNET.to_le_bytes());
    out.write_all(&h)
}

/// One frame: its 16-byte record header, then the bytes kept of it.
pub(crate) fn record(
    out: &mut (impl Write + ?Sized),
    at: SystemTime,
    data: &[u8],
    wire_len: usize,
) -> io::Result<()> {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let kept = data.len().min(SNAPLEN as usize);
    let mut h = Vec::with_capacity(16 + kept);
    h.extend((since.as_secs() as u32).to_le_bytes());
    h.extend(since.subsec_micros().to_le_bytes());
    h.extend((kept as u32).to_le_bytes());
    h.extend((wire_len as u32).to_le_bytes());
    h.extend(&data[..kept]);
    out.write_all(&h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_have_libpcap_layout() {
        let mut out = Vec::new();
        header(&mut out).unwrap();
        let at = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
        record(&mut out, at, &[1, 2, 3], 60).unwrap();
        assert_eq!(&out[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), 1);
        assert_eq!(out.len(), 24 + 16 + 3);
        let r = &out[24..];
        assert_eq!(
            u32::from_le_bytes(r[0..4].try_into().unwrap()),
            1_700_000_000
        );
        assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), 123_456);
        assert_eq!(u32::from_le_bytes(r[8..12].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(r[12..16].try_into().unwrap()), 60);
        assert_eq!(&r[16..], &[1, 2, 3]);
    }
}
