//! The proxy's upstream URL: whatever path and query a caller sends, an accepted target stays
//! on the API's origin and under its base path, even for an upstream that percent-decodes the
//! path once and then resolves dot segments (the most generous reading a server may take).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::flow::proxy::target::target;
use url::Url;

/// Percent-decodes once, byte-wise (invalid escapes stay as they are).
fn decode_once(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Resolves `.` and `..` segments, treating `/` and `\` alike; `None` when it climbs above
/// the root.
fn resolve(path: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut stack: Vec<Vec<u8>> = Vec::new();
    for segment in path.split(|c| *c == b'/' || *c == b'\\').skip(1) {
        let before_params = segment.split(|c| *c == b';').next().unwrap_or_default();
        match before_params {
            b"." => {}
            b".." => {
                stack.pop()?;
            }
            _ => stack.push(segment.to_vec()),
        }
    }
    Some(stack)
}

fuzz_target!(|data: &str| {
    let Ok(base) = Url::parse("https://api.example.com/v1") else {
        return;
    };
    let (rest, query) = match data.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (data, None),
    };
    let Ok(url) = target(&base, rest, query) else {
        return;
    };
    assert_eq!(url.origin(), base.origin(), "{data:?} -> {url}");
    assert!(url.path().starts_with("/v1/"), "{data:?} -> {url}");
    assert!(url.fragment().is_none());
    let resolved = resolve(&decode_once(url.path()))
        .unwrap_or_else(|| panic!("{data:?} -> {url} climbs above the root"));
    assert_eq!(
        resolved.first().map(Vec::as_slice),
        Some(&b"v1"[..]),
        "{data:?} -> {url} leaves /v1"
    );
});
