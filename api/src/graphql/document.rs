//! What a document is, measured before anything runs: the bracket nesting of its text
//! (before the recursive parser), its aliases, and its size with fragments expanded
//! ([`Shape`]), each in time linear in the document. The guard refuses on these measures
//! before async-graphql's own checks and the executor walk the expanded document.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

/// Deepest bracket nesting of a GraphQL text, outside strings and comments.
pub fn nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Aliased fields in the whole document.
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = document.operations.iter().map(|(_, op)| in_set(&op.node.selection_set.node)).sum();
    let fragments: usize = document.fragments.values().map(|f| in_set(&f.node.selection_set.node)).sum();
    operations + fragments
}

/// The size of an operation with its fragments expanded, measured in time linear in the
/// document: each fragment is measured once and its measure reused at every spread, and
/// counts saturate instead of growing past what any limit could allow. A document whose
/// fragments spread each other twice per level is small as text but expands exponentially;
/// everything that walks the expanded document (async-graphql's own complexity and depth
/// visitors, the executor) runs only after this measure has refused it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Fields of the expanded document, `__typename` aside: a lower bound of the
    /// complexity, since every field costs at least 1 plus its children.
    pub fields: usize,
    /// Deepest nesting of data fields, as async-graphql counts depth, except that an
    /// introspection field (`__schema`, `__type`) counts 1 whatever it selects: its
    /// selection is measured by `introspection_lists` instead.
    pub depth: usize,
    /// Fields at the root of the operation (through fragments).
    pub root_fields: usize,
    /// Every selection, with fragments expanded: fields (`__typename` too), fragment
    /// spreads and inline fragments, of every operation and every fragment definition.
    /// What async-graphql's own checks and validation rules visit as they walk the
    /// document and follow its spreads, and so what they cost.
    pub selections: usize,
    /// Under `__schema` or `__type`, the deepest nesting of the fields that list types or
    /// their members ([`TYPE_LISTS`]): what multiplies an introspection answer. The
    /// standard introspection queries nest 3 (`types { fields { args } }`); `ofType`
    /// chains, however deep, are single objects and do not count.
    pub introspection_lists: usize,
    /// The same nesting along the current path, before its introspection field is known.
    pub type_lists: usize,
}

/// The introspection fields that return lists of types or of their members.
pub const TYPE_LISTS: [&str; 8] =
    ["types", "fields", "inputFields", "interfaces", "possibleTypes", "enumValues", "args", "directives"];

/// The root fields of introspection.
const INTROSPECTION: [&str; 2] = ["__schema", "__type"];

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// Measures selection sets against fragments measured beforehand, each once. The spread
/// graph is walked with an explicit stack, never by recursion, so a chain of 100,000
/// fragments cannot exhaust the stack (recursion elsewhere follows the bracket nesting,
/// bounded before parsing). A fragment in a cycle (which validation reports) or an unknown
/// one measures nothing.
struct ShapeOf<'a> {
    done: std::collections::HashMap<&'a str, Shape>,
}

/// The names of the fragments a selection set spreads (inline fragments included).
fn spreads_in<'a>(set: &'a SelectionSet, out: &mut Vec<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => spreads_in(&field.node.selection_set.node, out),
            Selection::InlineFragment(fragment) => spreads_in(&fragment.node.selection_set.node, out),
            Selection::FragmentSpread(spread) => out.push(spread.node.fragment_name.node.as_str()),
        }
    }
}

