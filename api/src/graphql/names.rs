//! What one works out once per selection and reuses for every object of it: a memo keyed
//! by a sequence of response keys, found by the keys' addresses.
//!
//! The objects of a list select the same fields, and their response keys are the very
//! `Name`s of the document (reference-counted, cloned into every object). An entry holds
//! its names, so while it lives no other name can be allocated at their addresses: two
//! sequences of names at the same addresses (and of the same lengths) are the same
//! sequence, and a lookup compares addresses, not text. Each worker thread keeps its own
//! memo (no lock), of a few entries replaced in turn.

use async_graphql::Name;

/// The most entries a memo keeps.
const MOST: usize = 16;

/// Values worked out from sequences of names (see the module's documentation).
pub struct ByNames<V> {
    entries: Vec<(Box<[Name]>, V)>,
    /// The entry found last (the objects of a list come one after the other).
    last: usize,
    next: usize,
}

impl<V> ByNames<V> {
    pub const fn new() -> Self {
        Self { entries: Vec::new(), last: 0, next: 0 }
    }

    /// The value of `names`: remembered, or made by `make` and remembered.
    pub fn get_or_insert_with<'a>(
        &mut self,
        names: impl ExactSizeIterator<Item = &'a Name> + Clone,
        make: impl FnOnce() -> V,
    ) -> &V {
        let same = |known: &[Name]| {
            known.len() == names.len()
                && known.iter().zip(names.clone()).all(|(known, name)| std::ptr::eq(known.as_str(), name.as_str()))
        };
        let last = self.entries.get(self.last).is_some_and(|(known, _)| same(known));
        let found = if last { Some(self.last) } else { self.entries.iter().position(|(known, _)| same(known)) };
        let at = match found {
            Some(at) => at,
            None => {
                let entry = (names.cloned().collect(), make());
                if self.entries.len() < MOST {
                    self.entries.push(entry);
                    self.entries.len() - 1
                } else {
                    let at = self.next % MOST;
                    self.next = self.next.wrapping_add(1);
                    self.entries[at] = entry;
                    at
                }
            }
        };
        self.last = at;
        &self.entries[at].1
    }
}

impl<V> Default for ByNames<V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_by_address_not_by_text() {
        let (a, b) = (Name::new("id"), Name::new("fullName"));
        let mut memo = ByNames::new();
        let mut made = 0;
        let mut get = |memo: &mut ByNames<usize>, names: &[Name]| {
            *memo.get_or_insert_with(names.iter(), || {
                made += 1;
                made
            })
        };
        assert_eq!(get(&mut memo, &[a.clone(), b.clone()]), 1);
        assert_eq!(get(&mut memo, &[a.clone(), b.clone()]), 1, "the same names again");
        // The same text in other allocations: another sequence (found by address only).
        assert_eq!(get(&mut memo, &[Name::new("id"), Name::new("fullName")]), 2);
        assert_eq!(get(&mut memo, std::slice::from_ref(&a)), 3, "a prefix is another sequence");
        assert_eq!(get(&mut memo, &[b.clone(), a.clone()]), 4, "so is another order");
        // Entries are replaced in turn once the memo is full.
        let many: Vec<Name> = (0..MOST * 2).map(|n| Name::new(format!("k{n}"))).collect();
        for name in &many {
            get(&mut memo, std::slice::from_ref(name));
        }
        assert_eq!(memo.entries.len(), MOST);
        assert_eq!(get(&mut memo, &[a, b]), 4 + MOST * 2 + 1, "forgotten, made again");
    }
}
