//! Response bodies as JSON text, written straight from async-graphql's values.
//!
//! `data` is written here rather than through serde: serde_json escapes a string one byte
//! at a time through a table (a twentieth of the server's work on the ambassador query,
//! about 20 KB of names and codes that never need escaping), so a string is first checked
//! for the bytes JSON escapes, eight at a time, and copied whole when it has none; a string
//! that has some, every number, and `errors` and `extensions` go through serde_json, so the
//! text is byte for byte what serde_json writes. The keys of every object come out in
//! alphabetical order: async-graphql assembles an object's keys in the order its fields
//! finish, so the same answer would otherwise come out in different orders (and with
//! different `ETag`s).

use async_graphql::{Name, Response, Value as ConstValue};
use smallvec::SmallVec;

use crate::graphql::guard::Measure;

/// The body of a response: `data` (left out for a request that failed before execution),
/// `errors`, `extensions`.
pub(super) struct Body<'a> {
    data: Option<&'a ConstValue>,
    errors: &'a [async_graphql::ServerError],
    extensions: &'a std::collections::BTreeMap<String, ConstValue>,
}

pub(super) fn body_of<'a>(response: &'a Response, measure: &Measure) -> Body<'a> {
    Body {
        data: (!measure.request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    }
}

impl Body<'_> {
    /// Appends the body's JSON text to `out`.
    ///
    /// # Errors
    /// Those of serde_json for `errors` and `extensions` (none for values async-graphql makes).
    pub(super) fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, name: &str| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_str(out, name)?;
            out.push(b':');
            serde_json::Result::Ok(())
        };
        if let Some(data) = self.data {
            key(out, "data")?;
            write_value(out, data)?;
        }
        if !self.errors.is_empty() {
            key(out, "errors")?;
            serde_json::to_writer(&mut *out, self.errors)?;
        }
        if !self.extensions.is_empty() {
            key(out, "extensions")?;
            serde_json::to_writer(&mut *out, self.extensions)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Appends `value` as JSON text, the keys of its objects sorted.
fn write_value(out: &mut Vec<u8>, value: &ConstValue) -> serde_json::Result<()> {
    match value {
        ConstValue::Null => out.extend_from_slice(b"null"),
        ConstValue::Boolean(true) => out.extend_from_slice(b"true"),
        ConstValue::Boolean(false) => out.extend_from_slice(b"false"),
        ConstValue::String(text) => write_str(out, text)?,
        ConstValue::Enum(name) => write_str(out, name.as_str())?,
        ConstValue::List(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        ConstValue::Object(fields) => {
            // The entries themselves are sorted (no key is looked up and hashed again), on
            // the stack for an object of up to 16 fields. (Remembering the order per
            // selection, as `graphql::names` does for key hashes, cost more than sorting.)
            let mut entries: SmallVec<[(&Name, &ConstValue); 16]> = fields.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            out.push(b'{');
            for (n, (key, value)) in entries.into_iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_key(out, key)?;
                write_value(out, value)?;
            }
            out.push(b'}');
        }
        // Numbers and bytes, as serde_json writes them.
        leaf @ (ConstValue::Number(_) | ConstValue::Binary(_)) => serde_json::to_writer(&mut *out, leaf)?,
    }
    Ok(())
}

/// Appends a response key and its colon (a field's key is a GraphQL name, which JSON never
/// escapes; a `JSON` scalar's object may have any key).
fn write_key(out: &mut Vec<u8>, key: &Name) -> serde_json::Result<()> {
    if needs_no_escape(key.as_bytes()) {
        out.reserve(key.len() + 3);
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    } else {
        serde_json::to_writer(&mut *out, key.as_str())?;
        out.push(b':');
    }
    Ok(())
}

/// Appends `text` as a JSON string.
fn write_str(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    if needs_no_escape(text.as_bytes()) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, text)
    }
}

