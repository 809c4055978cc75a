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
