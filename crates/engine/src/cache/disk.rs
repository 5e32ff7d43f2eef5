//! The disk tier: artifacts of one build under `<cache_dir>/<build_id>/`, laid out as Gatsby lays
//! out `public/` (`blog/a/index.html`, `page-data/blog/a/page-data.json`) so the directory can be
//! synced to a CDN or inspected by hand. Brotli and gzip variants sit beside each file
//! (`index.html.br`, `index.html.gz`). Every file is written to a temporary name, then renamed: a
//! reader sees a whole file or none.
//!
//! Opening is independent of what is stored: nothing is read at open, and no index of the stored
//! files is kept in memory. A read asks the file system for the page's own file (a miss costs one
//! failed `stat`, [`DiskCache::may_hold`]), so a page stored by an earlier process is a hit from
//! the first request on. What
//! used to be read at start-up — leftovers of a killed process, and the counts of what is stored —
//! is [`DiskCache::sweep`], which the server runs in the background (measured: ~57 µs per stored
//! page, a minute at 1,000,000). Nothing a read serves depends on the sweep having run:
//! - a temporary file is never read (only final names are);
//! - an empty identity file (a power loss after a rename) is read as absent;
//! - a variant that does not decode to its identity file (a kill between two renames) is not served.
//!
//! The sweep removes those leftovers, except what this process or another one may be writing now
//! (files modified since the store was opened; this process's temporary files), and counts only
//! files older than the open: pages this process writes are counted by their writes. A page
//! overwritten or removed while the sweep runs may be miscounted (by one entry) until the next start.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;

use crate::artifact::ArtifactKind;
use crate::build_id::BuildId;
use crate::content::{Content, Encoding};

const TEMP_SUFFIX: &str = ".tmp";
/// Held (shared) by every server using a build's directory, so that cleanup skips it.
const LOCK_FILE: &str = ".lock";

pub struct DiskCache {
    dir: PathBuf,
    next_temp: AtomicU64,
    /// When this process opened the store: the sweep takes the files modified before it for what
    /// earlier processes left. A file's mtime comes from the kernel's coarse clock, at most a tick
    /// (4-10 ms) behind the precise one, so everything written before the open is older; only a
    /// write of this process within a tick of the open could pass for an earlier one (and be
    /// counted twice), and the server is not yet listening then.
    opened_at: SystemTime,
    /// Incremented by every [`DiskCache::clear`]: a sweep that saw one ran over a store that
    /// is gone, and counts nothing.
    clears: AtomicU64,
    _lock: fs::File,
}

/// What a write or removal changed: identity files and bytes (all encodings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskDelta {
    pub entries: i64,
    pub bytes: i64,
}

/// What the build's directory holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Pages whose HTML is stored.
    pub html_pages: usize,
    /// Stored artifacts (identity files).
    pub entries: usize,
    pub bytes: u64,
}

