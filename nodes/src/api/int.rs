//! Integers as the API documents them: OpenAPI `integer`, format `int64`,
//! minimum 0. JSON Schema counts `3.0` as the integer 3 and puts values
//! above `i64::MAX` outside `int64`, so the server accepts and refuses
//! exactly that — what the document promises is what a request gets.

use serde::de::{self, Deserializer, Visitor};

/// The largest value of an `int64` field.
pub const MAX: u64 = i64::MAX as u64;

struct Int64;

impl Visitor<'_> for Int64 {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a whole number from 0 to {MAX}")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v <= MAX {
            Ok(v)
        } else {
            Err(E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        whole(v).ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
    }
}

/// `v` as an `int64` value when it is one (`3.0` is; `3.5`, `-1.0` and
/// `1e19` are not).
pub fn whole(v: f64) -> Option<u64> {
    // 2^63 is exactly representable; every f64 below it with no fraction
    // converts to u64 without loss.
    (v.fract() == 0.0 && (0.0..9_223_372_036_854_775_808.0).contains(&v)).then_some(v as u64)
}

/// `#[serde(deserialize_with = "int::int64")]`
pub fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(Int64)
}

/// `#[serde(deserialize_with = "int::vec_int64")]`: a list of them.
pub fn vec_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct One(#[serde(deserialize_with = "int64")] u64);
    let list = <Vec<One> as serde::Deserialize>::deserialize(d)?;
    Ok(list.into_iter().map(|One(v)| v).collect())
}

/// `#[serde(default, deserialize_with = "int::opt_int64")]`: also `null`.
pub fn opt_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "null or a whole number from 0 to {MAX}")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            int64(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(deserialize_with = "int64")]
        n: u64,
        #[serde(default, deserialize_with = "opt_int64")]
        o: Option<u64>,
    }

    fn parse(json: &str) -> Option<(u64, Option<u64>)> {
        serde_json::from_str::<T>(json).ok().map(|t| (t.n, t.o))
    }

    #[test]
    fn accepts_what_int64_allows_and_nothing_else() {
        assert_eq!(parse(r#"{"n": 3}"#), Some((3, None)));
        assert_eq!(parse(r#"{"n": 3.0, "o": null}"#), Some((3, None)));
        assert_eq!(parse(r#"{"n": 0, "o": 7.0}"#), Some((0, Some(7))));
        assert_eq!(parse(r#"{"n": 9223372036854775807}"#), Some((MAX, None)));
        for bad in [
            r#"{"n": 9223372036854775808}"#,
            r#"{"n": -1}"#,
            r#"{"n": 3.5}"#,
            r#"{"n": 1e19}"#,
            r#"{"n": "3"}"#,
            r#"{"n": null}"#,
            r#"{"n": 1, "o": -2}"#,
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_list_takes_int64_items_only() {
        #[derive(Deserialize)]
        struct L {
            #[serde(deserialize_with = "vec_int64")]
            seqs: Vec<u64>,
        }
        let parse = |json: &str| serde_json::from_str::<L>(json).ok().map(|l| l.seqs);
        assert_eq!(parse(r#"{"seqs": [1, 2.0]}"#), Some(vec![1, 2]));
        assert_eq!(parse(r#"{"seqs": [9223372036854775808]}"#), None);
        assert_eq!(parse(r#"{"seqs": [1, -1]}"#), None);
    }
}
