//! MD5 (RFC 1321), for Storage's `Content-MD5`: armi sends it with an upload so that the service
//! checks the bytes it got, and checks a download against it. Not for anything secret: MD5 only
//! catches bytes that went wrong on the way. Fed in pieces, so a blob of any size streams
//! through it in constant memory; ring has no MD5, and this is small.

/// A running MD5 digest.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    /// The bytes of an unfinished 64-byte block.
    block: [u8; 64],
    filled: usize,
    length: u64,
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5 {
            state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
            block: [0; 64],
            filled: 0,
            length: 0,
        }
    }
}

impl Md5 {
    /// Adds `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < 64 {
                return;
            }
            let block = self.block;
            compress(&mut self.state, &block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            compress(&mut self.state, block);
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// The digest of everything added.
    pub fn finish(mut self) -> [u8; 16] {
        let bits = self.length.wrapping_mul(8);
        // A 1 bit, zeros up to 56 bytes mod 64, then the length in bits, little-endian.
        let pad = 1 + (119 - self.filled) % 64;
        let mut tail = [0u8; 72];
        tail[0] = 0x80;
        tail[pad..pad + 8].copy_from_slice(&bits.to_le_bytes());
        self.update(&tail[..pad + 8]);
        let mut digest = [0u8; 16];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_le_bytes());
        }
        digest
    }
}

/// The digest as `Content-MD5` carries it: base64 (RFC 4648, padded).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One round step: `a = b + ((a + f + k + x) <<< s)`.
macro_rules! step {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $k:expr, $s:expr) => {
        $a = $b.wrapping_add(
            $a.wrapping_add($f($b, $c, $d))
                .wrapping_add($k)
                .wrapping_add($x)
                .rotate_left($s),
        )
    };
}