impl DiskCache {
    /// Opens (creating it) the directory of `build_id` under `cache_root`. Reads nothing of what
    /// is stored there: see [`DiskCache::sweep`].
    pub fn open(cache_root: &Path, build_id: &BuildId) -> io::Result<Self> {
        let dir = cache_root.join(build_id.as_str());
        fs::create_dir_all(&dir)?;
        let lock = fs::File::create(dir.join(LOCK_FILE))?;
        lock.lock_shared()?;
        Ok(DiskCache {
            dir,
            opened_at: SystemTime::now(),
            next_temp: AtomicU64::new(0),
            clears: AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// Walks the build's directory (blocking: run it off the async threads, while serving):
    /// removes the temporary files a killed process left, empty identity files a power loss
    /// left, and variants whose identity file is gone; returns what was stored before the store
    /// was opened (what this process writes is counted by its writes). Counts nothing when the
    /// cache was cleared while it ran.
    pub fn sweep(&self) -> DiskUsage {
        let clears = self.clears.load(Ordering::SeqCst);
        let usage = walk(&self.dir, Some(self.opened_at));
        if self.clears.load(Ordering::SeqCst) != clears {
            return DiskUsage::default();
        }
        usage
    }
    /// Removes the directories of other builds under the cache root that no running server
    /// holds (a server of the previous build may still be draining). Returns how many it removed.
    /// Only build-id-shaped directory names are touched.
    pub fn remove_other_builds(&self) -> usize {
        let Some(root) = self.dir.parent() else {
            return 0;
        };
        let Ok(entries) = fs::read_dir(root) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let build_shaped = name.len() == 20 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if path == self.dir || !build_shaped || !path.is_dir() {
                continue;
            }
            if let Ok(lock) = fs::File::create(path.join(LOCK_FILE)) {
                // Exclusive and non-blocking: fails while any server holds it shared.
                if lock.try_lock().is_ok() && fs::remove_dir_all(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `page`'s artifact lives, or `None` for a page path that cannot be a relative file
    /// path (such a page is cached in memory only).
    pub fn file_path(&self, page: &str, kind: ArtifactKind) -> Option<PathBuf> {
        let trimmed = page.trim_matches('/');
        let safe = trimmed
            .split('/')
            .all(|s| !matches!(s, "." | "..") && !s.contains('\0') && !s.contains('\\'))
            && !trimmed.contains("//");
        if !safe {
            return None;
        }
        Some(match (kind, trimmed) {
            (ArtifactKind::Html, "") => self.dir.join("index.html"),
            (ArtifactKind::Html, p) => self.dir.join(p).join("index.html"),
            (ArtifactKind::PageData, "") => self.dir.join("page-data/index/page-data.json"),
            (ArtifactKind::PageData, p) => {
                self.dir.join("page-data").join(p).join("page-data.json")
            }
        })
    }

    /// Whether `page`'s artifact may be stored: `false` only when its file is surely not there
    /// (absent, or empty: see [`DiskCache::read`]). One `stat`, cheap enough to run on the
    /// request's own thread as nginx opens files on its event loop: a page never stored is a miss
    /// without a hand-off to the blocking pool (measured: that trip was ~0.2 ms of a first request
    /// and, in a cold burst, ~60 pool threads woken in turn). Any other error says "maybe": the
    /// read decides.
    pub fn may_hold(&self, page: &str, kind: ArtifactKind) -> bool {
        let Some(path) = self.file_path(page, kind) else {
            return false;
        };
        match fs::metadata(&path) {
            Ok(metadata) => metadata.len() > 0,
            Err(error) => error.kind() != io::ErrorKind::NotFound,
        }
    }

    /// The stored artifact with whichever compressed variants are stored and decode to it, or
    /// `None` when there is none (or it cannot be read: the page is then rendered again rather
    /// than served broken). Blocking (it reads up to three files and decodes two): call it off
    /// the async threads.
    pub fn read(&self, page: &str, kind: ArtifactKind) -> Option<Content> {
        let path = self.file_path(page, kind)?;
        // Empty: left by a power loss after the rename (a stored artifact is never empty).
        let identity = read_file(&path).filter(|b| !b.is_empty())?;
        let created = fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| std::time::SystemTime::now());
        let brotli = read_file(&with_suffix(&path, Encoding::Brotli));
        let gzip = read_file(&with_suffix(&path, Encoding::Gzip));
        // A variant from another render (a crash between two renames) must not be served.
        let brotli = brotli.filter(|b| decodes_to(Encoding::Brotli, b, &identity));
        let gzip = gzip.filter(|b| decodes_to(Encoding::Gzip, b, &identity));
        Some(Content::with_encodings(identity, brotli, gzip).created_at(created))
    }

    /// Writes every representation of `content` atomically (temporary file, rename; no fsync, see
    /// `write_atomically`); the identity file last, so that it never exists without its variants
    /// having been attempted. Blocking: call it off the async threads (the page cache's store
    /// threads, `cache/store_pool.rs`).
    pub fn write(
        &self,
        page: &str,
        kind: ArtifactKind,
        content: &Content,
    ) -> io::Result<DiskDelta> {
        let Some(path) = self.file_path(page, kind) else {
            return Ok(DiskDelta::default());
        };
        let seq = self.next_temp.fetch_add(1, Ordering::Relaxed);
        let mut files = Vec::with_capacity(3);
        for encoding in [Encoding::Brotli, Encoding::Gzip] {
            if let Some(representation) = content.get(encoding) {
                files.push((with_suffix(&path, encoding), &representation.bytes));
            }
        }
        files.push((path.clone(), &content.identity.bytes));
        // What is stored afterwards is what was written, and the variants this content lacks
        // that an earlier write left (never served: they do not decode to the new file).
        let written: u64 = files.iter().map(|(_, body)| body.len() as u64).sum();
        let before = stored_size(&path);
        // One directory per artifact: created once, not once per file.
        fs::create_dir_all(path.parent().expect("artifact paths have a parent"))?;
        files
            .iter()
            .try_for_each(|(path, body)| write_atomically(path, body, seq))?;
        let left: u64 = [Encoding::Brotli, Encoding::Gzip]
            .into_iter()
            .filter(|&e| content.get(e).is_none())
            .filter_map(|e| fs::metadata(with_suffix(&path, e)).ok())
            .map(|m| m.len())
            .sum();
        Ok(delta(before, Some(written + left)))
    }

    /// Adds `content`'s compressed variants beside its stored identity file (an artifact stored
    /// before it was compressed), leaving that file and its modification time, the page's age,
    /// as they are. Nothing is written when the identity file is gone (purged meanwhile); a
    /// variant beside a newer identity file is never served (see [`DiskCache::read`]).
    /// Blocking: call it off the async threads.
    pub fn write_variants(
        &self,
        page: &str,
        kind: ArtifactKind,
        content: &Content,
    ) -> io::Result<DiskDelta> {
        let Some(path) = self.file_path(page, kind) else {
            return Ok(DiskDelta::default());
        };
        let Some(before) = stored_size(&path) else {
            return Ok(DiskDelta::default());
        };
        let seq = self.next_temp.fetch_add(1, Ordering::Relaxed);
        for encoding in [Encoding::Brotli, Encoding::Gzip] {
            if let Some(representation) = content.get(encoding) {
                write_atomically(&with_suffix(&path, encoding), &representation.bytes, seq)?;
            }
        }
        Ok(delta(Some(before), stored_size(&path)))
    }

    /// Removes a stored artifact (all encodings). Blocking: call it off the async threads.
    pub fn remove(&self, page: &str, kind: ArtifactKind) -> DiskDelta {
        let Some(path) = self.file_path(page, kind) else {
            return DiskDelta::default();
        };
        let before = stored_size(&path);
        for encoding in [Encoding::Identity, Encoding::Brotli, Encoding::Gzip] {
            let _ = fs::remove_file(with_suffix(&path, encoding));
        }
        delta(before, None)
    }

    /// Removes every stored artifact of this build.
    pub async fn clear(&self) -> io::Result<()> {
        self.clears.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            for entry in fs::read_dir(&dir)?.filter_map(Result::ok) {
                if entry.file_name() == LOCK_FILE {
                    continue;
                }
                let path = entry.path();
                if path.is_dir() {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
            }
            Ok(())
        })
        .await
        .map_err(io::Error::other)?
    }

    /// What this build's directory holds now (walks it, removing nothing: call off the async
    /// threads).
    pub fn usage(&self) -> DiskUsage {
        walk(&self.dir, None)
    }
}

/// Walks a build's directory and counts the stored identity files with what they add up to. With
/// `opened_at`, also removes what a killed process or a power loss left (see the module docs),
/// leaving alone, and not counting, every file modified since `opened_at`.
fn walk(dir: &Path, opened_at: Option<SystemTime>) -> DiskUsage {
    let own_temp = format!(".{}.", std::process::id());
    let mut usage = DiskUsage::default();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let name = entry.file_name().to_string_lossy();
        let Ok(meta) = entry.metadata() else { continue };
        let older = match (opened_at, meta.modified()) {
            (Some(start), Ok(modified)) => modified < start,
            (Some(_), Err(_)) => false,
            (None, _) => true,
        };
        if !older {
            continue; // being written now: counted by its write
        }
        let sweeping = opened_at.is_some();
        if name.starts_with('.') {
            // `.<name>.<pid>.<seq>.tmp`: never this process's own, which may be renamed any moment.
            if sweeping && name.ends_with(TEMP_SUFFIX) && !name.contains(&own_temp) {
                let _ = fs::remove_file(entry.path());
            }
            continue;
        }
        let len = meta.len();
        let identity = name == "index.html" || name == "page-data.json";
        if identity && len == 0 {
            // Left empty by a power loss after the rename: read as absent, rendered again.
            if sweeping {
                let _ = fs::remove_file(entry.path());
            }
            continue;
        }
        if !identity {
            if name.ends_with(".br") || name.ends_with(".gz") {
                // A variant whose identity file is gone (a kill between two renames) is never
                // served. Asked now, not from what the walk has seen: the identity file is
                // renamed last, and the walk visits directories in no particular order.
                let orphan = !entry.path().with_extension("").is_file();
                if orphan {
                    if sweeping {
                        let _ = fs::remove_file(entry.path());
                    }
                    continue;
                }
                usage.bytes += len;
            }
            continue;
        }
        usage.bytes += len;
        usage.entries += 1;
        if name == "index.html" {
            usage.html_pages += 1;
        }
    }
    usage
}

/// Bytes of an artifact on disk, all encodings; `None` when its identity file is absent.
fn stored_size(path: &Path) -> Option<u64> {
    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).ok();
    let identity = size(path)?;
    Some(
        identity
            + size(&with_suffix(path, Encoding::Brotli)).unwrap_or(0)
            + size(&with_suffix(path, Encoding::Gzip)).unwrap_or(0),
    )
}

fn delta(before: Option<u64>, after: Option<u64>) -> DiskDelta {
    DiskDelta {
        entries: i64::from(after.is_some()) - i64::from(before.is_some()),
        bytes: after.unwrap_or(0) as i64 - before.unwrap_or(0) as i64,
    }
}

fn read_file(path: &Path) -> Option<Bytes> {
    match fs::read(path) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            eprintln!("gatsby-dsg: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn with_suffix(path: &Path, encoding: Encoding) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(encoding.file_suffix());
    PathBuf::from(name)
}

fn decodes_to(encoding: Encoding, encoded: &[u8], identity: &[u8]) -> bool {
    use std::io::Read;
    let mut decoded = Vec::with_capacity(identity.len());
    let result = match encoding {
        Encoding::Brotli => brotli::Decompressor::new(encoded, 4096).read_to_end(&mut decoded),
        Encoding::Gzip => flate2::read::GzDecoder::new(encoded).read_to_end(&mut decoded),
        Encoding::Identity => return encoded == identity,
    };
    result.is_ok() && decoded == identity
}

/// Writes `body` to `path`, whose directory exists, through a temporary file and a rename.
fn write_atomically(path: &Path, body: &[u8], seq: u64) -> io::Result<()> {
    let parent = path.parent().expect("artifact paths have a parent");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("artifact");
    let temp = parent.join(format!(".{name}.{}.{seq}{TEMP_SUFFIX}", std::process::id()));
    // No fsync: the rename makes the file whole or absent for readers and across a killed
    // process. Measured: fsyncing the six files of a page limited cold renders to ~150 pages/s on
    // a 2-core machine, against ~700 without. A power loss can leave an empty file instead; the
    // start-up scan removes those (a stored artifact is never empty).
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(body)?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(id: &str) -> BuildId {
        BuildId::from_parts([id])
    }

    #[tokio::test]
    async fn written_artifact_reads_back_whole() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b1")).unwrap();
        disk.write(
            "/blog/a/",
            ArtifactKind::Html,
            &Content::new("<html>a</html>"),
        )
        .unwrap();
        assert_eq!(
            disk.read("/blog/a/", ArtifactKind::Html)
                .unwrap()
                .identity
                .bytes,
            Bytes::from_static(b"<html>a</html>")
        );
        assert!(disk.read("/blog/a/", ArtifactKind::PageData).is_none());
        assert_eq!(disk.usage().html_pages, 1);
    }

    #[tokio::test]
    async fn layout_mirrors_gatsby_public_dir() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b1")).unwrap();
        disk.write("/", ArtifactKind::PageData, &Content::new("{}"))
            .unwrap();
        disk.write("/blog/안녕/", ArtifactKind::PageData, &Content::new("{}"))
            .unwrap();
        assert!(disk.dir().join("page-data/index/page-data.json").is_file());
        assert!(disk
            .dir()
            .join("page-data/blog/안녕/page-data.json")
            .is_file());
    }

    #[tokio::test]
    async fn artifacts_of_another_build_are_not_seen() {
        let root = tempfile::tempdir().unwrap();
        let old = DiskCache::open(root.path(), &build("old")).unwrap();
        old.write("/a/", ArtifactKind::Html, &Content::new("old"))
            .unwrap();
        let new = DiskCache::open(root.path(), &build("new")).unwrap();
        assert!(new.read("/a/", ArtifactKind::Html).is_none());
        let reopened = DiskCache::open(root.path(), &build("old")).unwrap();
        assert!(reopened.read("/a/", ArtifactKind::Html).is_some());
    }

    #[tokio::test]
    async fn overwrite_replaces_the_whole_file_and_leaves_no_temp_file() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        disk.write(
            "/a/",
            ArtifactKind::Html,
            &Content::new(vec![b'x'; 100_000]),
        )
        .unwrap();
        disk.write("/a/", ArtifactKind::Html, &Content::new("short"))
            .unwrap();
        assert_eq!(
            disk.read("/a/", ArtifactKind::Html).unwrap().identity.bytes,
            "short"
        );
        let leftovers: Vec<_> = walkdir::WalkDir::new(disk.dir())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(TEMP_SUFFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// Writes `body` at `path` as a file an earlier process left, modified a minute ago.
    fn leftover(path: &Path, body: &str) {
        use std::time::Duration;
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
        let minute_ago = SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(minute_ago)
            .unwrap();
    }

    #[test]
    fn temp_files_left_by_a_killed_process_are_removed_by_the_sweep() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(build("b").as_str()).join("a");
        leftover(&dir.join(".index.html.123.0.tmp"), "torn");
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        assert!(
            dir.join(".index.html.123.0.tmp").exists(),
            "open reads nothing"
        );
        assert_eq!(disk.sweep(), DiskUsage::default());
        assert!(!dir.join(".index.html.123.0.tmp").exists());
        assert_eq!(disk.usage().html_pages, 0);
    }

    /// Marks `path` as modified a second from now: written after the store was opened (a file
    /// written just after the open may carry an mtime up to a coarse-clock tick before it).
    fn written_after_open(path: &Path) {
        use std::time::Duration;
        let later = SystemTime::now() + Duration::from_secs(1);
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(later).unwrap();
    }

    #[test]
    fn the_sweep_leaves_this_process_temp_files_and_files_written_since_the_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(build("b").as_str()).join("a");
        let own = dir.join(format!(".index.html.{}.7.tmp", std::process::id()));
        leftover(&own, "being written");
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        // Another process's temporary file and a variant renamed before its identity file.
        for name in [".index.html.123.1.tmp", "index.html.br"] {
            fs::write(dir.join(name), "being written").unwrap();
            written_after_open(&dir.join(name));
        }
        assert_eq!(disk.sweep(), DiskUsage::default());
        assert!(own.exists());
        assert!(dir.join(".index.html.123.1.tmp").exists());
        assert!(dir.join("index.html.br").exists());
    }

