//! Encryption of backups (DATA-7): the whole archive is one STREAM (`aead-stream`, big-endian
//! 32-bit counter and last-block flag) of XChaCha20-Poly1305 segments of 64 KiB, under a key
//! derived from the master key for this purpose only. Each segment is authenticated, reordering
//! or dropping one is detected, and so is a truncated file (only the last segment carries the
//! last-block flag): a backup either decrypts whole or is refused.
//!
//! File: `GALIENB1` (8 bytes) || nonce prefix (19 random bytes) || segments. The magic and the
//! nonce prefix are the associated data of every segment.

use crate::keyfile::MasterKey;
use aead_stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::Payload;
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305};
use galien_core::Entropy;
use std::io::{self, BufRead, Read, Write};

/// The first bytes of every Galien backup.
pub const MAGIC: &[u8; 8] = b"GALIENB1";
/// Plaintext bytes per segment.
const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
/// XChaCha20's 24-byte nonce less STREAM's 4-byte counter and 1-byte flag.
const NONCE_PREFIX: usize = 19;
const HEADER: usize = MAGIC.len() + NONCE_PREFIX;
const PURPOSE: &str = "backup/v1";

fn aead(master: &MasterKey) -> XChaCha20Poly1305 {
    let bytes = crate::seal::derive(master, PURPOSE);
    XChaCha20Poly1305::new(&Key::from(*bytes))
}

/// The magic then the nonce prefix: the associated data of every segment.
fn header_of(prefix: &[u8; NONCE_PREFIX]) -> [u8; HEADER] {
    let mut header = [0u8; HEADER];
    for (to, from) in header.iter_mut().zip(MAGIC.iter().chain(prefix)) {
        *to = *from;
    }
    header
}

fn damaged() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the backup does not decrypt: it was altered or cut short, or it was made with another master key",
    )
}

/// Writes an encrypted backup: plaintext in through [`Write`], then [`SealedWriter::finish`].
pub struct SealedWriter<W: Write> {
    out: W,
    stream: Option<EncryptorBE32<XChaCha20Poly1305>>,
    header: [u8; HEADER],
    buf: Vec<u8>,
}

impl<W: Write> SealedWriter<W> {
    /// Starts a backup into `out` (the header is written at once).
    pub fn new(master: &MasterKey, mut out: W, entropy: &dyn Entropy) -> io::Result<Self> {
        let mut prefix = [0u8; NONCE_PREFIX];
        entropy.fill(&mut prefix);
        let header = header_of(&prefix);
        let stream = EncryptorBE32::from_aead(aead(master), &prefix.into());
        out.write_all(&header)?;
        Ok(Self {
            out,
            stream: Some(stream),
            header,
            buf: Vec::with_capacity(SEGMENT),
        })
    }

    fn seal_full_segment(&mut self) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or_else(damaged)?;
        let sealed = stream
            .encrypt_next(Payload {
                msg: &self.buf,
                aad: &self.header,
            })
            .map_err(|_| io::Error::other("backup too large to encrypt"))?;
        self.out.write_all(&sealed)?;
        self.buf.clear();
        Ok(())
    }

    /// Seals the last segment and flushes: the writer's output, complete.
    pub fn finish(mut self) -> io::Result<W> {
        let stream = self.stream.take().ok_or_else(damaged)?;
        let sealed = stream
            .encrypt_last(Payload {
                msg: &self.buf,
                aad: &self.header,
            })
            .map_err(|_| io::Error::other("backup too large to encrypt"))?;
        self.out.write_all(&sealed)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full segment is sealed only when more follows, so the last one is never empty-but-full.
        if self.buf.len() == SEGMENT && !data.is_empty() {
            self.seal_full_segment()?;
        }
        let n = data.len().min(SEGMENT - self.buf.len());
        let (taken, _) = data.split_at(n);
        self.buf.extend_from_slice(taken);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads a backup written by [`SealedWriter`]; any altered, reordered or missing segment, or
/// the wrong master key, is an [`io::ErrorKind::InvalidData`] error.
pub struct SealedReader<R: BufRead> {
    input: R,
    stream: Option<DecryptorBE32<XChaCha20Poly1305>>,
    header: [u8; HEADER],
    plain: Vec<u8>,
    at: usize,
}

impl<R: BufRead> SealedReader<R> {
    /// Checks the header; [`io::ErrorKind::InvalidData`] if this is not a Galien backup.
    pub fn new(master: &MasterKey, mut input: R) -> io::Result<Self> {
        let mut magic = [0u8; MAGIC.len()];
        let mut prefix = [0u8; NONCE_PREFIX];
        input
            .read_exact(&mut magic)
            .and_then(|()| input.read_exact(&mut prefix))
            .map_err(|_| not_a_backup())?;
        if &magic != MAGIC {
            return Err(not_a_backup());
        }
        let header = header_of(&prefix);
        Ok(Self {
            input,
            stream: Some(DecryptorBE32::from_aead(aead(master), &prefix.into())),
            header,
            plain: Vec::new(),
            at: 0,
        })
    }

    /// Decrypts the next segment into `plain`; false once the last one was read.
    fn next_segment(&mut self) -> io::Result<bool> {
        if self.stream.is_none() {
            return Ok(false);
        }
        let mut sealed = Vec::with_capacity(SEGMENT + TAG);
        (&mut self.input)
            .take((SEGMENT + TAG) as u64)
            .read_to_end(&mut sealed)?;
        let last = sealed.len() < SEGMENT + TAG || self.input.fill_buf()?.is_empty();
        let payload = Payload {
            msg: &sealed,
            aad: &self.header,
        };
        let plain = if last {
            let stream = self.stream.take().ok_or_else(damaged)?;
            stream.decrypt_last(payload)
        } else {
            let stream = self.stream.as_mut().ok_or_else(damaged)?;
            stream.decrypt_next(payload)
        };
        self.plain = plain.map_err(|_| damaged())?;
        self.at = 0;
        Ok(true)
    }
}

fn not_a_backup() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "not a Galien backup (it does not start with GALIENB1)",
    )
}