#[inline(always)]
fn f(b: u32, c: u32, d: u32) -> u32 {
    d ^ (b & (c ^ d))
}
#[inline(always)]
fn g(b: u32, c: u32, d: u32) -> u32 {
    c ^ (d & (b ^ c))
}
#[inline(always)]
fn h(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}
#[inline(always)]
fn i(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

/// The 64 steps on one block, written out: a loop with tables runs at half the speed in a
/// size-optimised build, and a download's throughput depends on it.
fn compress(state: &mut [u32; 4], block: &[u8]) {
    let mut x = [0u32; 16];
    for (word, bytes) in x.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    step!(f, a, b, c, d, x[0], 0xd76a_a478, 7);
    step!(f, d, a, b, c, x[1], 0xe8c7_b756, 12);
    step!(f, c, d, a, b, x[2], 0x2420_70db, 17);
    step!(f, b, c, d, a, x[3], 0xc1bd_ceee, 22);
    step!(f, a, b, c, d, x[4], 0xf57c_0faf, 7);
    step!(f, d, a, b, c, x[5], 0x4787_c62a, 12);
    step!(f, c, d, a, b, x[6], 0xa830_4613, 17);
    step!(f, b, c, d, a, x[7], 0xfd46_9501, 22);
    step!(f, a, b, c, d, x[8], 0x6980_98d8, 7);
    step!(f, d, a, b, c, x[9], 0x8b44_f7af, 12);
    step!(f, c, d, a, b, x[10], 0xffff_5bb1, 17);
    step!(f, b, c, d, a, x[11], 0x895c_d7be, 22);
    step!(f, a, b, c, d, x[12], 0x6b90_1122, 7);
    step!(f, d, a, b, c, x[13], 0xfd98_7193, 12);
    step!(f, c, d, a, b, x[14], 0xa679_438e, 17);
    step!(f, b, c, d, a, x[15], 0x49b4_0821, 22);
    step!(g, a, b, c, d, x[1], 0xf61e_2562, 5);
    step!(g, d, a, b, c, x[6], 0xc040_b340, 9);
    step!(g, c, d, a, b, x[11], 0x265e_5a51, 14);
    step!(g, b, c, d, a, x[0], 0xe9b6_c7aa, 20);
    step!(g, a, b, c, d, x[5], 0xd62f_105d, 5);
    step!(g, d, a, b, c, x[10], 0x0244_1453, 9);
    step!(g, c, d, a, b, x[15], 0xd8a1_e681, 14);
    step!(g, b, c, d, a, x[4], 0xe7d3_fbc8, 20);
    step!(g, a, b, c, d, x[9], 0x21e1_cde6, 5);
    step!(g, d, a, b, c, x[14], 0xc337_07d6, 9);
    step!(g, c, d, a, b, x[3], 0xf4d5_0d87, 14);
    step!(g, b, c, d, a, x[8], 0x455a_14ed, 20);
    step!(g, a, b, c, d, x[13], 0xa9e3_e905, 5);
    step!(g, d, a, b, c, x[2], 0xfcef_a3f8, 9);
    step!(g, c, d, a, b, x[7], 0x676f_02d9, 14);
    step!(g, b, c, d, a, x[12], 0x8d2a_4c8a, 20);
    step!(h, a, b, c, d, x[5], 0xfffa_3942, 4);
    step!(h, d, a, b, c, x[8], 0x8771_f681, 11);
    step!(h, c, d, a, b, x[11], 0x6d9d_6122, 16);
    step!(h, b, c, d, a, x[14], 0xfde5_380c, 23);
    step!(h, a, b, c, d, x[1], 0xa4be_ea44, 4);
    step!(h, d, a, b, c, x[4], 0x4bde_cfa9, 11);
    step!(h, c, d, a, b, x[7], 0xf6bb_4b60, 16);
    step!(h, b, c, d, a, x[10], 0xbebf_bc70, 23);
    step!(h, a, b, c, d, x[13], 0x289b_7ec6, 4);
    step!(h, d, a, b, c, x[0], 0xeaa1_27fa, 11);
    step!(h, c, d, a, b, x[3], 0xd4ef_3085, 16);
    step!(h, b, c, d, a, x[6], 0x0488_1d05, 23);
    step!(h, a, b, c, d, x[9], 0xd9d4_d039, 4);
    step!(h, d, a, b, c, x[12], 0xe6db_99e5, 11);
    step!(h, c, d, a, b, x[15], 0x1fa2_7cf8, 16);
    step!(h, b, c, d, a, x[2], 0xc4ac_5665, 23);
    step!(i, a, b, c, d, x[0], 0xf429_2244, 6);
    step!(i, d, a, b, c, x[7], 0x432a_ff97, 10);
    step!(i, c, d, a, b, x[14], 0xab94_23a7, 15);
    step!(i, b, c, d, a, x[5], 0xfc93_a039, 21);
    step!(i, a, b, c, d, x[12], 0x655b_59c3, 6);
    step!(i, d, a, b, c, x[3], 0x8f0c_cc92, 10);
    step!(i, c, d, a, b, x[10], 0xffef_f47d, 15);
    step!(i, b, c, d, a, x[1], 0x8584_5dd1, 21);
    step!(i, a, b, c, d, x[8], 0x6fa8_7e4f, 6);
    step!(i, d, a, b, c, x[15], 0xfe2c_e6e0, 10);
    step!(i, c, d, a, b, x[6], 0xa301_4314, 15);
    step!(i, b, c, d, a, x[13], 0x4e08_11a1, 21);
    step!(i, a, b, c, d, x[4], 0xf753_7e82, 6);
    step!(i, d, a, b, c, x[11], 0xbd3a_f235, 10);
    step!(i, c, d, a, b, x[2], 0x2ad7_d2bb, 15);
    step!(i, b, c, d, a, x[9], 0xeb86_d391, 21);
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: [u8; 16]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn md5(data: &[u8]) -> [u8; 16] {
        let mut m = Md5::default();
        m.update(data);
        m.finish()
    }

    /// RFC 1321 § A.5, the test suite.
    #[test]
    fn the_rfc_1321_test_suite() {
        for (input, digest) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(hex(md5(input.as_bytes())), digest, "{input:?}");
        }
    }

    #[test]
    fn pieces_of_any_size_give_the_digest_of_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = md5(&data);
        for piece in [1, 3, 55, 56, 63, 64, 65, 128, 999] {
            let mut m = Md5::default();
            for chunk in data.chunks(piece) {
                m.update(chunk);
            }
            assert_eq!(m.finish(), whole, "pieces of {piece}");
        }
        // Every length around the padding boundary.
        for n in 50..=130 {
            let mut m = Md5::default();
            m.update(&data[..n]);
            let (a, b) = data[..n].split_at(n / 2);
            let mut split = Md5::default();
            split.update(a);
            split.update(b);
            assert_eq!(m.finish(), split.finish(), "{n}");
        }
    }

    #[test]
    fn content_md5_is_padded_base64_of_the_digest() {
        assert_eq!(base64(&md5(b"")), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
