//! The bytes of one response body, in every encoding it is offered in, each with its strong ETag.
//! Built once (a generated page when it is stored, a file of `public/` when first served) and
//! shared by every response after. The brotli encoder works in memory kept between calls
//! ([`brotli_memory`]): its 1 MiB hasher is not allocated and zeroed again for every body.

mod brotli_memory;

use std::io::Write;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::HeaderValue;

/// Bodies smaller than this are sent as they are: compression would save less than its headers.
pub const MIN_COMPRESSIBLE_BYTES: usize = 1024;

/// Measured on a 3.9 KB Gatsby page: quality 6 takes 76 µs for 1,135 bytes; quality 9 takes
/// 2.5 ms for 1,138 bytes (a larger window and hasher, for nothing at these sizes). Quality 5,
/// on the bench's 4.6 KB post and its 1.5 KB page-data (best of 600 each, one process): 127 and
/// 61 µs against quality 6's 186 and 94 µs, for 1,309 and 383 bytes against 1,302 and 378 —
/// a third less of the CPU every generated page pays for, 0.5–1.3 % more bytes.
const BROTLI_QUALITY: u32 = 5;
/// The window: the body's size rounded up to a power of two, within 2^18..2^22. Brotli sets up
/// its window's buffers per call (a profile of the cold path at 2^22: memset 6.5 % of the
/// server's CPU, for 5 KB pages); below 2^18 this encoder is ~20× slower at qualities 5–6 on
/// the same page (2^16), so 2^18 is the floor. (Those buffers are now kept between calls:
/// [`brotli_memory`].)
const BROTLI_WINDOWS: std::ops::RangeInclusive<u32> = 18..=22;

fn brotli_window(len: usize) -> u32 {
    let bits = usize::BITS - len.saturating_sub(1).leading_zeros();
    bits.clamp(*BROTLI_WINDOWS.start(), *BROTLI_WINDOWS.end())
}

/// A content coding this server produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Identity,
    Brotli,
    Gzip,
}

impl Encoding {
    /// The `Content-Encoding` value; `None` for identity.
    pub fn header_value(self) -> Option<HeaderValue> {
        match self {
            Encoding::Identity => None,
            Encoding::Brotli => Some(HeaderValue::from_static("br")),
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
        }
    }

    /// Suffix of the file an encoded artifact is stored in beside its identity file.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Brotli => ".br",
            Encoding::Gzip => ".gz",
        }
    }

    fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
        }
    }
}

/// One representation: its bytes and its ETag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Representation {
    pub bytes: Bytes,
    pub etag: HeaderValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub identity: Representation,
    pub brotli: Option<Representation>,
    pub gzip: Option<Representation>,
    /// When these bytes were generated (for revalidation): render time, or the stored file's
    /// modification time.
    pub created: SystemTime,
    /// Compression was tried (or its variants were given): lacking them then means they would
    /// not be smaller, and [`Content::wants_compression`] is false.
    pub compression_tried: bool,
}

impl Content {
    /// Identity only (compressed variants are added later, off the request path).
    pub fn new(body: impl Into<Bytes>) -> Self {
        let bytes = body.into();
        let hash = content_hash(&bytes);
        Content {
            identity: Representation {
                etag: etag(&hash, Encoding::Identity),
                bytes,
            },
            brotli: None,
            gzip: None,
            created: SystemTime::now(),
            compression_tried: false,
        }
    }

    /// The same content, generated at `created`.
    pub fn created_at(mut self, created: SystemTime) -> Self {
        self.created = created;
        self
    }

    /// With compressed variants given (e.g. read back from disk). A variant is kept only if it
    /// is smaller than the identity body.
    pub fn with_encodings(
        body: impl Into<Bytes>,
        brotli: Option<Bytes>,
        gzip: Option<Bytes>,
    ) -> Self {
        Content::new(body).with_variants(brotli, gzip)
    }

    fn with_variants(mut self, brotli: Option<Bytes>, gzip: Option<Bytes>) -> Self {
        self.compression_tried = brotli.is_some() || gzip.is_some();
        let hash = self.hash();
        let size = self.identity.bytes.len();
        let keep = |bytes: Option<Bytes>, encoding| {
            bytes
                .filter(|b| b.len() < size)
                .map(|bytes| Representation {
                    bytes,
                    etag: etag(&hash, encoding),
                })
        };
        self.brotli = keep(brotli, Encoding::Brotli);
        self.gzip = keep(gzip, Encoding::Gzip);
        self
    }

    /// Brotli and gzip variants of this content, made now (CPU-bound: call off the async threads).
    pub fn compressed(&self) -> Content {
        let body = &self.identity.bytes;
        if body.len() < MIN_COMPRESSIBLE_BYTES {
            return self.clone();
        }
        let (brotli, gzip) = (brotli(body), gzip(body));
        self.clone().with_variants(Some(brotli), Some(gzip))
    }

