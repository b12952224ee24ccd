//! Server-sent events: an incremental parser (feed bytes in any chunking, get whole events;
//! CR, LF and CRLF line ends, comments, `[DONE]`) and writer helpers for producing streams.

/// One dispatched server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when present (Anthropic names every event; OpenAI none).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, when present.
    pub id: Option<String>,
}

impl SseEvent {
    /// True for OpenAI's end-of-stream sentinel `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }
}

/// Default cap on one line's length; longer lines are truncated (bounded memory on garbage).
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// Incremental SSE parser. Feed it bytes as they arrive; it never panics on any input.
#[derive(Debug, Clone)]
pub struct SseParser {
    line: Vec<u8>,
    last_was_cr: bool,
    max_line: usize,
    pending: SseEvent,
    data_seen: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the default line cap.
    pub fn new() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A parser whose lines are truncated at `max_line` bytes.
    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            last_was_cr: false,
            max_line,
            pending: SseEvent::default(),
            data_seen: false,
        }
    }

    /// Feeds bytes, appending every event completed by them to `out`.
    pub fn feed_into(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        if self.last_was_cr {
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
            if !bytes.is_empty() {
                self.last_was_cr = false;
            }
        }
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_line_bytes(&bytes[..pos]);
            self.end_line(out);
            let is_cr = bytes[pos] == b'\r';
            bytes = &bytes[pos + 1..];
            if is_cr {
                if bytes.is_empty() {
                    self.last_was_cr = true;
                } else if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                }
            }
        }
        self.push_line_bytes(bytes);
    }

    /// Feeds bytes and returns the events they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        self.feed_into(bytes, &mut out);
        out
    }

    /// At end of input: returns the event whose lines were complete but whose blank
    /// separator never came (a cut stream). An unterminated last line is dropped.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.line.clear();
        self.last_was_cr = false;
        self.take_pending()
    }

    fn push_line_bytes(&mut self, b: &[u8]) {
        let room = self.max_line.saturating_sub(self.line.len());
        self.line.extend_from_slice(&b[..b.len().min(room)]);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.line.is_empty() {
            if let Some(ev) = self.take_pending() {
                out.push(ev);
            }
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.process_line(&line);
        self.line = line;
        self.line.clear();
    }

    fn process_line(&mut self, line: &[u8]) {
        if line.first() == Some(&b':') {
            return; // comment (keep-alive)
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.data_seen {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(&value);
                self.data_seen = true;
            }
            b"event" => {
                self.pending.event = Some(value.into_owned());
            }
            b"id" => {
                self.pending.id = Some(value.into_owned());
            }
            _ => {} // `retry` and unknown fields are ignored
        }
    }

    fn take_pending(&mut self) -> Option<SseEvent> {
        let had = self.data_seen;
        self.data_seen = false;
        let ev = std::mem::take(&mut self.pending);
        had.then_some(ev)
    }
}

/// The OpenAI end-of-stream line, `data: [DONE]` plus the blank separator.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Appends one event (`event:` line when named, one `data:` line per line of `data`).
pub fn write_event(buf: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'\n');
    }
    for line in data.split('\n') {
        buf.extend_from_slice(b"data: ");
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
    buf.push(b'\n');
}

/// Appends an unnamed event whose data is already one line of JSON (the OpenAI shape).
pub fn write_data(buf: &mut Vec<u8>, json_line: &[u8]) {
    buf.extend_from_slice(b"data: ");
    buf.extend_from_slice(json_line);
    buf.extend_from_slice(b"\n\n");
}

/// Appends a comment line (SSE keep-alive), ignored by parsers.
pub fn write_comment(buf: &mut Vec<u8>, text: &str) {
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(text.replace(['\n', '\r'], " ").as_bytes());
    buf.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openai_stream_with_done() {
        let evs = SseParser::new().feed(b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].data, "{\"a\":1}");
        assert!(evs[1].is_done());
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed_into(b"event: ping\r", &mut out);
        p.feed_into(b"\ndata: {}\r", &mut out);
        p.feed_into(b"\n\r\n", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event.as_deref(), Some("ping"));
        assert_eq!(out[0].data, "{}");
    }

    #[test]
    fn comments_and_multiline_data() {
        let evs = SseParser::new().feed(b": keep-alive\n\ndata: a\ndata: b\nid: 7\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data, "a\nb");
        assert_eq!(evs[0].id.as_deref(), Some("7"));
    }

    #[test]
    fn writer_output_parses_back() {
        let mut buf = Vec::new();
        write_event(&mut buf, Some("message_start"), "{\"x\":1}\nsecond");
        write_comment(&mut buf, "ping");
        write_data(&mut buf, b"{}");
        buf.extend_from_slice(DONE);
        let evs = SseParser::new().feed(&buf);
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].event.as_deref(), Some("message_start"));
        assert_eq!(evs[0].data, "{\"x\":1}\nsecond");
        assert!(evs[2].is_done());
    }

    #[test]
    fn finish_returns_event_missing_its_blank_line() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: last\ndata: partial-unterminat").is_empty());
        assert_eq!(p.finish().map(|e| e.data), Some("last".to_owned()));
    }

    #[test]
    fn long_lines_are_capped() {
        let mut p = SseParser::with_max_line(16);
        let evs = p.feed(b"data: 0123456789abcdefghij\n\n");
        assert_eq!(evs[0].data, "0123456789");
    }
}
