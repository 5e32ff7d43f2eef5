//! Files Gatsby writes into `public/` while the server runs: the image and file jobs the query
//! engine runs during a DSG or SSR render (gatsby-plugin-sharp, gatsby-remark-images,
//! `publicURL`) land in `public/static/<hash>/…` and `public/_gatsby/…` only then, after the
//! start-up scan.
//!
//! Invariants:
//! - Only paths under [`RUNTIME_PREFIXES`] are ever looked up on disk, and a file found is served
//!   only if its real path (symbolic links resolved) is a regular file inside `public/` — the same
//!   rule as the start-up scan.
//! - New files only appear from renders. A render bumps the **generation** when it settles
//!   ([`RuntimeFiles::render_settled`]), after the engine's jobs for it are complete (Gatsby's
//!   `waitJobsByRequest`): the page that links a file is never sent before the file exists.
//! - So a path is looked up on disk at most once per generation: before any render settled no
//!   path is looked up at all (everything was indexed at start-up), and a miss is remembered until
//!   the next render settles. The memory of misses is bounded ([`MAX_REMEMBERED_MISSES`]); a flood
//!   of distinct unknown paths costs at most one `stat`-like lookup per request (never a directory
//!   walk), and repeated ones cost none. [`RuntimeFiles::disk_lookups`] counts them.
//! - A file found is remembered for the life of the server (Gatsby never rewrites a job's output
//!   under the same content-hashed name), so later requests need no file-system call to route.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use parking_lot::{Mutex, RwLock};

use crate::artifact::ArtifactKind;
use crate::render::{RenderError, RenderedPage, Renderer, SsrRequest, SsrResponse};
use crate::static_files::StaticFile;

/// Where Gatsby's jobs write at run time.
pub const RUNTIME_PREFIXES: [&str; 2] = ["/static/", "/_gatsby/"];

/// Unknown paths remembered per generation; past it the memory starts over.
pub const MAX_REMEMBERED_MISSES: usize = 16 * 1024;

#[derive(Debug, Default)]
pub struct RuntimeFiles {
    /// Canonical `public/`; `None` (tests' empty tables) never looks anything up.
    root: Option<PathBuf>,
    found: RwLock<HashMap<String, Arc<StaticFile>>>,
    /// Unknown path → the generation it was found missing in.
    misses: Mutex<HashMap<String, u64>>,
    generation: AtomicU64,
    lookups: AtomicU64,
}

/// What routing can tell without touching the disk.
#[derive(Debug)]
pub enum Known {
    Found(Arc<StaticFile>),
    /// Not there (the path is not eligible, or was missing in this generation).
    Missing,
    /// Worth one look on disk: [`RuntimeFiles::look_up`].
    Unknown,
}

impl RuntimeFiles {
    /// `root` must be canonical (the start-up scan's root).
    pub fn new(root: PathBuf) -> Self {
        RuntimeFiles {
            root: Some(root),
            ..RuntimeFiles::default()
        }
    }

    /// A render settled: files it made may now exist. Forgets every miss.
    pub fn render_settled(&self) {
        self.generation.fetch_add(1, Relaxed);
    }

    /// Lookups made on disk so far.
    pub fn disk_lookups(&self) -> u64 {
        self.lookups.load(Relaxed)
    }

    /// Files found after start-up.
    pub fn found_count(&self) -> usize {
        self.found.read().len()
    }

    /// `url_path` is normalised (decoded, no dot segments).
    pub fn known(&self, url_path: &str) -> Known {
        if self.root.is_none() || !is_eligible(url_path) {
            return Known::Missing;
        }
        if let Some(file) = self.found.read().get(url_path) {
            return Known::Found(Arc::clone(file));
        }
        let generation = self.generation.load(Relaxed);
        if generation == 0 || self.misses.lock().get(url_path) == Some(&generation) {
            return Known::Missing;
        }
        Known::Unknown
    }

