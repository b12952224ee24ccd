//! Property tests: the SSE parser yields the same events however the bytes are chunked,
//! and never panics on truncated or arbitrary input.

use jevons_protocol::sse::{write_event, SseEvent, SseParser};
use proptest::prelude::*;

fn parse_chunked(bytes: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, Option<SseEvent>) {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    for c in points {
        p.feed_into(&bytes[start..c.max(start)], &mut out);
        start = c.max(start);
    }
    p.feed_into(&bytes[start..], &mut out);
    let last = p.finish();
    (out, last)
}

fn stream_strategy() -> impl Strategy<Value = (Vec<u8>, usize)> {
    let ev = (
        proptest::option::of("[a-z_]{1,12}"),
        "[ -~]{0,40}",
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        any::<bool>(),
    );
    proptest::collection::vec(ev, 0..12).prop_map(|evs| {
        let mut buf = Vec::new();
        for (name, data, eol, comment) in &evs {
            let mut one = Vec::new();
            if *comment {
                one.extend_from_slice(b": keep-alive\n");
            }
            write_event(&mut one, name.as_deref(), data);
            let text = String::from_utf8_lossy(&one).replace('\n', eol);
            buf.extend_from_slice(text.as_bytes());
        }
        (buf, evs.len())
    })
}

proptest! {
    #[test]
    fn any_chunking_yields_the_same_events(
        (bytes, n) in stream_strategy(),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let (whole, _) = parse_chunked(&bytes, &[]);
        prop_assert_eq!(whole.len(), n);
        let (chunked, _) = parse_chunked(&bytes, &cuts);
        prop_assert_eq!(chunked, whole);
    }

    #[test]
    fn truncated_streams_never_panic_and_give_a_prefix(
        (bytes, _n) in stream_strategy(),
        cut in any::<usize>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let (whole, _) = parse_chunked(&bytes, &[]);
        let cut = cut % (bytes.len() + 1);
        let (part, _) = parse_chunked(&bytes[..cut], &cuts);
        prop_assert!(part.len() <= whole.len());
        prop_assert_eq!(&whole[..part.len()], &part[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                   cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let _ = parse_chunked(&bytes, &cuts);
    }
}
