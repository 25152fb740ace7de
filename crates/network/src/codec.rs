//! The block-sync request-response protocol `/keepsake/{chain_id}/sync/1` and its codec.
//!
//! Every message is one frame: a big-endian `u32` payload length, then the payload.
//! - request payload (12 bytes): `from_height: u64 BE`, `max_blocks: u32 BE`;
//! - response payload: `count: u32 BE`, then `count` items, each `len: u32 BE` + `len` bytes.
//!
//! The reader checks the announced length against its limit (12 bytes for requests,
//! `max_message_bytes` for responses) before allocating anything, and a response payload must be
//! consumed exactly by its items.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response;

/// Payload length of an encoded request.
const REQUEST_LEN: usize = 12;

/// A block-sync request: up to `max_blocks` blocks starting at height `from_height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SyncRequest {
    pub from_height: u64,
    pub max_blocks: u32,
}

/// The codec of the sync protocol. `max_response_bytes` bounds a response payload.
#[derive(Clone, Debug)]
pub(crate) struct SyncCodec {
    pub max_response_bytes: usize,
}

/// The protocol name of chain `chain_id`.
pub(crate) fn protocol(chain_id: &str) -> Result<StreamProtocol, crate::NetworkError> {
    StreamProtocol::try_from_owned(format!("/keepsake/{chain_id}/sync/1"))
        .map_err(|e| crate::NetworkError::InvalidConfig(format!("sync protocol name: {e}")))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads one frame, refusing announced lengths over `max` before allocating.
async fn read_frame<T: AsyncRead + Unpin>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(invalid(format!("frame of {len} bytes over the limit of {max}")));
    }
    let mut payload = vec![0u8; len];
    io.read_exact(&mut payload).await?;
    Ok(payload)
}

async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| invalid("frame over 4 GiB".into()))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(payload).await?;
    io.flush().await
}

pub(crate) fn encode_request(request: SyncRequest) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    out[..8].copy_from_slice(&request.from_height.to_be_bytes());
    out[8..].copy_from_slice(&request.max_blocks.to_be_bytes());
    out
}

pub(crate) fn decode_request(payload: &[u8]) -> io::Result<SyncRequest> {
    let bytes: [u8; REQUEST_LEN] = payload.try_into().map_err(|_| {
        invalid(format!("request payload of {} bytes, expected {REQUEST_LEN}", payload.len()))
    })?;
    let mut height = [0u8; 8];
    height.copy_from_slice(&bytes[..8]);
    let mut max = [0u8; 4];
    max.copy_from_slice(&bytes[8..]);
    Ok(SyncRequest { from_height: u64::from_be_bytes(height), max_blocks: u32::from_be_bytes(max) })
}

/// Encoded payload size of a response made of items of these lengths.
pub(crate) fn response_len(items: &[Vec<u8>]) -> usize {
    items.iter().fold(4usize, |acc, item| acc.saturating_add(4).saturating_add(item.len()))
}

/// The longest prefix of `items` (at most `max_items` of them) whose encoding fits `max_bytes`.
pub(crate) fn fit_response(mut items: Vec<Vec<u8>>, max_items: u32, max_bytes: usize) -> Vec<Vec<u8>> {
    let mut used = 4usize;
    let mut keep = 0usize;
    for item in &items {
        let next = used.saturating_add(4).saturating_add(item.len());
        if next > max_bytes || keep as u64 >= u64::from(max_items) {
            break;
        }
        used = next;
        keep += 1;
    }
    items.truncate(keep);
    items
}

