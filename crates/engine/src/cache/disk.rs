//! The disk tier: artifacts of one build under `<cache_dir>/<build_id>/`, laid out as Gatsby lays
//! out `public/` (`blog/a/index.html`, `page-data/blog/a/page-data.json`) so the directory can be
//! synced to a CDN or inspected by hand. Every file is written to a temporary name, flushed, then
//! renamed: a reader sees a whole artifact or none.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::artifact::ArtifactKind;
use crate::build_id::BuildId;

const TEMP_SUFFIX: &str = ".tmp";

pub struct DiskCache {
    dir: PathBuf,
    next_temp: AtomicU64,
}

impl DiskCache {
    /// Opens (creating it) the directory of `build_id` under `cache_root`, and removes temporary
    /// files a killed process may have left there.
    pub fn open(cache_root: &Path, build_id: &BuildId) -> io::Result<Self> {
        let dir = cache_root.join(build_id.as_str());
        fs::create_dir_all(&dir)?;
        remove_temp_files(&dir);
        Ok(DiskCache {
            dir,
            next_temp: AtomicU64::new(0),
        })
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

    /// The stored artifact, or `None` when there is none (or it cannot be read: the page is then
    /// rendered again rather than served broken).
    pub async fn read(&self, page: &str, kind: ArtifactKind) -> Option<Bytes> {
        let path = self.file_path(page, kind)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                eprintln!("gatsby-dsg: cannot read {}: {e}", path.display());
                None
            }
        }
    }

    /// Writes atomically (temporary file, fsync, rename), off the async threads.
    pub async fn write(&self, page: &str, kind: ArtifactKind, body: Bytes) -> io::Result<()> {
        let Some(path) = self.file_path(page, kind) else {
            return Ok(());
        };
        let seq = self.next_temp.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || write_atomically(&path, &body, seq))
            .await
            .map_err(io::Error::other)?
    }

    /// How many pages have their HTML stored for this build.
    pub fn html_count(&self) -> usize {
        walkdir::WalkDir::new(&self.dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.file_name() == "index.html")
            .count()
    }
}

fn write_atomically(path: &Path, body: &[u8], seq: u64) -> io::Result<()> {
    let parent = path.parent().expect("artifact paths have a parent");
    fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("artifact");
    let temp = parent.join(format!(".{name}.{}.{seq}{TEMP_SUFFIX}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(body)?;
        file.sync_data()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn remove_temp_files(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
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
            Bytes::from_static(b"<html>a</html>"),
        )
        .await
        .unwrap();
        assert_eq!(
            disk.read("/blog/a/", ArtifactKind::Html).await.unwrap(),
            Bytes::from_static(b"<html>a</html>")
        );
        assert!(disk
            .read("/blog/a/", ArtifactKind::PageData)
            .await
            .is_none());
        assert_eq!(disk.html_count(), 1);
    }

    #[tokio::test]
    async fn layout_mirrors_gatsby_public_dir() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b1")).unwrap();
        disk.write("/", ArtifactKind::PageData, Bytes::from_static(b"{}"))
            .await
            .unwrap();
        disk.write(
            "/blog/안녕/",
            ArtifactKind::PageData,
            Bytes::from_static(b"{}"),
        )
        .await
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
        old.write("/a/", ArtifactKind::Html, Bytes::from_static(b"old"))
            .await
            .unwrap();
        let new = DiskCache::open(root.path(), &build("new")).unwrap();
        assert!(new.read("/a/", ArtifactKind::Html).await.is_none());
        let reopened = DiskCache::open(root.path(), &build("old")).unwrap();
        assert!(reopened.read("/a/", ArtifactKind::Html).await.is_some());
    }

    #[tokio::test]
    async fn overwrite_replaces_the_whole_file_and_leaves_no_temp_file() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        disk.write("/a/", ArtifactKind::Html, Bytes::from(vec![b'x'; 100_000]))
            .await
            .unwrap();
        disk.write("/a/", ArtifactKind::Html, Bytes::from_static(b"short"))
            .await
            .unwrap();
        assert_eq!(disk.read("/a/", ArtifactKind::Html).await.unwrap(), "short");
        let leftovers: Vec<_> = walkdir::WalkDir::new(disk.dir())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(TEMP_SUFFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn temp_files_left_by_a_killed_process_are_removed_on_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(build("b").as_str()).join("a");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".index.html.123.0.tmp"), "torn").unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        assert!(!dir.join(".index.html.123.0.tmp").exists());
        assert_eq!(disk.html_count(), 0);
    }

    #[test]
    fn unsafe_page_paths_are_not_stored_on_disk() {
        let root = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(root.path(), &build("b")).unwrap();
        assert!(disk.file_path("/../../etc/", ArtifactKind::Html).is_none());
        assert!(disk.file_path("/a//b/", ArtifactKind::Html).is_none());
        assert!(disk.file_path("/a/b/", ArtifactKind::Html).is_some());
    }
}
