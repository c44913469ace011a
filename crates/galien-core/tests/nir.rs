//! DATA-2: the NIR is validated (13 characters + key = 97 − (n mod 97), Corsica 2A/2B).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use galien_core::nir::{Nir, NirError, compute_key};
use proptest::prelude::*;
use serde::de::IntoDeserializer;
use serde::de::value::Error as ValueError;
use serde::{Deserialize, Serialize};

/// Appends the computed key to a 13-character matricule.
fn with_key(matricule: &str) -> String {
    format!("{matricule}{:02}", compute_key(matricule).unwrap())
}

#[test]
fn data2_known_examples_have_the_expected_keys() {
    // Independent arithmetic, not through `compute_key`:
    // 1841276451089 mod 97 = 51, 97 − 51 = 46.
    assert_eq!(97 - 1_841_276_451_089_u64 % 97, 46);
    assert_eq!(compute_key("1841276451089"), Some(46));
    let nir = Nir::parse("1 84 12 76 451 089 46").unwrap();
    assert_eq!(nir.as_str(), "184127645108946");
    assert_eq!(nir.matricule(), "1841276451089");
    assert_eq!(nir.key(), 46);
    assert_eq!(nir.sex_digit(), 1);
    assert!(!nir.is_provisional());
    assert_eq!(nir.formatted(), "1 84 12 76 451 089 46");
    assert_eq!(nir.masked(), "1 84 12 •• ••• ••• ••");
    assert_eq!(nir.to_string(), nir.masked());
    assert!(!nir.to_string().contains("451"));

    // The example of the French Wikipedia article: 2690549588157 mod 97 = 17, 97 − 17 = 80.
    assert_eq!(97 - 2_690_549_588_157_u64 % 97, 80);
    let nir = Nir::parse("2 69 05 49 588 157 80").unwrap();
    assert_eq!(nir.key(), 80);
    assert_eq!(nir.sex_digit(), 2);
}

#[test]
fn data2_corsica_2a_counts_as_19_and_2b_as_18() {
    // 2A: n = 1841219123456, n mod 97 = 0, so the key is 97 (the largest key, an edge case).
    assert_eq!(1_841_219_123_456_u64 % 97, 0);
    assert_eq!(compute_key("184122A123456"), Some(97));
    // 2B: n = 1841218123456, key 27.
    assert_eq!(97 - 1_841_218_123_456_u64 % 97, 27);
    assert_eq!(compute_key("184122B123456"), Some(27));
    // Reading the department as "20" (the pre-1976 Corsican code) gives another key: 70.
    assert_eq!(compute_key("1841220123456"), Some(70));

    let a = Nir::parse("1 84 12 2A 123 456 97").unwrap();
    assert_eq!(a.as_str(), "184122A12345697");
    assert_eq!(a.formatted(), "1 84 12 2A 123 456 97");
    assert_eq!(a.matricule(), "184122A123456");
    assert_eq!(a.key(), 97);
    let b = Nir::parse("184122B12345627").unwrap();
    assert_eq!(b.formatted(), "1 84 12 2B 123 456 27");
    assert_eq!(Nir::parse("184122A12345670"), Err(NirError::Key));
    assert_eq!(Nir::parse("184122B12345697"), Err(NirError::Key));

    // Another pair: 2920319123001 → 63, 2920318123001 → 90, naive 2920320123001 → 36.
    assert_eq!(97 - 2_920_319_123_001_u64 % 97, 63);
    assert_eq!(97 - 2_920_318_123_001_u64 % 97, 90);
    assert_eq!(97 - 2_920_320_123_001_u64 % 97, 36);
    assert_eq!(Nir::parse("2 92 03 2A 123 001 63").unwrap().key(), 63);
    assert_eq!(Nir::parse("2 92 03 2B 123 001 90").unwrap().key(), 90);
    assert_eq!(Nir::parse("2 92 03 2A 123 001 36"), Err(NirError::Key));
    assert_eq!(Nir::parse("2 92 03 20 123 001 36").unwrap().key(), 36);
    // Lower-case letters are accepted and normalised.
    let lower = Nir::parse("2 92 03 2a 123 001 63").unwrap();
    assert_eq!(lower.as_str(), "292032A12300163");
    assert_eq!(compute_key("292032a123001"), Some(63));
}

#[test]
fn data2_compute_key_refuses_malformed_matricules() {
    for bad in [
        "",
        "184127645108",
        "18412764510890",
        "184123A123456",
        "1841220A23456",
        "18412 2A12345",
        "184122C123456",
        "X841276451089",
        "18412764510８9",
    ] {
        assert_eq!(compute_key(bad), None, "{bad:?}");
    }
}

