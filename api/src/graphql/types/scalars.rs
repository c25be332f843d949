//! Scalars of the schema's own.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// A country code as the schema carries it, in and out: the `CountryCode` scalar.
///
/// Parsing accepts any string; whether it is an assigned code is decided where the value is
/// used (`domain::CountryCode::parse`). That is deliberate: in a sync, one member's bad code
/// is a `userErrors` entry for that member, where a scalar that refused it would refuse the
/// whole document and every other member with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCodeScalar(pub String);

/// An ISO 3166-1 alpha-2 country code, such as `ZA`. Upper case in answers; accepted in
/// any case in arguments and inputs, where an unassigned code is refused as
/// `BAD_USER_INPUT` (in a sync, as a `userErrors` entry for that member alone).
#[Scalar(name = "CountryCode", specified_by_url = "https://www.iso.org/iso-3166-country-codes.html")]
impl ScalarType for CountryCodeScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(code) => Ok(Self(code)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl From<CountryCodeScalar> for String {
    fn from(code: CountryCodeScalar) -> Self {
        code.0
    }
}

impl CountryCodeScalar {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