impl<'a> ShapeOf<'a> {
    /// Measures every fragment, those it spreads first (a post-order of the spread graph).
    fn new(fragments: &'a Fragments) -> Self {
        use std::collections::HashMap;
        let by_name: HashMap<&str, &SelectionSet> =
            fragments.iter().map(|(name, f)| (name.as_str(), &f.node.selection_set.node)).collect();
        let mut measure = Self { done: HashMap::with_capacity(by_name.len()) };
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut names: Vec<&str> = by_name.keys().copied().collect();
        names.sort_unstable();
        for start in names {
            if !seen.insert(start) {
                continue;
            }
            let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, Vec::new())];
            spreads_in(by_name[start], &mut stack[0].1);
            while let Some((name, pending)) = stack.last_mut() {
                if let Some(next) = pending.pop() {
                    if by_name.contains_key(next) && seen.insert(next) {
                        let mut spreads = Vec::new();
                        spreads_in(by_name[next], &mut spreads);
                        stack.push((next, spreads));
                    }
                } else {
                    let name = *name;
                    stack.pop();
                    let shape = measure.set(by_name[name]);
                    measure.done.insert(name, shape);
                }
            }
        }
        measure
    }

    fn set(&self, set: &SelectionSet) -> Shape {
        let mut shape = Shape::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) if field.node.name.node == "__typename" => {
                    Shape { selections: 1, ..Shape::default() }
                }
                Selection::Field(field) if INTROSPECTION.contains(&field.node.name.node.as_str()) => {
                    let children = self.set(&field.node.selection_set.node);
                    Shape {
                        fields: children.fields.saturating_add(1),
                        depth: 1,
                        root_fields: 1,
                        selections: children.selections.saturating_add(1),
                        introspection_lists: children.introspection_lists.max(children.type_lists),
                        type_lists: 0,
                    }
                }
                Selection::Field(field) => {
                    let children = self.set(&field.node.selection_set.node);
                    let lists = usize::from(TYPE_LISTS.contains(&field.node.name.node.as_str()));
                    Shape {
                        fields: children.fields.saturating_add(1),
                        depth: children.depth.saturating_add(1),
                        root_fields: 1,
                        selections: children.selections.saturating_add(1),
                        introspection_lists: children.introspection_lists,
                        type_lists: children.type_lists.saturating_add(lists),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let inner = self.set(&fragment.node.selection_set.node);
                    Shape { selections: inner.selections.saturating_add(1), ..inner }
                }
                Selection::FragmentSpread(spread) => {
                    let inner = self.done.get(spread.node.fragment_name.node.as_str()).copied().unwrap_or_default();
                    Shape { selections: inner.selections.saturating_add(1), ..inner }
                }
            };
            shape.fields = shape.fields.saturating_add(inner.fields);
            shape.depth = shape.depth.max(inner.depth);
            shape.root_fields = shape.root_fields.saturating_add(inner.root_fields);
            shape.selections = shape.selections.saturating_add(inner.selections);
            shape.introspection_lists = shape.introspection_lists.max(inner.introspection_lists);
            shape.type_lists = shape.type_lists.max(inner.type_lists);
        }
        shape
    }
}

/// The root fields of a selection set as `(response key, field name)`, through inline
/// fragments and spreads (one level of each: a spread's own spreads are not followed, so a
/// cycle cannot loop).
pub fn root_fields(set: &SelectionSet, fragments: &Fragments) -> Vec<(String, String)> {
    fn fields<'a>(set: &'a SelectionSet, out: &mut Vec<(String, String)>) -> Vec<&'a str> {
        let mut spreads = Vec::new();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.to_string();
                    let key = field.node.alias.as_ref().map_or_else(|| name.clone(), |a| a.node.to_string());
                    out.push((key, name));
                }
                Selection::InlineFragment(fragment) => spreads.extend(fields(&fragment.node.selection_set.node, out)),
                Selection::FragmentSpread(spread) => spreads.push(spread.node.fragment_name.node.as_str()),
            }
        }
        spreads
    }
    let mut out = Vec::new();
    for name in fields(set, &mut out) {
        if let Some(fragment) = fragments.get(name) {
            fields(&fragment.node.selection_set.node, &mut out);
        }
    }
    out
}

/// The expanded size of a selection set and its fragments (see [`Shape`]).
pub fn shape(set: &SelectionSet, fragments: &Fragments) -> Shape {
    ShapeOf::new(fragments).set(set)
}

