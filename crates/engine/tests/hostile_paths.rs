//! Hostile request paths: dot segments plain and encoded, encoded slashes and backslashes, NUL
//! bytes, invalid UTF-8 and overlong encodings, absolute and Windows paths, very long paths, and
//! symbolic links inside `public/` that point outside it. None of them may return a byte from
//! outside `public/` (or the cache directory), write outside the cache directory, or panic: each
//! is a clear 400 or a 404.
//!
//! The property tests run `PROPTEST_CASES` cases (256 by default); `scripts/fuzz-paths.sh` runs
//! them with many more.

mod common;

use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use common::*;
use gatsby_dsg_engine::artifact::ArtifactKind;
use gatsby_dsg_engine::cache::disk::DiskCache;
use gatsby_dsg_engine::path::{normalize, PathError};
use gatsby_dsg_engine::route::{Route, Router};
use gatsby_dsg_engine::static_files::StaticFiles;
use gatsby_dsg_engine::{DeferredPageSpec, DeferredPages, Server, ServerConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// In every file outside `public/`; no response may ever contain it.
const SECRET: &str = "TOP-SECRET-outside-public-8c1f";
/// The start of `/etc/passwd` on every Linux system.
const PASSWD: &str = "root:x:0:0";
const PAGE: &str = "/blog/a/";
const APP: &str = "/app/";

// ---------------------------------------------------------------------------------------------
// Fixture

/// The usual fixture site plus files outside `public/` holding [`SECRET`], and symbolic links in
/// `public/` that lead out to them (and to `/etc`), and one that stays inside.
fn hostile_site() -> Site {
    let site = Site::new();
    let root = site_root(&site);
    let public = site.public();
    fs::write(root.join("secret.txt"), SECRET).unwrap();
    fs::create_dir_all(root.join("private")).unwrap();
    fs::write(root.join("private/index.html"), SECRET).unwrap();
    fs::write(root.join("index.html"), SECRET).unwrap();
    fs::create_dir_all(root.join("page-data/blog/a")).unwrap();
    fs::write(root.join("page-data/blog/a/page-data.json"), SECRET).unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(root.join("secret.txt"), public.join("leak.txt")).unwrap();
        symlink("../secret.txt", public.join("relative-leak.txt")).unwrap();
        symlink(&root, public.join("leakdir")).unwrap();
        symlink(root.join("private"), public.join("private")).unwrap();
        symlink("/etc", public.join("etc")).unwrap();
        symlink("/etc/passwd", public.join("passwd")).unwrap();
        fs::create_dir_all(public.join("nested")).unwrap();
        symlink("../../secret.txt", public.join("nested/up.txt")).unwrap();
        // Inside public/: allowed, served as the file it points to.
        symlink(public.join("about/index.html"), public.join("alias.html")).unwrap();
    }
    site
}

fn hostile_config(site: &Site) -> ServerConfig {
    let mut config = site.config(&[PAGE]);
    config.deferred_pages.push(DeferredPageSpec {
        path: APP.to_string(),
        match_path: Some("/app/*".to_string()),
    });
    config.cache_dir = Some(site.cache_dir());
    config
}

/// Every body a 200 may carry: the regular files of `public/` and what the renderer renders.
fn allowed_bodies(site: &Site, renderer: &TestRenderer) -> HashSet<Vec<u8>> {
    let mut bodies: HashSet<Vec<u8>> = walkdir::WalkDir::new(site.public())
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| fs::read(e.path()).unwrap())
        .collect();
    for page in [PAGE, APP] {
        bodies.insert(renderer.html(page, 1).into_bytes());
        bodies.insert(renderer.page_data(page, 1).into_bytes());
    }
    bodies
}