/// Whether `bytes` hold none of the bytes a JSON string escapes (control characters, `"`
/// and `\`; serde_json escapes nothing else), eight bytes at a time: a byte of a word is
/// below `0x20` when subtracting `0x20` from every byte borrows into a byte whose top bit
/// was clear (the classic test for a zero byte, exact about whether one exists), and equal
/// to a character when the word XOR that character repeated has a zero byte.
fn needs_no_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH != 0;
    let (words, rest) = bytes.as_chunks::<8>();
    words.iter().all(|word| {
        let word = u64::from_le_bytes(*word);
        !(below(word, 0x20) | below(word ^ (ONES * 0x22), 1) | below(word ^ (ONES * 0x5c), 1))
    }) && rest.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;

    use super::*;

    /// The reference: serde_json's own text of `value`, with sorted keys.
    fn reference(value: &ConstValue) -> String {
        fn sorted(value: &ConstValue) -> serde_json::Value {
            match value {
                ConstValue::Object(fields) => {
                    serde_json::Value::Object(fields.iter().map(|(k, v)| (k.to_string(), sorted(v))).collect())
                }
                ConstValue::List(items) => serde_json::Value::Array(items.iter().map(sorted).collect()),
                leaf => serde_json::to_value(leaf).expect("a leaf"),
            }
        }
        // serde_json's map (without `preserve_order`) is sorted by key.
        serde_json::to_string(&sorted(value)).expect("JSON")
    }

    fn text(value: &ConstValue) -> String {
        let mut out = Vec::new();
        write_value(&mut out, value).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let strings = [
            "",
            "Ada Okafor",
            "carmen.garcía@example.org",
            "a \"quoted\" name",
            "back\\slash",
            "tab\there, newline\n, nul \0, bell \u{7}, escape \u{1b}, del \u{7f}",
            "exactly sixteen!",
            "seventeen bytes..",
            "emoji 🦀 and 中文 and é",
            "a long plain string that spans several chunks of sixteen bytes without any escape",
            "a long string that spans several chunks of sixteen bytes and ends with a quote\"",
            "/slashes/ are not escaped",
        ];
        let mut object = IndexMap::new();
        for (n, s) in strings.iter().enumerate() {
            object.insert(Name::new(format!("k{}", strings.len() - n)), ConstValue::String((*s).to_owned()));
            object.insert(Name::new(format!("needs \"escape\" {n}")), ConstValue::Number(n.into()));
        }
        object.insert(Name::new("enum"), ConstValue::Enum(Name::new("ACTIVE")));
        object.insert(Name::new("null"), ConstValue::Null);
        object.insert(Name::new("yes"), ConstValue::Boolean(true));
        object.insert(Name::new("no"), ConstValue::Boolean(false));
        object.insert(Name::new("big"), ConstValue::Number(u64::MAX.into()));
        object.insert(Name::new("negative"), ConstValue::Number((-42_i64).into()));
        object.insert(Name::new("float"), ConstValue::from(2.5_f64));
        object.insert(Name::new("bytes"), ConstValue::Binary(vec![0_u8, 34, 255].into()));
        object.insert(Name::new("empty"), ConstValue::List(vec![]));
        object.insert(Name::new("emptyObject"), ConstValue::Object(IndexMap::new()));
        let nested = ConstValue::Object(object.clone());
        object.insert(Name::new("list"), ConstValue::List(vec![nested.clone(), ConstValue::Null, nested]));
        let value = ConstValue::Object(object);
        assert_eq!(text(&value), reference(&value));
        for s in strings {
            assert_eq!(text(&ConstValue::String(s.to_owned())), serde_json::to_string(s).expect("JSON"), "{s:?}");
        }
    }

    #[test]
    fn objects_of_the_same_names_in_other_orders_are_sorted_each() {
        let names: Vec<Name> = ["id", "fullName", "country", "__typename"].into_iter().map(Name::new).collect();
        let object = |order: &[usize]| {
            ConstValue::Object(order.iter().map(|&k| (names[k].clone(), ConstValue::from(k as i32))).collect())
        };
        let sorted = r#"{"__typename":3,"country":2,"fullName":1,"id":0}"#;
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [0, 1, 2, 3], [2, 0, 3, 1]] {
            assert_eq!(text(&object(&order)), sorted, "{order:?}");
        }
        assert_eq!(text(&object(&[1, 0])), r#"{"fullName":1,"id":0}"#);
        // More fields than an order is remembered for.
        let wide: IndexMap<Name, ConstValue> =
            (0..100).rev().map(|n| (Name::new(format!("k{n:03}")), ConstValue::from(n))).collect();
        let wide = ConstValue::Object(wide);
        assert_eq!(text(&wide), reference(&wide));
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_anywhere_in_a_string() {
        for byte in (0_u8..0x20).chain([b'"', b'\\']) {
            for len in [1, 15, 16, 17, 40] {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert!(!needs_no_escape(&bytes), "byte {byte} at {at} of {len}");
                }
            }
        }
        assert!(needs_no_escape("plain text, with é and 🦀 and del \u{7f} / slashes".as_bytes()));
        // Every byte value at every place of a word and of the rest, against the rule.
        for byte in 0_u8..=255 {
            for at in 0..19 {
                let mut bytes = vec![b'a'; 19];
                bytes[at] = byte;
                let escaped = byte < 0x20 || byte == b'"' || byte == b'\\';
                assert_eq!(needs_no_escape(&bytes), !escaped, "byte {byte} at {at}");
            }
        }
    }
}
