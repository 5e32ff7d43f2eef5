//! The files of `public/`, indexed once at start-up. Only indexed files — and files found later
//! under `/static/` and `/_gatsby/` by [`RuntimeFiles`], with the same containment rules — are
//! ever served, so a request path cannot reach outside `public/`, and routing a file that was there
//! at start-up needs no file-system call.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use hyper::header::HeaderValue;

use crate::cache::memory::MemoryCache;
use crate::content::{Content, MIN_COMPRESSIBLE_BYTES};
use crate::respond::content_type::content_type_for;
use crate::respond::encoding::is_compressible;
use crate::respond::headers::cache_control::cache_control_for_static;
use crate::runtime_files::RuntimeFiles;

/// One file of `public/` with its precomputed response headers.
#[derive(Debug)]
pub struct StaticFile {
    /// Its URL path, e.g. `/about/index.html`: the key of its content in memory.
    pub url_path: Arc<str>,
    pub fs_path: PathBuf,
    pub len: u64,
    pub content_type: HeaderValue,
    pub cache_control: HeaderValue,
    pub modified: Option<SystemTime>,
    pub last_modified: Option<HeaderValue>,
    /// Text worth offering in brotli and gzip.
    pub compressible: bool,
}

impl StaticFile {
    /// The file at `fs_path` (already known to be inside `public/`), served as `url_path`.
    pub(crate) fn at(url_path: &str, fs_path: PathBuf) -> io::Result<StaticFile> {
        let metadata = fs_path.metadata()?;
        let modified = metadata.modified().ok();
        let content_type = content_type_for(url_path);
        Ok(StaticFile {
            url_path: Arc::from(url_path),
            compressible: is_compressible(content_type.to_str().unwrap_or("")),
            content_type,
            cache_control: cache_control_for_static(url_path),
            last_modified: modified
                .and_then(|m| HeaderValue::from_str(&httpdate::fmt_http_date(m)).ok()),
            modified,
            fs_path,
            len: metadata.len(),
        })
    }
}

#[derive(Debug, Default)]
pub struct StaticFiles {
    /// URL path (`/about/index.html`) → file.
    files: HashMap<String, Arc<StaticFile>>,
    /// Files written into `public/` after the scan (none known without a scanned root).
    runtime: Arc<RuntimeFiles>,
}

impl StaticFiles {
    /// Walks `public_dir`. Symbolic links are followed only when they resolve inside it.
    pub fn scan(public_dir: &Path) -> io::Result<Self> {
        let root = public_dir.canonicalize()?;
        let mut files = HashMap::new();
        for entry in walkdir::WalkDir::new(&root).follow_links(false) {
            let entry = entry.map_err(io::Error::other)?;
            let fs_path = if entry.path_is_symlink() {
                match entry.path().canonicalize() {
                    Ok(target) if target.starts_with(&root) && target.is_file() => target,
                    _ => continue,
                }
            } else if entry.file_type().is_file() {
                entry.path().to_path_buf()
            } else {
                continue;
            };
            let Ok(relative) = entry.path().strip_prefix(&root) else {
                continue;
            };
            // A name that is not UTF-8 cannot be requested (request paths are UTF-8).
            let Some(relative) = relative.to_str() else {
                continue;
            };
            let url_path = format!("/{relative}");
            let file = StaticFile::at(&url_path, fs_path)?;
            files.insert(url_path, Arc::new(file));
        }
        Ok(StaticFiles {
            files,
            runtime: Arc::new(RuntimeFiles::new(root)),
        })
    }

    /// Files that appear in `public/` while the server runs.
    pub fn runtime(&self) -> &Arc<RuntimeFiles> {
        &self.runtime
    }

    /// The file at exactly this URL path.
    pub fn file(&self, url_path: &str) -> Option<&Arc<StaticFile>> {
        self.files.get(url_path)
    }

    /// `/a/` → `/a/index.html`.
    pub fn index_of(&self, dir_path: &str) -> Option<&Arc<StaticFile>> {
        debug_assert!(dir_path.ends_with('/'));
        self.files.get(&format!("{dir_path}index.html"))
    }

    /// Whether `/a` is a directory with an index, so that `/a` redirects to `/a/`.
    pub fn has_index_below(&self, path: &str) -> bool {
        self.files.contains_key(&format!("{path}/index.html"))
    }

    /// HTML pages Gatsby built: `…/index.html`, and top-level `*.html` such as `404.html` (not
    /// the HTML fragments under `/_gatsby/`, which are slices).
    pub fn html_page_count(&self) -> usize {
        self.files
            .keys()
            .filter(|p| {
                p.ends_with("/index.html") || (p.ends_with(".html") && p.rfind('/') == Some(0))
            })
            .count()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Files larger than this are read for each request instead of being held in memory.
const MAX_HELD_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The bodies of `public/` files, read on first use and held in a byte-bounded memory cache;
/// text files get their brotli and gzip variants made in the background.
pub struct StaticContent {
    memory: Arc<MemoryCache<Arc<str>>>,
}

impl StaticContent {
    pub fn new(capacity_bytes: usize) -> Self {
        StaticContent {
            memory: Arc::new(MemoryCache::new(capacity_bytes)),
        }
    }

    pub async fn get(&self, file: &StaticFile) -> io::Result<Arc<Content>> {
        if let Some(content) = self.memory.get(&file.url_path) {
            return Ok(content);
        }
        let content = Arc::new(Content::new(tokio::fs::read(&file.fs_path).await?));
        if file.len <= MAX_HELD_FILE_BYTES {
            self.memory
                .insert(Arc::clone(&file.url_path), Arc::clone(&content));
            if file.compressible && content.identity.bytes.len() >= MIN_COMPRESSIBLE_BYTES {
                let memory = Arc::clone(&self.memory);
                let (key, plain) = (Arc::clone(&file.url_path), Arc::clone(&content));
                tokio::task::spawn_blocking(move || {
                    memory.insert(key, Arc::new(plain.compressed()));
                });
            }
        }
        Ok(content)
    }

    pub fn bytes(&self) -> usize {
        self.memory.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn scan_indexes_files_by_url_path() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("about")).unwrap();
        fs::write(dir.path().join("about/index.html"), "<h1>about</h1>").unwrap();
        fs::write(dir.path().join("app-0123456789abcdef0123.js"), "x").unwrap();
        fs::write(dir.path().join("404.html"), "not found").unwrap();
        fs::create_dir_all(dir.path().join("_gatsby/slices")).unwrap();
        fs::write(dir.path().join("_gatsby/slices/_gatsby-scripts-1.html"), "").unwrap();
        let files = StaticFiles::scan(dir.path()).unwrap();
        assert_eq!(files.file("/about/index.html").unwrap().len, 14);
        assert!(files.index_of("/about/").is_some());
        assert!(files.has_index_below("/about"));
        assert_eq!(files.html_page_count(), 2);
        assert_eq!(files.len(), 4);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leaving_public_are_not_served() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let public = tempfile::tempdir().unwrap();
        fs::write(public.path().join("inside.txt"), "ok").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            public.path().join("leak.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            public.path().join("inside.txt"),
            public.path().join("alias.txt"),
        )
        .unwrap();
        let files = StaticFiles::scan(public.path()).unwrap();
        assert!(files.file("/leak.txt").is_none());
        assert!(files.file("/alias.txt").is_some());
    }
}