/// Every file under the fixture's root that is neither in `public/` nor in the cache directory:
/// the server must never create one.
fn files_outside_public_and_cache(site: &Site) -> Vec<PathBuf> {
    let root = site_root(site);
    walkdir::WalkDir::new(&root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .filter(|p| !p.starts_with(site.public()) && !p.starts_with(site.cache_dir()))
        .collect()
}

fn assert_no_leak(target: &str, res: &Response) {
    let body = String::from_utf8_lossy(&res.body);
    assert!(
        !body.contains(SECRET),
        "{target} leaked a file outside public/: {res:?}"
    );
    assert!(
        !body.contains(PASSWD),
        "{target} leaked /etc/passwd: {res:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A corpus of known attacks, over HTTP

/// Paths that point above the site root once decoded: always a 400.
const ESCAPING: &[&str] = &[
    "/..",
    "/../",
    "/../secret.txt",
    "/../../../../../../etc/passwd",
    "/about/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%2e%2e%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/about/..%2f..%2fsecret.txt",
    "/%2f..%2f..%2fsecret.txt",
    "/./../secret.txt",
    "/page-data/..%2f..%2f..%2fsecret.txt/page-data.json",
    "/page-data/%2e%2e/%2e%2e/%2e%2e/page-data.json",
    "/page-data/blog/a/..%2f..%2f..%2f..%2fpage-data/blog/a/page-data.json",
    "/app/..%2f..%2fsecret.txt",
    "/app/%2e%2e/%2e%2e/secret.txt",
    "/app/x%2f..%2f..%2f..%2fsecret.txt",
    "/leakdir/../../secret.txt",
    "/c:/../../secret.txt",
];

/// Paths with a NUL byte or bytes that are not UTF-8 once decoded (overlong encodings of `.`, `/`
/// and `\` included): always a 400.
const UNDECODABLE: &[&str] = &[
    "/%00",
    "/about/%00",
    "/index.html%00.js",
    "/leak.txt%00",
    "/%00/../secret.txt",
    "/%ff",
    "/%fe%ff",
    "/about/%80",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/%c0%af..%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%f0%80%80%ae%f0%80%80%ae/secret.txt",
    "/%c1%9c..%c1%9csecret.txt",
    "/%ed%a0%80",
    "/%c0%80",
    "/%f8%88%80%80%80",
    "/%fc%84%80%80%80%80",
];

/// Paths that stay inside the root, or name nothing, but try other ways out: double encoding,
/// backslashes, absolute and Windows paths, symbolic links. Always a 404 (or a 400).
const NOT_FOUND: &[&str] = &[
    "/secret.txt",
    "/private/",
    "/private/index.html",
    "/leak.txt",
    "/relative-leak.txt",
    "/leakdir/secret.txt",
    "/leakdir/private/index.html",
    "/leakdir/",
    "/leakdir",
    "/private",
    "/etc/passwd",
    "/etc/",
    "/passwd",
    "/nested/up.txt",
    "//etc/passwd",
    "///etc//passwd",
    "/%2fetc%2fpasswd",
    "/%2F%2Fetc%2Fpasswd",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%25252e%25252e/secret.txt",
    "/..%252fsecret.txt",
    "/..%5csecret.txt",
    "/..%5c..%5csecret.txt",
    "/%5c..%5c..%5csecret.txt",
    "/%5c%5cserver%5cshare%5csecret.txt",
    "/%5C%5C%3F%5CC:%5Csecret.txt",
    "/C:/Windows/win.ini",
    "/C:%5CWindows%5Cwin.ini",
    "/c:secret.txt",
    "/C:%2f..%2fsecret.txt",
    "/file:%2f%2f%2fetc%2fpasswd",
    "/...",
    "/..../secret.txt",
    "/.%2e.",
    "/ ..",
    "/%20../secret.txt",
    "/~/secret.txt",
    "/~root/.bashrc",
    "/proc/self/environ",
    "/proc/self/cwd/secret.txt",
    "/dev/zero",
    "/.git/config",
    "/.cache/gatsby-dsg/deferred-pages.json",
];

/// Request targets that are not origin-form: absolute-form, asterisk-form.
const OTHER_FORMS: &[&str] = &[
    "http://127.0.0.1/../secret.txt",
    "http://127.0.0.1/%2e%2e/secret.txt",
    "http://evil.example/etc/passwd",
    "http://evil.example//etc/passwd",
    "file:///etc/passwd",
    "*",
];

/// The raw request for `target` (any bytes but CR and LF) with `Connection: close`.
fn raw_request(method: &str, target: &[u8]) -> Vec<u8> {
    let mut raw = format!("{method} ").into_bytes();
    raw.extend_from_slice(target);
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    raw
}

async fn answer(addr: std::net::SocketAddr, method: &str, target: &[u8]) -> Response {
    try_exchange(addr, &raw_request(method, target), method)
        .await
        .unwrap_or_else(|| {
            panic!(
                "{method} {:?}: connection closed without a response (a panic in the handler?)",
                String::from_utf8_lossy(target)
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paths_escaping_the_root_are_400_with_a_reason_and_render_nothing() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    for target in ESCAPING {
        for method in ["GET", "HEAD"] {
            let res = answer(addr, method, target.as_bytes()).await;
            assert_eq!(res.status, 400, "{method} {target}: {res:?}");
            assert_no_leak(target, &res);
            if method == "GET" {
                assert_eq!(
                    res.text().trim_end(),
                    format!("Bad Request: {}", PathError::EscapesRoot),
                    "{target}"
                );
            }
        }
    }
    assert_eq!(renderer.renders(), 0);
    assert_eq!(get(addr, "/about/").await.status, 200, "still serving");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nul_bytes_invalid_utf8_and_overlong_encodings_are_400() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    for target in UNDECODABLE {
        let res = answer(addr, "GET", target.as_bytes()).await;
        assert_eq!(res.status, 400, "{target}: {res:?}");
        assert!(res.text().starts_with("Bad Request: "), "{target}: {res:?}");
        assert_no_leak(target, &res);
    }
    // Raw bytes in the request line: a NUL, bytes that are not UTF-8, an overlong sequence.
    for target in [
        &b"/about/\0"[..],
        b"/\xff\xfe",
        b"/\xc0\xae\xc0\xae/secret.txt",
        b"/about/\x7f",
    ] {
        let res = answer(addr, "GET", target).await;
        assert!(
            matches!(res.status, 400 | 404),
            "{:?}: {res:?}",
            String::from_utf8_lossy(target)
        );
        assert_no_leak(&String::from_utf8_lossy(target), &res);
    }
    assert_eq!(renderer.renders(), 0);
    assert_eq!(get(addr, "/about/").await.status, 200, "still serving");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn double_encoding_backslashes_windows_paths_and_symlinks_out_are_404() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    for target in NOT_FOUND {
        for method in ["GET", "HEAD"] {
            let res = answer(addr, method, target.as_bytes()).await;
            assert!(
                matches!(res.status, 400 | 404),
                "{method} {target}: {res:?}"
            );
            assert_no_leak(target, &res);
            if method == "GET" && res.status == 404 {
                assert_eq!(res.text(), NOT_FOUND_HTML, "{target}");
            }
        }
    }
    assert_eq!(renderer.renders(), 0);

    // A symbolic link that stays inside public/ is served as the file it points to.
    let alias = get(addr, "/alias.html").await;
    assert_eq!((alias.status, alias.text()), (200, ABOUT_HTML.to_string()));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raw_backslashes_are_refused_or_not_found() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    for target in [
        "/..\\secret.txt",
        "/..\\..\\secret.txt",
        "/\\..\\secret.txt",
        "/C:\\Windows\\win.ini",
        "/\\\\server\\share",
        "/\\\\?\\C:\\secret.txt",
    ] {
        let res = answer(addr, "GET", target.as_bytes()).await;
        assert!(matches!(res.status, 400 | 404), "{target}: {res:?}");
        assert_no_leak(target, &res);
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn absolute_form_and_asterisk_targets_never_leave_public() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    for target in OTHER_FORMS {
        let res = answer(addr, "GET", target.as_bytes()).await;
        assert!(matches!(res.status, 400 | 404), "{target}: {res:?}");
        assert_no_leak(target, &res);
    }
    // Absolute-form of a real file is that file (RFC 9112 §3.2.2), nothing more.
    let about = answer(addr, "GET", b"http://127.0.0.1/about/").await;
    assert_eq!((about.status, about.text()), (200, ABOUT_HTML.to_string()));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn very_long_paths_are_refused_or_not_found_without_harm() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    let targets = [
        format!("/{}", "a/".repeat(4_000)),
        format!("/{}secret.txt", "../".repeat(5_000)),
        format!("/{}secret.txt", "%2e%2e%2f".repeat(5_000)),
        format!("/about/{}", "a".repeat(60_000)),
        format!("/{}", "a/".repeat(40_000)),
        format!("/{}", "%ff".repeat(30_000)),
        format!("/app/{}", "x/".repeat(20_000)),
        format!("/page-data/{}/page-data.json", "b/".repeat(20_000)),
        format!("/{}", "x".repeat(200_000)),
    ];
    for target in &targets {
        let res = answer(addr, "GET", target.as_bytes()).await;
        let shown = &target[..40];
        // 414 URI Too Long and 431 are hyper's own answers to a request line past its limits;
        // under /app/* (a matchPath) a path inside the root is the /app/ page.
        let page = target.starts_with("/app/") && res.status == 200;
        assert!(
            page || matches!(res.status, 400 | 404 | 414 | 431),
            "{shown}… ({} bytes): {}",
            target.len(),
            res.status
        );
        assert_no_leak(shown, &res);
        if page {
            assert_eq!(res.text(), renderer.html(APP, 1));
        }
    }
    assert_eq!(get(addr, "/about/").await.status, 200, "still serving");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn match_path_pages_render_their_own_path_and_write_only_inside_the_cache() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();
    let outside_before = files_outside_public_and_cache(&site);

    // Inside the root after decoding, under /app/*: the /app/ page, whatever the rest says (or
    // the trailing-slash redirect to it, which stays under /app/).
    for target in [
        "/app/%252e%252e/%252e%252e/secret.txt",
        "/app/..%5c..%5csecret.txt",
        "/app/%5c..%5c..%5c",
        "/app/C:%5Csecret.txt",
        "/app/x/../y",
        "/app/%2e%2e%2fapp%2fz",
    ] {
        let res = answer(addr, "GET", target.as_bytes()).await;
        let res = match res.status {
            301 => {
                let location = res.header("location").unwrap_or_default().to_string();
                assert!(location.starts_with("/app/"), "{target} → {location}");
                answer(addr, "GET", location.as_bytes()).await
            }
            _ => res,
        };
        assert_eq!(res.status, 200, "{target}: {res:?}");
        assert_eq!(res.text(), renderer.html(APP, 1), "{target}");
    }
    assert_eq!(renderer.renders_of(APP), 1);
    server.close().await;

    assert_eq!(
        files_outside_public_and_cache(&site),
        outside_before,
        "the server wrote outside public/ and the cache directory"
    );
    // What it stored is the /app/ page, at /app/'s place in the build's directory.
    let build = build_id("build-1");
    let stored = stored_html(&site.cache_dir(), &build, APP);
    assert_eq!(fs::read_to_string(stored).unwrap(), renderer.html(APP, 1));
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Pieces of hostile paths; a generated path is a sequence of them after a `/`.
fn hostile_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("/".to_string()),
        3 => Just("..".to_string()),
        2 => Just(".".to_string()),
        8 => prop::sample::select(vec![
            "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", "%5c", "%5C", "\\", "%00", "%ff", "%c0%ae",
            "%c0%af", "%e0%80%ae", "%25", "%252e", "%252f", "%", "%z", "%2", "//", "./", "../",
            "%2e%2e%2f", "..%2f", "..%5c", "C:", "c:%5c", "~", "?", "#", ";", "%3f", "%23", "%20",
            "a", "b", "about", "index.html", "blog", "app", "page-data", "page-data.json",
            "secret.txt", "leak.txt", "leakdir", "private", "etc", "passwd", "nested", "up.txt",
            "alias.html", "static", "x.js", "안", "%EC%95%88", "é",
        ])
        .prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_piece(), 0..24).prop_map(|pieces| format!("/{}", pieces.concat()))
}

/// An independent model of what `normalize` must decide: percent-decode once, refuse what is not
/// UTF-8 or holds a NUL, then walk the segments; `Err(EscapesRoot)` exactly when a `..` has
/// nothing left to pop.
fn model(raw: &str) -> Result<Vec<String>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                decoded.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::InvalidUtf8)?;
    if decoded.contains('\0') {
        return Err(PathError::NulByte);
    }
    let mut stack = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop().ok_or(PathError::EscapesRoot)?;
            }
            s => stack.push(s.to_string()),
        }
    }
    Ok(stack)
}

/// Percent-encodes everything but unreserved characters and `/`.
fn encode(path: &str) -> String {
    percent_encode_path(path)
}

fn check_normalize(raw: &str) -> Result<(), TestCaseError> {
    let result = normalize(raw);
    match (&result, model(raw)) {
        (Ok(path), Ok(segments)) => {
            prop_assert!(path.starts_with('/'), "{raw:?} → {path:?}");
            prop_assert!(!path.contains("//"), "{raw:?} → {path:?}");
            prop_assert!(!path.contains('\0'), "{raw:?} → {path:?}");
            let got: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            prop_assert_eq!(&got, &segments, "segments of {:?}", raw);
            prop_assert!(
                !got.iter().any(|s| *s == "." || *s == ".."),
                "{raw:?} → {path:?}"
            );
            // Joined to a directory, it names something inside that directory.
            let relative = Path::new(path.trim_start_matches('/'));
            prop_assert!(
                relative
                    .components()
                    .all(|c| matches!(c, Component::Normal(_))),
                "{raw:?} → {path:?} has a component that is not a plain name"
            );
            let root = Path::new("/srv/site/public");
            prop_assert!(root.join(relative).starts_with(root));
            // Normalising is stable: the encoded result normalises to itself.
            let again = normalize(&encode(path));
            prop_assert_eq!(again.as_ref(), Ok(path), "{:?}", raw);
        }
        (Err(error), Err(expected)) => prop_assert_eq!(*error, expected, "{:?}", raw),
        (got, expected) => {
            return Err(TestCaseError::fail(format!(
                "normalize({raw:?}) = {got:?}, the model says {expected:?}"
            )))
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn normalize_agrees_with_a_model_and_never_leaves_the_root(raw in hostile_path()) {
        check_normalize(&raw)?;
    }

    #[test]
    fn normalize_never_panics_on_any_string(raw in any::<String>()) {
        let _ = normalize(&raw);
        check_normalize(&format!("/{raw}"))?;
    }

    #[test]
    fn disk_paths_of_any_page_stay_inside_the_build_directory(page in hostile_path()) {
        let disk = disk_cache();
        for kind in [ArtifactKind::Html, ArtifactKind::PageData] {
            if let Some(file) = disk.file_path(&page, kind) {
                let relative = file.strip_prefix(disk.dir());
                prop_assert!(relative.is_ok(), "{page:?} → {file:?}");
                prop_assert!(
                    relative.unwrap().components().all(|c| matches!(c, Component::Normal(_))),
                    "{page:?} → {file:?}"
                );
            }
        }
    }

    #[test]
    fn routing_never_reaches_a_file_outside_public(raw in hostile_path()) {
        let fixture = router_fixture();
        // A render settled: paths under /static/ and /_gatsby/ may be looked up on disk.
        fixture.router.static_files.runtime().render_settled();
        let routed = fixture.router.route(&raw, None);
        match routed.route {
            Route::LookUp(path) => {
                if let Some(file) = fixture.router.static_files.runtime().look_up(&path) {
                    let real = file.fs_path.canonicalize().expect("found files exist");
                    prop_assert!(real.starts_with(&fixture.public), "{raw:?} → {:?}", file.fs_path);
                    let body = fs::read_to_string(&real).unwrap_or_default();
                    prop_assert!(!body.contains(SECRET), "{raw:?} → {:?}", file.fs_path);
                }
            }
            Route::Ssr { page, .. } => prop_assert!(false, "{raw:?} → SSR page {page:?} of a site with none"),
            Route::Static(file) => {
                let real = file.fs_path.canonicalize().expect("indexed files exist");
                prop_assert!(real.starts_with(&fixture.public), "{raw:?} → {:?}", file.fs_path);
                let body = fs::read_to_string(&real).unwrap_or_default();
                prop_assert!(!body.contains(SECRET), "{raw:?} → {:?}", file.fs_path);
            }
            Route::Redirect { location, .. } => {
                // Never to another host: not `//host`, not `/\host` (browsers read `\` as `/`).
                prop_assert!(location.starts_with('/'), "{raw:?} → {location:?}");
                let second = location.as_bytes().get(1).copied();
                prop_assert!(
                    second != Some(b'/') && second != Some(b'\\'),
                    "{raw:?} redirects off-site to {location:?}"
                );
            }
            Route::Deferred { page, .. } => {
                prop_assert!(&*page.path == PAGE || &*page.path == APP, "{raw:?} → {page:?}");
            }
            Route::NotFound | Route::BadRequest(_) => {}
        }
    }
}

proptest! {
    /// `/<anything>/../about` is `/about`, a directory without its slash: a 301 built from the raw
    /// path, which must stay a path on this host whatever `<anything>` was.
    #[test]
    fn directory_redirects_from_any_path_stay_on_this_host(
        bait in prop::collection::vec(hostile_piece(), 1..4),
        dir in prop::sample::select(vec!["about", "static", "page-data/about"]),
    ) {
        let raw = format!("/{}/../{dir}", bait.concat());
        let fixture = router_fixture();
        if let Route::Redirect { location, .. } = fixture.router.route(&raw, None).route {
            let second = location.as_bytes().get(1).copied();
            prop_assert!(
                location.starts_with('/') && second != Some(b'/') && second != Some(b'\\'),
                "{raw:?} redirects off-site to {location:?}"
            );
        }
    }
}

struct RouterFixture {
    _site: Site,
    public: PathBuf,
    router: Router,
}

fn router_fixture() -> &'static RouterFixture {
    static FIXTURE: std::sync::OnceLock<RouterFixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let site = hostile_site();
        let files = StaticFiles::scan(&site.public()).unwrap();
        let pages = DeferredPages::new(hostile_config(&site).deferred_pages);
        RouterFixture {
            public: site.public().canonicalize().unwrap(),
            router: Router::new(files, pages),
            _site: site,
        }
    })
}