/// The shape of the operation `selected` (when there is one), with `selections` summed
/// over every operation and every fragment definition of the document, each expanded:
/// validation walks each of them (unused fragments too), expanding spreads as it goes.
pub fn document_shape(document: &ExecutableDocument, selected: Option<&Positioned<OperationDefinition>>) -> Shape {
    let measure = ShapeOf::new(&document.fragments);
    let mut shape = selected.map(|op| measure.set(&op.node.selection_set.node)).unwrap_or_default();
    let operations = document.operations.iter().map(|(_, op)| measure.set(&op.node.selection_set.node).selections);
    let fragments = measure.done.values().map(|f| f.selections);
    shape.selections = operations.chain(fragments).fold(0, usize::saturating_add);
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: [1, {y: 2}]) } }"), 5);
        assert_eq!(nesting("{ a(s: \"{{{{[[[\") }"), 2);
        assert_eq!(nesting("# {{{{{{\n{ a }"), 1);
        assert_eq!(nesting("{ a(s: \"\"\" {{{ \\\"\"\" {{ \"\"\") }"), 2);
        assert_eq!(nesting(&"{".repeat(10_000)), 10_000);
    }

    #[test]
    fn root_fields_and_aliases_are_counted_through_fragments() {
        let document = async_graphql::parser::parse_query(
            "query Q { a: viewer { role } b: viewer { role } ...F } fragment F on Query { c: viewer { role } countries { totalCount } }",
        )
        .expect("parses");
        assert_eq!(count_aliases(&document), 3);
        let (_, op) = document.operations.iter().next().expect("one operation");
        assert_eq!(shape(&op.node.selection_set.node, &document.fragments).root_fields, 4);
    }

    /// `{ ...F0 } fragment F0 on Query { ...F1 ...F1 } .. fragment Fn on Query { viewer { role } }`:
    /// 2^n copies of `viewer { role }` in a document of n lines.
    fn fan_out(levels: usize) -> String {
        let mut text = String::from("{ ...F0 }\n");
        for level in 0..levels {
            text.push_str(&format!("fragment F{level} on Query {{ ...F{next} ...F{next} }}\n", next = level + 1));
        }
        text.push_str(&format!("fragment F{levels} on Query {{ viewer {{ role }} }}\n"));
        text
    }

    #[test]
    fn fragments_are_measured_once_however_often_they_are_spread() {
        let document = async_graphql::parser::parse_query(fan_out(3)).expect("parses");
        let (_, op) = document.operations.iter().next().expect("one operation");
        assert_eq!(
            shape(&op.node.selection_set.node, &document.fragments),
            Shape { fields: 16, depth: 2, root_fields: 8, selections: 16 + 14 + 1, ..Shape::default() }
        );
        // The whole document: the operation (31) and each fragment expanded (30 + 14 + 6 + 2).
        assert_eq!(document_shape(&document, Some(op)).selections, 31 + 52);
        // 2^200 expansions: saturates at once instead of walking them.
        let document = async_graphql::parser::parse_query(fan_out(200)).expect("parses");
        let (_, op) = document.operations.iter().next().expect("one operation");
        let measured = shape(&op.node.selection_set.node, &document.fragments);
        assert_eq!((measured.fields, measured.root_fields, measured.selections), (usize::MAX, usize::MAX, usize::MAX));
    }

    #[test]
    fn fragment_cycles_and_unknown_fragments_measure_nothing() {
        let document = async_graphql::parser::parse_query(
            "{ viewer { ...A } } fragment A on Viewer { role ...B } fragment B on Viewer { ...A ...C __typename }",
        )
        .expect("parses");
        let (_, op) = document.operations.iter().next().expect("one operation");
        let measured = shape(&op.node.selection_set.node, &document.fragments);
        assert_eq!((measured.fields, measured.depth, measured.root_fields), (2, 2, 1));
    }

    #[test]
    fn a_chain_of_a_hundred_thousand_fragments_is_measured_without_recursion() {
        // Run on a small stack: the measure must not recurse along the chain.
        let measured = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let mut text = String::from("{ ...F0 }\n");
                for level in 0..100_000 {
                    text.push_str(&format!("fragment F{level} on Query {{ ...F{} }}\n", level + 1));
                }
                text.push_str("fragment F100000 on Query { viewer { role } }\n");
                let document = async_graphql::parser::parse_query(text).expect("parses");
                let (_, op) = document.operations.iter().next().expect("one operation");
                document_shape(&document, Some(op))
            })
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert_eq!((measured.fields, measured.depth, measured.root_fields), (2, 2, 1));
        // Each fragment expands to the rest of the chain: far over any limit.
        assert!(measured.selections > 1_000_000_000, "{measured:?}");
    }
}