#[test]
fn data2_whitespace_is_tolerated_but_nothing_else() {
    let expected = Nir::parse("184127645108946").unwrap();
    for ok in [
        "  184127645108946  ",
        "\t1 84 12 76 451 089 46\n",
        "1 8 4 1 2 7 6 4 5 1 0 8 9 4 6",
        "18412  76451089 46",
    ] {
        assert_eq!(Nir::parse(ok).as_ref(), Ok(&expected), "{ok:?}");
    }
    for (bad, err) in [
        ("1-84-12-76-451-089-46", NirError::Length),
        ("1.84.12.76.451.089.46", NirError::Length),
        ("18412\t764510894", NirError::Character),
        ("18412\u{a0}764510894", NirError::Character),
        ("18412\t7645108946", NirError::Length),
        ("18412-7645108946", NirError::Length),
    ] {
        assert_eq!(Nir::parse(bad), Err(err), "{bad:?}");
    }
}

#[test]
fn data2_each_error_variant() {
    // Length.
    for bad in [
        "",
        "   ",
        "18412764510894",
        "1841276451089466",
        "1841276451089",
    ] {
        assert_eq!(Nir::parse(bad), Err(NirError::Length), "{bad:?}");
    }
    // Character: letters other than the Corsican A/B at position 7, punctuation, non-ASCII digits.
    for bad in [
        "X84127645108946",
        "184127645108 9X6",
        "18412C645108946",
        "1841A7645108946",
        "184122AA2345600",
        "18412764510894é",
        "18412764510894٦",
    ] {
        assert_eq!(Nir::parse(bad), Err(NirError::Character), "{bad:?}");
    }
    // Sex: only 1, 2, 3, 4, 7, 8 (the key is right, so the sex digit alone is refused).
    for sex in ['0', '5', '6', '9'] {
        let nir = with_key(&format!("{sex}841276451089"));
        assert_eq!(Nir::parse(&nir), Err(NirError::Sex), "{nir}");
    }
    for sex in ['1', '2', '3', '4', '7', '8'] {
        let nir = Nir::parse(&with_key(&format!("{sex}841276451089"))).unwrap();
        assert_eq!(nir.is_provisional(), matches!(sex, '7' | '8'));
        assert_eq!(u32::from(nir.sex_digit()), sex.to_digit(10).unwrap());
    }
    // Month: 01–12, 20, 30–42, 50–99.
    for month in 0..=99u8 {
        let nir = with_key(&format!("184{month:02}76451089"));
        let valid = matches!(month, 1..=12 | 20 | 30..=42 | 50..=99);
        let result = Nir::parse(&nir);
        if valid {
            assert!(result.is_ok(), "{nir}");
        } else {
            assert_eq!(result, Err(NirError::Month), "{nir}");
        }
    }
    // Department: 00 refused, 01–99 accepted, a letter only after a 2.
    assert_eq!(
        Nir::parse(&with_key("1841200451089")),
        Err(NirError::Department)
    );
    for dept in 1..=99u8 {
        assert!(Nir::parse(&with_key(&format!("18412{dept:02}451089"))).is_ok());
    }
    for bad in ["184123A45108900", "184121B45108900", "184120A45108900"] {
        assert_eq!(Nir::parse(bad), Err(NirError::Department), "{bad}");
    }
    // Key: wrong, 00, 98, 99.
    for key in ["45", "47", "00", "98", "99"] {
        let nir = format!("1841276451089{key}");
        assert_eq!(Nir::parse(&nir), Err(NirError::Key), "{nir}");
    }
    // Messages are English and do not echo the input.
    for err in [
        NirError::Length,
        NirError::Character,
        NirError::Sex,
        NirError::Month,
        NirError::Department,
        NirError::Key,
    ] {
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn data2_from_str_matches_parse() {
    let nir: Nir = "1 84 12 76 451 089 46".parse().unwrap();
    assert_eq!(nir, Nir::parse("184127645108946").unwrap());
    assert_eq!("184127645108947".parse::<Nir>(), Err(NirError::Key));
}

#[test]
fn data2_debug_does_not_print_the_number() {
    for s in ["184127645108946", "292032A12300163"] {
        let nir = Nir::parse(s).unwrap();
        let debug = format!("{nir:?}");
        assert_eq!(debug, format!("Nir({})", nir.masked()));
        assert!(!debug.contains(nir.as_str()));
        assert!(!debug.contains(&nir.formatted()));
        // After "Nir(S YY MM " nothing but masks, spaces and the closing parenthesis.
        let tail = debug.get("Nir(1 84 12".len()..).unwrap();
        assert!(
            tail.chars().all(|c| matches!(c, '•' | ' ' | ')')),
            "{debug}"
        );
        assert!(!tail.contains('A'));
        let pretty = format!("{nir:#?}");
        assert!(!pretty.contains(nir.matricule()));
        // Inside a derived Debug too.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Patient {
            nir: Nir,
        }
        assert!(!format!("{:?}", Patient { nir: nir.clone() }).contains(nir.as_str()));
    }
    assert_eq!(
        format!("{:?}", Nir::parse("292032A12300163").unwrap()),
        "Nir(2 92 03 •• ••• ••• ••)"
    );
}

/// A serializer that only accepts strings, enough to check what `Nir` serialises to without a
/// format crate.
struct StrSerializer;

macro_rules! refuse {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $arg),*) -> Result<String, ValueError> {
            Err(serde::ser::Error::custom("not a string"))
        })*
    };
}