impl<R: BufRead> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if !self.next_segment()? {
                return Ok(0);
            }
        }
        let mut rest = self.plain.get(self.at..).unwrap_or_default();
        let n = rest.read(out)?;
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::OsEntropy;
    use std::io::Cursor;

    fn master() -> MasterKey {
        let dir = tempfile::tempdir().unwrap();
        crate::keyfile::load_or_create(&dir.path().join("k"), &OsEntropy)
            .unwrap()
            .0
    }

    fn seal(master: &MasterKey, data: &[u8]) -> Vec<u8> {
        let mut w = SealedWriter::new(master, Vec::new(), &OsEntropy).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn open(master: &MasterKey, sealed: &[u8]) -> io::Result<Vec<u8>> {
        let mut r = SealedReader::new(master, Cursor::new(sealed))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn data7_round_trip_at_every_segment_boundary() {
        let k = master();
        for len in [
            0,
            1,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            2 * SEGMENT,
            3 * SEGMENT + 7,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&k, &data);
            assert_eq!(&sealed[..8], MAGIC);
            assert_eq!(open(&k, &sealed).unwrap(), data, "{len} bytes");
            // Nothing of the plaintext shows.
            if len > 64 {
                assert!(!sealed.windows(32).any(|w| w == &data[..32]));
            }
        }
    }

    #[test]
    fn data7_altered_cut_reordered_or_foreign_backups_are_refused() {
        let k = master();
        let data: Vec<u8> = (0..(2 * SEGMENT + 100)).map(|i| (i % 7) as u8).collect();
        let sealed = seal(&k, &data);
        // One bit anywhere after the magic.
        for at in [8, HEADER, HEADER + SEGMENT, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert_eq!(
                open(&k, &bad).unwrap_err().kind(),
                io::ErrorKind::InvalidData,
                "bit {at}"
            );
        }
        // Cut after a whole segment, or inside one.
        for cut in [
            HEADER + SEGMENT + TAG,
            HEADER + 2 * (SEGMENT + TAG),
            sealed.len() - 5,
        ] {
            assert!(open(&k, &sealed[..cut]).is_err(), "cut at {cut}");
        }
        // Two segments swapped.
        let mut swapped = sealed[..HEADER].to_vec();
        swapped.extend_from_slice(&sealed[HEADER + SEGMENT + TAG..HEADER + 2 * (SEGMENT + TAG)]);
        swapped.extend_from_slice(&sealed[HEADER..HEADER + SEGMENT + TAG]);
        swapped.extend_from_slice(&sealed[HEADER + 2 * (SEGMENT + TAG)..]);
        assert!(open(&k, &swapped).is_err());
        // Another installation's master key; not a backup at all.
        assert!(open(&master(), &sealed).is_err());
        assert!(open(&k, b"SQLite format 3\0 and more").is_err());
    }
}