fn disk_cache() -> &'static DiskCache {
    static DISK: std::sync::OnceLock<(tempfile::TempDir, DiskCache)> = std::sync::OnceLock::new();
    &DISK
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let disk = DiskCache::open(dir.path(), &build_id("fuzz")).unwrap();
            (dir, disk)
        })
        .1
}

/// Random hostile request targets against the real server: every one is answered (no panic, no
/// dropped connection) with a status from a short list, and every 200 carries a body the site
/// may serve.
#[test]
fn random_hostile_requests_are_answered_and_never_leak() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server: Arc<Server> = Arc::new(runtime.block_on(start(hostile_config(&site), &renderer)));
    let addr = server.local_addr();
    // Rendered up front so that a 200 of a deferred page has one known body.
    runtime.block_on(async {
        get(addr, PAGE).await;
        get(addr, APP).await;
    });
    let allowed = allowed_bodies(&site, &renderer);
    let outside_before = files_outside_public_and_cache(&site);

    let mut runner = TestRunner::new(Config::default());
    let targets = hostile_path().prop_filter("fits a request line", |t| {
        !t.contains([' ', '\r', '\n', '\t'])
    });
    let result = runner.run(&targets, |target| {
        let res = runtime.block_on(answer(addr, "GET", target.as_bytes()));
        prop_assert!(
            matches!(res.status, 200 | 301 | 302 | 400 | 404),
            "{target:?} → {}",
            res.status
        );
        let body = String::from_utf8_lossy(&res.body);
        prop_assert!(
            !body.contains(SECRET) && !body.contains(PASSWD),
            "{target:?} leaked"
        );
        if res.status == 200 {
            prop_assert!(
                allowed.contains(&res.body),
                "{target:?} → unexpected body {body:?}"
            );
        }
        if let Some(location) = res.header("location") {
            let second = location.as_bytes().get(1).copied();
            prop_assert!(
                location.starts_with('/') && second != Some(b'/') && second != Some(b'\\'),
                "{target:?} redirects off-site to {location:?}"
            );
        }
        Ok(())
    });
    runtime.block_on(server.close());
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert_eq!(
        renderer.renders(),
        2,
        "only the two pages rendered up front"
    );
    assert_eq!(files_outside_public_and_cache(&site), outside_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directory_redirects_never_point_to_another_host() {
    let site = hostile_site();
    let renderer = TestRenderer::new();
    let server = start(hostile_config(&site), &renderer).await;
    let addr = server.local_addr();

    // Each normalises to /about (a directory without its slash), so the answer is a 301 whose
    // Location is built from the raw path: it must stay a path on this host.
    for target in [
        "/about",
        "//about",
        "//evil.example/../about",
        "///evil.example/../about",
        "/\\evil.example/../about",
        "/\\\\evil.example/../about",
        "/%5cevil.example/../about",
        "/%2f%2fevil.example/../about",
        "/.//evil.example/../about",
        "/./about",
    ] {
        let res = answer(addr, "GET", target.as_bytes()).await;
        if res.status == 301 {
            let location = res.header("location").unwrap_or_default().to_string();
            let second = location.as_bytes().get(1).copied();
            assert!(
                location.starts_with('/') && second != Some(b'/') && second != Some(b'\\'),
                "{target} redirects off-site to {location:?}"
            );
        } else {
            assert!(matches!(res.status, 400 | 404), "{target}: {res:?}");
        }
    }
    server.close().await;
}
