//! Counts and sizes as the database and the schema store them (`INTEGER`, GraphQL `Int`):
//! a count too large for the type saturates at its maximum instead of wrapping or failing.

/// `n` as an `i32`, saturating at `i32::MAX` (a count, a size, a duration in ms).
pub fn to_i32<N: TryInto<i32>>(n: N) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// `n` as an `i64`, saturating at `i64::MAX`.
pub fn to_i64<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        assert_eq!(to_i32(7usize), 7);
        assert_eq!(to_i32(u64::MAX), i32::MAX);
        assert_eq!(to_i64(u64::MAX), i64::MAX);
        assert_eq!(to_i64(3u32), 3);
    }
}