    /// Looks `url_path` up on disk (blocking: call it off the async threads). Call only for a path
    /// [`known`](Self::known) called [`Known::Unknown`].
    pub fn look_up(&self, url_path: &str) -> Option<Arc<StaticFile>> {
        let root = self.root.as_deref()?;
        if !is_eligible(url_path) {
            return None;
        }
        // Read before the lookup: a render settling meanwhile makes this miss stale, not final.
        let generation = self.generation.load(Relaxed);
        self.lookups.fetch_add(1, Relaxed);
        match contained_file(root, url_path)
            .and_then(|fs_path| StaticFile::at(url_path, fs_path).ok())
        {
            Some(file) => {
                let file = Arc::new(file);
                self.found
                    .write()
                    .insert(url_path.to_string(), Arc::clone(&file));
                Some(file)
            }
            None => {
                let mut misses = self.misses.lock();
                if misses.len() >= MAX_REMEMBERED_MISSES {
                    misses.retain(|_, g| *g == generation);
                    if misses.len() >= MAX_REMEMBERED_MISSES {
                        misses.clear();
                    }
                }
                misses.insert(url_path.to_string(), generation);
                None
            }
        }
    }
}

/// A renderer whose renders call [`RuntimeFiles::render_settled`] as each of their steps settles
/// (a DSG render's page-data and HTML, an SSR render), whether it succeeded or not.
pub struct SettleWatch {
    pub inner: Arc<dyn Renderer>,
    pub files: Arc<RuntimeFiles>,
}

impl Renderer for SettleWatch {
    fn render(
        &self,
        page_path: &str,
        first: ArtifactKind,
    ) -> BoxFuture<'static, Result<RenderedPage, RenderError>> {
        let (render, files) = (self.inner.render(page_path, first), Arc::clone(&self.files));
        Box::pin(async move {
            let rendered = render.await;
            files.render_settled();
            let rendered = rendered?;
            let html = rendered.html;
            Ok(RenderedPage {
                page_data: rendered.page_data,
                html: Box::pin(async move {
                    let html = html.await;
                    files.render_settled();
                    html
                }),
            })
        })
    }

    fn render_ssr(
        &self,
        request: Arc<SsrRequest>,
    ) -> BoxFuture<'static, Result<SsrResponse, RenderError>> {
        let (render, files) = (self.inner.render_ssr(request), Arc::clone(&self.files));
        Box::pin(async move {
            let response = render.await;
            files.render_settled();
            response
        })
    }
    /// The wrapped renderer's: watching renders settle does not change who can render.
    fn renderers_ready(&self) -> usize {
        self.inner.renderers_ready()
    }
}

