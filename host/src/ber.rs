//! A small strict reader of BER/DER tag-length-values, for the bytes photosync decodes itself
//! (LDAP sync controls, certificate names). These bytes come from the network: anything malformed
//! is an error, never a panic.

/// Why a value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {why}")]
pub struct BerError {
    what: &'static str,
    why: &'static str,
}

pub fn bad(what: &'static str, why: &'static str) -> BerError {
    BerError { what, why }
}

pub const BOOLEAN: u8 = 0x01;
pub const OCTET_STRING: u8 = 0x04;
pub const ENUMERATED: u8 = 0x0a;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// One tag-length-value.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Reads one TLV (low tag numbers, definite lengths up to 4 length bytes).
pub fn read<'a>(input: &'a [u8], what: &'static str) -> Result<(Tlv<'a>, &'a [u8]), BerError> {
    let [tag, first, rest @ ..] = input else {
        return Err(bad(what, "truncated"));
    };
    if tag & 0x1f == 0x1f {
        return Err(bad(what, "unexpected high tag number"));
    }
    let (len, rest) = match *first {
        n if n < 0x80 => (usize::from(n), rest),
        0x80 => return Err(bad(what, "indefinite length")),
        n => {
            let count = usize::from(n & 0x7f);
            if count > 4 || rest.len() < count {
                return Err(bad(what, "bad length"));
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[count..])
        }
    };
    if rest.len() < len {
        return Err(bad(what, "length beyond the data"));
    }
    Ok((
        Tlv {
            tag: *tag,
            value: &rest[..len],
        },
        &rest[len..],
    ))
}

/// All TLVs in `input`.
pub fn read_all<'a>(mut input: &'a [u8], what: &'static str) -> Result<Vec<Tlv<'a>>, BerError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read(input, what)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

/// The one TLV `input` holds, which must have `tag`.
pub fn only<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<&'a [u8], BerError> {
    let (tlv, rest) = read(input, what)?;
    if tlv.tag != tag {
        return Err(bad(what, "unexpected tag"));
    }
    if !rest.is_empty() {
        return Err(bad(what, "trailing bytes"));
    }
    Ok(tlv.value)
}

pub fn boolean(tlv: Tlv<'_>, what: &'static str) -> Result<bool, BerError> {
    match tlv.value {
        [b] => Ok(*b != 0),
        _ => Err(bad(what, "boolean of the wrong size")),
    }
}

/// A DER TLV with a short or two-byte long length, for tests that build values.
#[cfg(test)]
pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if value.len() < 0x80 {
        out.push(value.len() as u8);
    } else {
        out.push(0x82);
        out.extend((value.len() as u16).to_be_bytes());
    }
    out.extend(value);
    out
}

#[cfg(test)]
mod fuzz;