impl serde::Serializer for StrSerializer {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = serde::ser::Impossible<String, ValueError>;
    type SerializeTuple = serde::ser::Impossible<String, ValueError>;
    type SerializeTupleStruct = serde::ser::Impossible<String, ValueError>;
    type SerializeTupleVariant = serde::ser::Impossible<String, ValueError>;
    type SerializeMap = serde::ser::Impossible<String, ValueError>;
    type SerializeStruct = serde::ser::Impossible<String, ValueError>;
    type SerializeStructVariant = serde::ser::Impossible<String, ValueError>;

    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_owned())
    }

    refuse! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<String, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<String, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(serde::ser::Error::custom("not a string"))
    }
}

fn from_str_value(s: &str) -> Result<Nir, ValueError> {
    Nir::deserialize(IntoDeserializer::<ValueError>::into_deserializer(s))
}

#[test]
fn data2_serde_round_trip() {
    for s in ["184127645108946", "292032A12300163", "184122B12345627"] {
        let nir = Nir::parse(s).unwrap();
        let serialised = nir.serialize(StrSerializer).unwrap();
        assert_eq!(serialised, s);
        assert_eq!(from_str_value(&serialised).unwrap(), nir);
    }
    // Deserialisation goes through `parse`: spaces and lower case are normalised…
    assert_eq!(
        from_str_value(" 2 92 03 2a 123 001 63 ").unwrap().as_str(),
        "292032A12300163"
    );
    // …and invalid numbers are refused, without echoing the input in the error.
    let err = from_str_value("184127645108947").unwrap_err().to_string();
    assert_eq!(err, NirError::Key.to_string());
    assert!(!err.contains("1841276451089"));
    assert!(from_str_value("").is_err());
    // Not a string at all.
    assert!(Nir::deserialize(IntoDeserializer::<ValueError>::into_deserializer(184u32)).is_err());
}

/// A valid 13-character matricule: random sex, year, month, department (2A and 2B included),
/// commune and order.
fn matricule() -> impl Strategy<Value = String> {
    let sex = prop::sample::select(vec![1u8, 2, 3, 4, 7, 8]);
    let month = prop_oneof![1u8..=12, Just(20u8), 30u8..=42, 50u8..=99];
    let department = prop_oneof![
        8 => (1u8..=99).prop_map(|d| format!("{d:02}")),
        1 => Just("2A".to_owned()),
        1 => Just("2B".to_owned()),
    ];
    (sex, 0u8..=99, month, department, 0u16..=999, 0u16..=999).prop_map(
        |(sex, year, month, dept, commune, order)| {
            format!("{sex}{year:02}{month:02}{dept}{commune:03}{order:03}")
        },
    )
}

/// A valid NIR, as its 15-character string.
fn valid_nir() -> impl Strategy<Value = String> {
    matricule().prop_map(|m| with_key(&m))
}

proptest! {
    #[test]
    fn data2_prop_valid_matricule_plus_key_parses_and_round_trips(m in matricule()) {
        let key = compute_key(&m).unwrap();
        prop_assert!((1..=97).contains(&key));
        let s = format!("{m}{key:02}");
        let nir = Nir::parse(&s).unwrap();
        prop_assert_eq!(nir.as_str(), s.as_str());
        prop_assert_eq!(nir.matricule(), m.as_str());
        prop_assert_eq!(nir.key(), key);
        prop_assert_eq!(Nir::parse(nir.as_str()).unwrap(), nir.clone());
        prop_assert_eq!(Nir::parse(&nir.formatted()).unwrap(), nir.clone());
        prop_assert_eq!(Nir::parse(&nir.formatted()).unwrap(), nir.clone());
        prop_assert_eq!(Nir::parse(&nir.formatted().to_lowercase()).unwrap(), nir.clone());
        prop_assert_eq!(nir.formatted().len(), 21);
        let debug = format!("{nir:?}");
        prop_assert!(!debug.contains(&m));
    }

    #[test]
    fn data2_prop_every_single_digit_substitution_is_detected(s in valid_nir()) {
        let chars: Vec<char> = s.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if !c.is_ascii_digit() {
                continue;
            }
            for d in ('0'..='9').filter(|&d| d != c) {
                let mut changed = chars.clone();
                changed[i] = d;
                let changed: String = changed.into_iter().collect();
                prop_assert!(Nir::parse(&changed).is_err(), "{} accepted (from {})", changed, s);
            }
        }
    }

    #[test]
    fn data2_prop_every_adjacent_transposition_is_detected(s in valid_nir()) {
        let chars: Vec<char> = s.chars().collect();
        for i in 0..chars.len() - 1 {
            let (a, b) = (chars[i], chars[i + 1]);
            if a == b || !a.is_ascii_digit() || !b.is_ascii_digit() {
                continue;
            }
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            let swapped: String = swapped.into_iter().collect();
            prop_assert!(Nir::parse(&swapped).is_err(), "{} accepted (from {})", swapped, s);
        }
    }
}