/// A file (not a directory) under one of the runtime prefixes, with no empty or dot segment and no
/// backslash (a normalised path has none of the first two; this is checked again here because it
/// decides what touches the disk).
fn is_eligible(url_path: &str) -> bool {
    RUNTIME_PREFIXES.iter().any(|p| url_path.starts_with(p))
        && !url_path.ends_with('/')
        && !url_path.contains('\\')
        && url_path[1..]
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// The real path of `url_path` under `root`, if it is a regular file inside `root`.
fn contained_file(root: &Path, url_path: &str) -> Option<PathBuf> {
    let candidate = root.join(url_path.trim_start_matches('/'));
    let real = candidate.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn public() -> (tempfile::TempDir, RuntimeFiles) {
        let dir = tempfile::tempdir().unwrap();
        let files = RuntimeFiles::new(dir.path().canonicalize().unwrap());
        (dir, files)
    }

    fn write(dir: &Path, relative: &str, body: &str) {
        let path = dir.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }

    #[test]
    fn nothing_is_looked_up_on_disk_before_a_render_settled() {
        let (dir, files) = public();
        write(dir.path(), "static/abc/late.png", "png");
        for _ in 0..100 {
            assert!(matches!(
                files.known("/static/abc/late.png"),
                Known::Missing
            ));
        }
        assert_eq!(files.disk_lookups(), 0);
    }

    #[test]
    fn a_file_written_by_a_render_is_found_once_then_known_without_the_disk() {
        let (dir, files) = public();
        files.render_settled();
        write(dir.path(), "static/abc/late.png", "png");
        assert!(matches!(
            files.known("/static/abc/late.png"),
            Known::Unknown
        ));
        let file = files.look_up("/static/abc/late.png").unwrap();
        assert_eq!(file.len, 3);
        assert_eq!(file.content_type, "image/png");
        assert_eq!(file.cache_control, "public, max-age=31536000, immutable");
        for _ in 0..10 {
            assert!(matches!(
                files.known("/static/abc/late.png"),
                Known::Found(_)
            ));
        }
        assert_eq!(files.disk_lookups(), 1);
        assert_eq!(files.found_count(), 1);
    }

    #[test]
    fn an_unknown_path_is_looked_up_once_per_render_generation() {
        let (dir, files) = public();
        files.render_settled();
        assert!(matches!(
            files.known("/static/x/missing.png"),
            Known::Unknown
        ));
        assert!(files.look_up("/static/x/missing.png").is_none());
        for _ in 0..1000 {
            assert!(matches!(
                files.known("/static/x/missing.png"),
                Known::Missing
            ));
        }
        assert_eq!(files.disk_lookups(), 1);

        // A render settles and wrote it: the next request looks again and finds it.
        write(dir.path(), "static/x/missing.png", "now");
        files.render_settled();
        assert!(matches!(
            files.known("/static/x/missing.png"),
            Known::Unknown
        ));
        assert!(files.look_up("/static/x/missing.png").is_some());
        assert_eq!(files.disk_lookups(), 2);
    }

    #[test]
    fn remembered_misses_are_bounded() {
        let (_dir, files) = public();
        files.render_settled();
        for i in 0..(MAX_REMEMBERED_MISSES + 10) {
            assert!(files.look_up(&format!("/static/flood/{i}.png")).is_none());
        }
        assert!(files.misses.lock().len() <= MAX_REMEMBERED_MISSES);
        assert_eq!(files.disk_lookups(), (MAX_REMEMBERED_MISSES + 10) as u64);
    }

    #[test]
    fn only_files_under_static_and_gatsby_are_looked_up() {
        let (dir, files) = public();
        files.render_settled();
        write(dir.path(), "late.html", "x");
        write(dir.path(), "page-data/late/page-data.json", "{}");
        write(dir.path(), "_gatsby/file/a/b.pdf", "pdf");
        for path in [
            "/late.html",
            "/page-data/late/page-data.json",
            "/static/",
            "/static/dir/",
            "/static//x.png",
            "/static/../late.html",
            "/static/./x.png",
            "/static\\x.png",
        ] {
            assert!(matches!(files.known(path), Known::Missing), "{path}");
            assert!(files.look_up(path).is_none(), "{path}");
        }
        assert_eq!(files.disk_lookups(), 0);
        assert!(files.look_up("/_gatsby/file/a/b.pdf").is_some());
    }

    #[test]
    fn directories_are_not_files() {
        let (dir, files) = public();
        files.render_settled();
        fs::create_dir_all(dir.path().join("static/dir")).unwrap();
        assert!(files.look_up("/static/dir").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_leaving_public_is_not_served_and_one_inside_is() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        fs::create_dir_all(outside.path().join("dir")).unwrap();
        fs::write(outside.path().join("dir/secret.txt"), "secret").unwrap();
        let (dir, files) = public();
        files.render_settled();
        write(dir.path(), "static/real/inside.png", "ok");
        fs::create_dir_all(dir.path().join("static/links")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("static/links/leak.txt"),
        )
        .unwrap();
        // A symlinked directory leading out of public/.
        std::os::unix::fs::symlink(outside.path().join("dir"), dir.path().join("static/out"))
            .unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("static/real/inside.png"),
            dir.path().join("static/links/alias.png"),
        )
        .unwrap();
        assert!(files.look_up("/static/links/leak.txt").is_none());
        assert!(files.look_up("/static/out/secret.txt").is_none());
        assert!(files.look_up("/static/links/alias.png").is_some());
    }

    #[test]
    fn a_table_without_a_root_never_looks() {
        let files = RuntimeFiles::default();
        files.render_settled();
        assert!(matches!(files.known("/static/a.png"), Known::Missing));
        assert!(files.look_up("/static/a.png").is_none());
        assert_eq!(files.disk_lookups(), 0);
    }
}
