//! Test-only: a reproducible source of hostile input for the parsers' unit tests.

/// xorshift64: dependency-free and the same sequence for the same seed, so a failing case can be
/// replayed.
pub struct Garbage(pub u64);

impl Garbage {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// The pieces of JSON text that garbage is made of: structure, keys, and values of each kind;
/// a test adds its own.
pub const JSON_PIECES: [&str; 16] = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\"\"",
    "0",
    "-1",
    "1.5",
    "true",
    "null",
    "\"a\"",
    "\"a\":",
    "\"a\\u00e9\"",
];

impl Garbage {
    /// Up to `most` pieces drawn from `pieces`, joined.
    pub fn text(&mut self, pieces: &[&str], most: u64) -> String {
        let len = self.next() % (most + 1);
        (0..len).map(|_| self.pick(pieces)).collect()
    }
}