pub(crate) fn encode_response(items: &[Vec<u8>]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(response_len(items));
    let count = u32::try_from(items.len()).map_err(|_| invalid("too many items".into()))?;
    out.extend_from_slice(&count.to_be_bytes());
    for item in items {
        let len = u32::try_from(item.len()).map_err(|_| invalid("item over 4 GiB".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(item);
    }
    Ok(out)
}

pub(crate) fn decode_response(payload: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> io::Result<&'a [u8]> {
        if rest.len() < n {
            return Err(invalid(format!("truncated response: need {n} bytes, have {}", rest.len())));
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn take_u32(rest: &mut &[u8]) -> io::Result<usize> {
        let mut b = [0u8; 4];
        b.copy_from_slice(take(rest, 4)?);
        Ok(u32::from_be_bytes(b) as usize)
    }
    let mut rest = payload;
    let count = take_u32(&mut rest)?;
    // Every item needs at least its 4-byte length: bound the allocation by the bytes present.
    if count > rest.len() / 4 {
        return Err(invalid(format!("response claims {count} items in {} bytes", rest.len())));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let len = take_u32(&mut rest)?;
        items.push(take(&mut rest, len)?.to_vec());
    }
    if !rest.is_empty() {
        return Err(invalid(format!("{} trailing bytes after the response items", rest.len())));
    }
    Ok(items)
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = Vec<Vec<u8>>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode_request(&read_frame(io, REQUEST_LEN).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<Vec<u8>>>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode_response(&read_frame(io, self.max_response_bytes).await?)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: SyncRequest) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encode_request(req)).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<Vec<u8>>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let payload = encode_response(&res)?;
        if payload.len() > self.max_response_bytes {
            return Err(invalid(format!(
                "response of {} bytes over the limit of {}",
                payload.len(),
                self.max_response_bytes
            )));
        }
        write_frame(io, &payload).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use libp2p::request_response::Codec;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn request_round_trip() {
        let mut codec = SyncCodec { max_response_bytes: 1024 };
        let proto = protocol("c1").unwrap();
        assert_eq!(proto.as_ref(), "/keepsake/c1/sync/1");
        let req = SyncRequest { from_height: u64::MAX - 3, max_blocks: 77 };
        let mut buf = Vec::new();
        block_on(codec.write_request(&proto, &mut buf, req)).unwrap();
        assert_eq!(buf.len(), 16);
        let got = block_on(codec.read_request(&proto, &mut Cursor::new(buf))).unwrap();
        assert_eq!(got, req);
    }

    #[test]
    fn response_round_trip_and_limits() {
        let proto = protocol("c1").unwrap();
        let items = vec![vec![], vec![1, 2, 3], vec![9; 100]];
        let mut codec = SyncCodec { max_response_bytes: response_len(&items) };
        let mut buf = Vec::new();
        block_on(codec.write_response(&proto, &mut buf, items.clone())).unwrap();
        let got = block_on(codec.read_response(&proto, &mut Cursor::new(buf.clone()))).unwrap();
        assert_eq!(got, items);

        // A reader with a smaller limit refuses the frame from its length prefix alone.
        let mut small = SyncCodec { max_response_bytes: response_len(&items) - 1 };
        let err = block_on(small.read_response(&proto, &mut Cursor::new(buf))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // A writer refuses to send over its limit.
        let err = block_on(small.write_response(&proto, &mut Vec::new(), items)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn huge_length_prefix_is_refused_before_allocation() {
        let mut codec = SyncCodec { max_response_bytes: 1 << 20 };
        let proto = protocol("c1").unwrap();
        let frame = u32::MAX.to_be_bytes().to_vec();
        let err = block_on(codec.read_response(&proto, &mut Cursor::new(frame))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut frame = 13u32.to_be_bytes().to_vec();
        frame.extend_from_slice(&[0; 13]);
        assert!(block_on(codec.read_request(&proto, &mut Cursor::new(frame))).is_err());
    }

    #[test]
    fn malformed_responses_are_refused() {
        // Claims more items than bytes can hold.
        assert!(decode_response(&[0, 0, 1, 0, 0, 0, 0, 0]).is_err());
        // Item longer than the rest.
        assert!(decode_response(&[0, 0, 0, 1, 0, 0, 0, 5, 1]).is_err());
        // Trailing garbage.
        assert!(decode_response(&[0, 0, 0, 0, 7]).is_err());
        // Truncated count.
        assert!(decode_response(&[0, 0]).is_err());
        assert_eq!(decode_response(&[0, 0, 0, 0]).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn fit_response_keeps_the_longest_prefix() {
        let items = vec![vec![0u8; 10], vec![0u8; 10], vec![0u8; 10]];
        assert_eq!(fit_response(items.clone(), 10, 4 + 14 * 3).len(), 3);
        assert_eq!(fit_response(items.clone(), 10, 4 + 14 * 3 - 1).len(), 2);
        assert_eq!(fit_response(items.clone(), 1, 1 << 20).len(), 1);
        assert_eq!(fit_response(items, 10, 17).len(), 0);
    }
}