    #[test]
    fn variants_without_their_identity_file_are_removed_by_the_sweep() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(build("b").as_str()).join("a");
        leftover(&dir.join("index.html.br"), "orphan");
        leftover(&dir.join("index.html.gz"), "orphan");
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        assert_eq!(disk.sweep(), DiskUsage::default());
        assert!(!dir.join("index.html.br").exists());
        assert!(!dir.join("index.html.gz").exists());
    }

    #[tokio::test]
    async fn empty_artifacts_left_by_a_power_loss_are_absent_and_removed_by_the_sweep() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(build("b").as_str()).join("a");
        leftover(&dir.join("index.html"), "");
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        assert!(disk.read("/a/", ArtifactKind::Html).is_none());
        assert_eq!(disk.sweep().entries, 0);
        assert!(!dir.join("index.html").exists());
    }

    #[test]
    fn only_a_stored_non_empty_artifact_may_be_held() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b1")).unwrap();
        assert!(!disk.may_hold("/a/", ArtifactKind::Html), "never stored");
        disk.write("/a/", ArtifactKind::Html, &Content::new("<html>"))
            .unwrap();
        assert!(disk.may_hold("/a/", ArtifactKind::Html));
        assert!(
            !disk.may_hold("/a/", ArtifactKind::PageData),
            "the other artifact"
        );
        leftover(&disk.file_path("/b/", ArtifactKind::Html).unwrap(), "");
        assert!(
            !disk.may_hold("/b/", ArtifactKind::Html),
            "empty: a power loss"
        );
        assert!(
            !disk.may_hold("/../x/", ArtifactKind::Html),
            "not a file path"
        );
    }

    #[tokio::test]
    async fn a_page_stored_by_an_earlier_process_is_read_before_any_sweep() {
        let root = tempfile::tempdir().unwrap();
        let content = Content::new("<p>stored</p>".repeat(300)).compressed();
        {
            let earlier = DiskCache::open(root.path(), &build("b")).unwrap();
            earlier.write("/a/", ArtifactKind::Html, &content).unwrap();
        }
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        let read = disk.read("/a/", ArtifactKind::Html).unwrap();
        assert_eq!(
            (read.identity, read.brotli, read.gzip),
            (content.identity, content.brotli, content.gzip)
        );
        assert!(disk.read("/b/", ArtifactKind::Html).is_none());
    }

    #[tokio::test]
    async fn the_sweep_counts_what_was_stored_before_it_began_but_not_later_writes() {
        let root = tempfile::tempdir().unwrap();
        let bdir = root.path().join(build("b").as_str());
        leftover(&bdir.join("a/index.html"), "<p>a</p>");
        leftover(&bdir.join("a/index.html.gz"), "not checked by the count");
        leftover(&bdir.join("page-data/a/page-data.json"), "{}");
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        // Written by this process after open: counted by its write's delta, not by the sweep.
        let written = disk
            .write("/new/", ArtifactKind::Html, &Content::new("<p>new</p>"))
            .unwrap();
        assert_eq!(written.entries, 1);
        written_after_open(&bdir.join("new/index.html"));
        let usage = disk.sweep();
        assert_eq!(
            usage,
            DiskUsage {
                html_pages: 1,
                entries: 2,
                bytes: (8 + 24 + 2) as u64,
            }
        );
        assert_eq!(disk.usage().entries, 3);
    }

    #[test]
    fn unsafe_page_paths_are_not_stored_on_disk() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        assert!(disk.file_path("/../../etc/", ArtifactKind::Html).is_none());
        assert!(disk.file_path("/a//b/", ArtifactKind::Html).is_none());
        assert!(disk.file_path("/a/b/", ArtifactKind::Html).is_some());
    }

    #[tokio::test]
    async fn compressed_variants_are_stored_beside_the_file_and_read_back() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        let content = Content::new("<p>page</p>".repeat(500)).compressed();
        disk.write("/a/", ArtifactKind::Html, &content).unwrap();
        assert!(disk.dir().join("a/index.html.br").is_file());
        assert!(disk.dir().join("a/index.html.gz").is_file());
        let read = disk.read("/a/", ArtifactKind::Html).unwrap();
        assert_eq!(
            (read.identity, read.brotli, read.gzip),
            (content.identity, content.brotli, content.gzip)
        );
    }

    #[tokio::test]
    async fn variants_added_later_keep_the_stored_file_and_its_age() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        let plain = Content::new("<p>page</p>".repeat(500));
        disk.write("/a/", ArtifactKind::Html, &plain).unwrap();
        let file = disk.dir().join("a/index.html");
        let age = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(age)
            .unwrap();
        let compressed = plain.compressed();
        let delta = disk
            .write_variants("/a/", ArtifactKind::Html, &compressed)
            .unwrap();
        assert_eq!(delta.entries, 0);
        assert!(delta.bytes > 0);
        let read = disk.read("/a/", ArtifactKind::Html).unwrap();
        assert_eq!(
            (read.brotli, read.gzip),
            (compressed.brotli.clone(), compressed.gzip.clone())
        );
        assert_eq!(read.created, age);
        // Purged meanwhile: nothing is written beside a file that is gone.
        disk.remove("/a/", ArtifactKind::Html);
        disk.write_variants("/a/", ArtifactKind::Html, &compressed)
            .unwrap();
        assert!(!disk.dir().join("a/index.html.br").exists());
    }

    #[tokio::test]
    async fn variant_of_another_render_is_not_served() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        let first = Content::new("<p>first</p>".repeat(500)).compressed();
        disk.write("/a/", ArtifactKind::Html, &first).unwrap();
        // A later render whose identity file was renamed but whose variants were not.
        let second = "<p>second</p>".repeat(500);
        fs::write(disk.dir().join("a/index.html"), &second).unwrap();
        let read = disk.read("/a/", ArtifactKind::Html).unwrap();
        assert_eq!(read.identity.bytes, second);
        assert!(read.brotli.is_none() && read.gzip.is_none());
    }

    #[tokio::test]
    async fn removed_artifact_is_gone_in_every_encoding() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        let content = Content::new("<p>page</p>".repeat(500)).compressed();
        let written = disk.write("/a/", ArtifactKind::Html, &content).unwrap();
        assert_eq!(written.entries, 1);
        assert_eq!(written.bytes as usize, content.size());
        let removed = disk.remove("/a/", ArtifactKind::Html);
        assert_eq!(
            removed,
            DiskDelta {
                entries: -1,
                bytes: -written.bytes
            }
        );
        assert!(disk.read("/a/", ArtifactKind::Html).is_none());
        assert!(!disk.dir().join("a/index.html.br").exists());
    }

    #[tokio::test]
    async fn clear_removes_every_artifact_of_the_build() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        disk.write("/a/", ArtifactKind::Html, &Content::new("a"))
            .unwrap();
        disk.write("/b/", ArtifactKind::PageData, &Content::new("{}"))
            .unwrap();
        disk.clear().await.unwrap();
        assert_eq!(disk.usage(), DiskUsage::default());
    }

    #[test]
    fn other_builds_are_removed_unless_a_server_holds_them() {
        let root = tempfile::tempdir().unwrap();
        let old = DiskCache::open(root.path(), &build("old")).unwrap();
        let older_dir = {
            let older = DiskCache::open(root.path(), &build("older")).unwrap();
            older.dir().to_path_buf()
        }; // dropped: no server holds it any more
        fs::create_dir_all(root.path().join("not-a-build")).unwrap();
        let current = DiskCache::open(root.path(), &build("new")).unwrap();
        assert_eq!(current.remove_other_builds(), 1);
        assert!(!older_dir.exists());
        assert!(old.dir().exists(), "a build still in use is kept");
        assert!(root.path().join("not-a-build").exists());
        drop(old);
        assert_eq!(current.remove_other_builds(), 1);
        assert!(current.dir().exists());
    }
}
