//! Capture files read as their formats lay them out, for the `see::capture_*` tests: classic
//! pcap and pcapng, each checked for its framing while it is read.

/// A frame of a pcap file: its stamp in microseconds since 1970, and its bytes.
pub(crate) type Frame = (u64, Vec<u8>);

/// A classic pcap file, read as the format says: the link type and each frame with its stamp
/// in microseconds.
pub(crate) fn read_pcap(bytes: &[u8]) -> Result<(u32, Vec<Frame>), String> {
    let u32_at = |at: usize| -> Result<u32, String> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .ok_or_else(|| format!("the file ends inside a header at byte {at}"))
    };
    if u32_at(0)? != 0xa1b2_c3d4 {
        return Err(format!(
            "not a little-endian microsecond pcap: {:02x?}",
            &bytes[..4.min(bytes.len())]
        ));
    }
    let version = (
        u16::from_le_bytes([bytes[4], bytes[5]]),
        u16::from_le_bytes([bytes[6], bytes[7]]),
    );
    if version != (2, 4) {
        return Err(format!("pcap version {version:?}"));
    }
    let link = u32_at(20)?;
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let (secs, micros, kept, wire) = (
            u32_at(at)?,
            u32_at(at + 4)?,
            u32_at(at + 8)?,
            u32_at(at + 12)?,
        );
        if micros >= 1_000_000 || kept > wire {
            return Err(format!("a bad record header at byte {at}"));
        }
        let data = bytes
            .get(at + 16..at + 16 + kept as usize)
            .ok_or_else(|| format!("a record cut short at byte {at}"))?;
        frames.push((
            u64::from(secs) * 1_000_000 + u64::from(micros),
            data.to_vec(),
        ));
        at += 16 + kept as usize;
    }
    Ok((link, frames))
}

/// Echo requests in the frames: (IPv4 ones, IPv6 ones) whose source starts `v4`/`v6`.
pub(crate) fn echo_requests(frames: &[Frame], v4: [u8; 4], v6: [u8; 16]) -> (usize, usize) {
    let mut counts = (0, 0);
    for (_, f) in frames {
        let ethertype = f.get(12..14);
        if ethertype == Some(&[0x08, 0x00]) && f.len() > 34 {
            let ihl = usize::from(f[14] & 0x0f) * 4;
            if f[23] == 1 && f[26..30] == v4 && f.get(14 + ihl) == Some(&8) {
                counts.0 += 1;
            }
        } else if ethertype == Some(&[0x86, 0xdd])
            && f.len() > 54
            && f[20] == 58
            && f[22..38] == v6
            && f[54] == 128
        {
            counts.1 += 1;
        }
    }
    counts
}

/// A frame of a pcapng file: its interface id, its stamp in microseconds, its bytes.
pub(crate) type NgFrame = (u32, u64, Vec<u8>);

/// A pcapng file as the format lays it out: the names of its interfaces (`if_name`, in the
/// order of their description blocks), and each frame with its interface id and its stamp in
/// microseconds (the default resolution, which vnet writes).
pub(crate) fn read_pcapng(bytes: &[u8]) -> Result<(Vec<String>, Vec<NgFrame>), String> {
    let u32_at = |at: usize| -> Result<u32, String> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .ok_or_else(|| format!("the file ends inside a block at byte {at}"))
    };
    let (mut names, mut frames) = (Vec::new(), Vec::new());
    let mut at = 0;
    let mut first = true;
    while at < bytes.len() {
        let (kind, total) = (u32_at(at)?, u32_at(at + 4)? as usize);
        if total < 12 || total % 4 != 0 || u32_at(at + total - 4)? as usize != total {
            return Err(format!("a badly framed block at byte {at}"));
        }
        let body = &bytes[at + 8..at + total - 4];
        match kind {
            0x0A0D_0D0A if u32_at(at + 8)? != 0x1A2B_3C4D => {
                return Err("not a little-endian section".into());
            }
            0x0A0D_0D0A => {}
            _ if first => return Err(format!("the file starts with block type {kind:#x}")),
            1 => {
                if body[0..2] != [1, 0] {
                    return Err(format!("interface {} is not Ethernet", names.len()));
                }
                // Options from byte 8: code, length, value padded to 4.
                let mut o = 8;
                let mut name = None;
                while o + 4 <= body.len() {
                    let code = u16::from_le_bytes([body[o], body[o + 1]]);
                    let len = usize::from(u16::from_le_bytes([body[o + 2], body[o + 3]]));
                    if code == 0 {
                        break;
                    }
                    let value = body
                        .get(o + 4..o + 4 + len)
                        .ok_or("an option runs past its block")?;
                    if code == 2 {
                        name = Some(String::from_utf8_lossy(value).into_owned());
                    }
                    if code == 9 {
                        return Err("vnet writes microseconds, the default: no if_tsresol".into());
                    }
                    o += 4 + len.next_multiple_of(4);
                }
                names.push(name.ok_or("an interface without if_name")?);
            }
            6 => {
                let word = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().unwrap());
                let (id, high, low, kept, wire) = (word(0), word(4), word(8), word(12), word(16));
                if id as usize >= names.len() || kept > wire {
                    return Err(format!("a bad packet block at byte {at}"));
                }
                let data = body
                    .get(20..20 + kept as usize)
                    .ok_or("a packet cut short")?;
                frames.push((id, (u64::from(high) << 32) | u64::from(low), data.to_vec()));
            }
            _ => {}
        }
        first = false;
        at += total;
    }
    Ok((names, frames))
}
