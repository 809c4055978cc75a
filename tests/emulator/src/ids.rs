//! Identifiers: random ones (request ids, token signatures) and stable ones derived from the
//! scenario, so that a test can compute an identity's object id before the emulator starts.

/// Fills `buf` from the operating system's CSPRNG (through ring, which rustls already links).
pub fn random_bytes(buf: &mut [u8]) {
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(buf)
        .expect("the OS random source failed");
}

/// A random number in `0..bound` (`bound` > 0); modulo bias does not matter here.
pub fn random_below(bound: u64) -> u64 {
    let mut buf = [0u8; 8];
    random_bytes(&mut buf);
    u64::from_le_bytes(buf) % bound.max(1)
}

/// A fresh version-4 GUID, lower case, as ARM prints request ids.
pub fn random_guid() -> String {
    let mut bytes = [0u8; 16];
    random_bytes(&mut bytes);
    bytes[6] = bytes[6] & 0x0f | 0x40;
    bytes[8] = bytes[8] & 0x3f | 0x80;
    guid(&bytes)
}

/// A GUID that depends only on `seed`: the same scenario always yields the same ids.
pub fn stable_guid(seed: &str) -> String {
    let mut bytes = [0u8; 16];
    let low = fnv1a(seed, 0xcbf2_9ce4_8422_2325);
    let high = fnv1a(seed, 0x6c62_272e_07bb_0142);
    bytes[..8].copy_from_slice(&low.to_be_bytes());
    bytes[8..].copy_from_slice(&high.to_be_bytes());
    bytes[6] = bytes[6] & 0x0f | 0x40;
    bytes[8] = bytes[8] & 0x3f | 0x80;
    guid(&bytes)
}

/// Upper-case hex of random bytes, as in `X-MSEdge-Ref: Ref A: …`.
pub fn random_hex_upper(len_bytes: usize) -> String {
    let mut bytes = vec![0u8; len_bytes];
    random_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A 64-bit digest of `text` under `key`: tamper-evident enough for the opaque tokens the
/// emulator hands out and takes back (skip tokens), not a cryptographic MAC.
pub fn keyed_digest(key: u64, text: &str) -> u64 {
    fnv1a(text, fnv1a(&key.to_string(), 0xcbf2_9ce4_8422_2325))
}

fn fnv1a(text: &str, basis: u64) -> u64 {
    text.bytes().fold(basis, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn guid(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
