//! Decoding a watch body: newline-delimited JSON `{"type","object"}` events (Kubernetes'
//! `metav1.WatchEvent` framing), arriving in chunks that need not align with lines.
//!
//! `ERROR` events are passed on as events (their object is a `Status`, e.g. `410 Expired`), as the
//! server sent them; [`crate::watcher`] turns them into errors.

use super::transport::ByteStream;
use super::{ClientError, WatchStream};
use bytes::{Buf, BytesMut};
use futures::StreamExt;
use mock_k8_schemas::watch::WatchEvent;
use serde_json::Value;
use std::collections::VecDeque;

/// The longest event line accepted, in bytes (Kubernetes objects are capped at ~1.5 MiB in etcd;
/// this leaves room for large lists of fields while bounding memory on a broken stream).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

struct Decoder {
    body: ByteStream,
    buf: BytesMut,
    ready: VecDeque<Result<WatchEvent<Value>, ClientError>>,
    done: bool,
}

fn parse_line(line: &[u8]) -> Result<WatchEvent<Value>, ClientError> {
    serde_json::from_slice(line).map_err(|e| {
        let shown = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
        ClientError::Decode(format!("watch event {shown:?}: {e}"))
    })
}

impl Decoder {
    /// Moves every complete line of the buffer to `ready`.
    fn split_lines(&mut self) {
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line = self.buf.split_to(pos + 1);
            let line = line.trim_ascii();
            if !line.is_empty() {
                self.ready.push_back(parse_line(line));
            }
        }
        if self.buf.len() > MAX_LINE_BYTES {
            self.buf.advance(self.buf.len());
            self.ready.push_back(Err(ClientError::Decode(format!(
                "watch event longer than {MAX_LINE_BYTES} bytes"
            ))));
            self.done = true;
        }
    }

    async fn next(&mut self) -> Option<Result<WatchEvent<Value>, ClientError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    self.buf.extend_from_slice(&chunk);
                    self.split_lines();
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(ClientError::Transport(e.0)));
                }
                None => {
                    self.done = true;
                    let rest = self.buf.split();
                    let rest = rest.trim_ascii();
                    if !rest.is_empty() {
                        return Some(parse_line(rest));
                    }
                }
            }
        }
    }
}

/// The events of a watch response body, in order; the stream ends when the body ends (a transport
/// failure is its last item, as [`ClientError::Transport`]).
pub fn decode_watch(body: ByteStream) -> WatchStream {
    let decoder = Decoder {
        body,
        buf: BytesMut::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(decoder, |mut d| async move {
        let item = d.next().await;
        item.map(|i| (i, d))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::TransportError;
    use bytes::Bytes;
    use mock_k8_schemas::watch::EventType;

    fn body(chunks: Vec<Result<&'static str, &'static str>>) -> ByteStream {
        futures::stream::iter(chunks.into_iter().map(|c| {
            c.map(|s| Bytes::from_static(s.as_bytes()))
                .map_err(|e| TransportError(e.to_string()))
        }))
        .boxed()
    }

    #[tokio::test]
    async fn decode_watch_should_join_lines_split_across_chunks() {
        let s = decode_watch(body(vec![
            Ok("{\"type\":\"ADDED\",\"obj"),
            Ok("ect\":{\"a\":1}}\n\n{\"type\":\"DELETED\",\"object\":{}}\n{\"type\":\"ERROR\","),
            Ok("\"object\":{\"kind\":\"Status\",\"code\":410}}"),
        ]));
        let items: Vec<_> = s.collect().await;
        let types: Vec<_> = items
            .iter()
            .map(|i| i.as_ref().expect("event").event_type)
            .collect();
        assert_eq!(
            types,
            vec![EventType::Added, EventType::Deleted, EventType::Error]
        );
        assert_eq!(items[0].as_ref().expect("event").object["a"], 1);
    }

    #[tokio::test]
    async fn decode_watch_should_report_garbage_and_broken_bodies() {
        let items: Vec<_> = decode_watch(body(vec![Ok("not json\n"), Err("reset")]))
            .collect()
            .await;
        assert!(matches!(items[0], Err(ClientError::Decode(_))));
        assert_eq!(items[1], Err(ClientError::Transport("reset".into())));
        assert_eq!(items.len(), 2);
    }
}