    pub fn get(&self, encoding: Encoding) -> Option<&Representation> {
        match encoding {
            Encoding::Identity => Some(&self.identity),
            Encoding::Brotli => self.brotli.as_ref(),
            Encoding::Gzip => self.gzip.as_ref(),
        }
    }

    pub fn has_encodings(&self) -> bool {
        self.brotli.is_some() || self.gzip.is_some()
    }

    /// Large enough to compress and not compressed yet (nor found not worth it).
    pub fn wants_compression(&self) -> bool {
        !self.compression_tried
            && !self.has_encodings()
            && self.identity.bytes.len() >= MIN_COMPRESSIBLE_BYTES
    }

    /// Bytes held, all representations together.
    pub fn size(&self) -> usize {
        self.identity.bytes.len()
            + self.brotli.as_ref().map_or(0, |r| r.bytes.len())
            + self.gzip.as_ref().map_or(0, |r| r.bytes.len())
    }

    /// The hash the ETags are made of (hex, without quotes or suffix).
    fn hash(&self) -> String {
        let etag = self.identity.etag.to_str().unwrap_or("\"\"");
        etag.trim_matches('"').to_string()
    }
}

/// 128 bits of BLAKE3: a strong validator for the identity bytes.
fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..32].to_string()
}

fn etag(hash: &str, encoding: Encoding) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{hash}{}\"", encoding.etag_suffix()))
        .expect("hex digits are a valid header value")
}

fn brotli(body: &[u8]) -> Bytes {
    Bytes::from(brotli_memory::encode(
        brotli_memory::Reused::default(),
        body,
        BROTLI_QUALITY,
        brotli_window(body.len()),
    ))
}

fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::default(),
    );
    encoder
        .write_all(body)
        .expect("writing to a Vec cannot fail");
    Bytes::from(encoder.finish().expect("writing to a Vec cannot fail"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn html(n: usize) -> Bytes {
        Bytes::from("<p>deferred static generation</p>".repeat(n))
    }

    #[test]
    fn the_brotli_window_fits_the_body_within_its_bounds() {
        assert_eq!(brotli_window(0), 18);
        assert_eq!(brotli_window(5_000), 18);
        assert_eq!(brotli_window(1 << 18), 18);
        assert_eq!(brotli_window((1 << 18) + 1), 19);
        assert_eq!(brotli_window(1 << 22), 22);
        assert_eq!(brotli_window(usize::MAX), 22);
    }

    #[test]
    fn a_body_larger_than_the_smallest_window_decodes_to_the_identity_bytes() {
        let body = html(20_000); // 680 KB: a 2^20 window
        let content = Content::new(body.clone()).compressed();
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&content.brotli.as_ref().unwrap().bytes[..], 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
    }

    #[test]
    fn only_a_large_body_not_yet_compressed_wants_compression() {
        assert!(Content::new(html(100)).wants_compression());
        assert!(!Content::new(html(100)).compressed().wants_compression());
        assert!(
            !Content::new(html(1)).wants_compression(),
            "below MIN_COMPRESSIBLE_BYTES"
        );
        // Bytes that do not get smaller: tried once, not again.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let tried = Content::new(noise).compressed();
        assert!(!tried.has_encodings() && !tried.wants_compression());
    }

    #[test]
    fn etag_is_strong_and_stable_for_the_same_bytes() {
        let a = Content::new(html(10));
        let b = Content::new(html(10));
        assert_eq!(a.identity.etag, b.identity.etag);
        assert!(!a.identity.etag.to_str().unwrap().starts_with("W/"));
        assert_ne!(a.identity.etag, Content::new(html(11)).identity.etag);
    }

    #[test]
    fn each_representation_has_its_own_etag() {
        let c = Content::new(html(100)).compressed();
        let tags = [
            c.identity.etag.clone(),
            c.brotli.clone().unwrap().etag,
            c.gzip.clone().unwrap().etag,
        ];
        assert_ne!(tags[0], tags[1]);
        assert_ne!(tags[1], tags[2]);
    }

    #[test]
    fn compressed_variants_decode_to_the_identity_bytes() {
        let c = Content::new(html(100)).compressed();
        let mut out = Vec::new();
        brotli::Decompressor::new(&c.brotli.as_ref().unwrap().bytes[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, c.identity.bytes);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&c.gzip.as_ref().unwrap().bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, c.identity.bytes);
        assert!(c.brotli.unwrap().bytes.len() < c.identity.bytes.len());
    }

    #[test]
    fn tiny_bodies_are_left_uncompressed() {
        let c = Content::new("tiny").compressed();
        assert!(!c.has_encodings());
    }

    #[test]
    fn variant_not_smaller_than_identity_is_dropped() {
        let c = Content::with_encodings(html(1), Some(html(2)), None);
        assert!(c.brotli.is_none());
    }
}
