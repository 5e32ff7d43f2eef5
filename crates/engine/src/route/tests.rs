use super::*;
use crate::pages::DeferredPageSpec;
use crate::site::{ClientRouteSpec, RedirectSpec, TrailingSlash};
use std::fs;

fn router() -> (tempfile::TempDir, Router) {
    let public = tempfile::tempdir().unwrap();
    let write = |p: &str| {
        let file = public.path().join(p);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, p).unwrap();
    };
    write("index.html");
    write("about/index.html");
    write("page-data/about/page-data.json");
    write("404.html");
    write("static/a.png");
    let pages = DeferredPages::new([
        spec("/blog/a/", None),
        spec("/blog/안녕/", None),
        spec("/deferred-root/", None),
        spec("/app/", Some("/app/*")),
        spec("/catch/", Some("/*")),
    ]);
    let files = StaticFiles::scan(public.path()).unwrap();
    (
        public,
        Router::new(files, pages).with_trailing_slash(TrailingSlash::Ignore),
    )
}

fn spec(path: &str, match_path: Option<&str>) -> DeferredPageSpec {
    DeferredPageSpec {
        path: path.into(),
        match_path: match_path.map(Into::into),
    }
}

fn deferred_path(route: Route) -> (String, ArtifactKind) {
    match route {
        Route::Deferred { page, kind } => (page.path.to_string(), kind),
        other => panic!("expected a deferred page, got {other:?}"),
    }
}

#[test]
fn deferred_page_html_resolves_in_every_slash_variant() {
    let (_dir, r) = router();
    for raw in ["/blog/a", "/blog/a/", "/blog/a//", "//blog//a/"] {
        assert_eq!(
            deferred_path(r.route(raw, None).route),
            ("/blog/a/".into(), ArtifactKind::Html)
        );
    }
}

#[test]
fn deferred_page_data_url_resolves_to_its_page() {
    let (_dir, r) = router();
    assert_eq!(
        deferred_path(r.route("/page-data/blog/a/page-data.json", None).route),
        ("/blog/a/".into(), ArtifactKind::PageData)
    );
}

#[test]
fn percent_encoded_korean_slug_resolves() {
    let (_dir, r) = router();
    let raw = "/blog/%EC%95%88%EB%85%95/";
    assert_eq!(deferred_path(r.route(raw, None).route).0, "/blog/안녕/");
}

#[test]
fn static_page_and_its_page_data_are_served_from_public() {
    let (_dir, r) = router();
    assert!(matches!(r.route("/about/", None).route, Route::Static(_)));
    assert!(matches!(r.route("/", None).route, Route::Static(_)));
    assert!(matches!(
        r.route("/page-data/about/page-data.json", None).route,
        Route::Static(_)
    ));
}

#[test]
fn directory_without_slash_redirects_keeping_the_query() {
    let (_dir, r) = router();
    match r.route("/about", Some("x=1")).route {
        Route::Redirect { status, location } => {
            assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
            assert_eq!(location, "/about/?x=1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn match_path_never_hides_a_static_file() {
    let (_dir, r) = router();
    assert!(matches!(
        r.route("/static/a.png", None).route,
        Route::Static(_)
    ));
    assert_eq!(deferred_path(r.route("/app/x", None).route).0, "/app/");
    assert_eq!(
        deferred_path(r.route("/nothing-here", None).route).0,
        "/catch/"
    );
}

#[test]
fn unknown_path_is_not_found_without_a_catch_all() {
    let public = tempfile::tempdir().unwrap();
    let r = Router::new(
        StaticFiles::scan(public.path()).unwrap(),
        DeferredPages::new([spec("/blog/a/", None)]),
    );
    assert!(matches!(r.route("/nope/", None).route, Route::NotFound));
    assert!(matches!(
        r.route("/page-data/nope/page-data.json", None).route,
        Route::NotFound
    ));
}

#[test]
fn traversal_is_a_bad_request() {
    let (_dir, r) = router();
    assert!(matches!(
        r.route("/../../etc/passwd", None).route,
        Route::BadRequest(PathError::EscapesRoot)
    ));
}

fn site(trailing_slash: TrailingSlash) -> (tempfile::TempDir, Router) {
    let (dir, r) = router();
    (dir, r.with_trailing_slash(trailing_slash))
}

fn redirect_of(route: Route) -> (StatusCode, String) {
    match route {
        Route::Redirect { status, location } => (status, location),
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[test]
fn trailing_slash_always_redirects_a_page_asked_without_it() {
    let (_dir, r) = site(TrailingSlash::Always);
    assert_eq!(
        redirect_of(r.route("/blog/a", Some("q=1")).route),
        (StatusCode::MOVED_PERMANENTLY, "/blog/a/?q=1".into())
    );
    assert_eq!(deferred_path(r.route("/blog/a/", None).route).0, "/blog/a/");
    assert_eq!(redirect_of(r.route("/about", None).route).1, "/about/");
}

#[test]
fn trailing_slash_never_redirects_a_page_asked_with_it_and_serves_without() {
    let (_dir, r) = site(TrailingSlash::Never);
    assert_eq!(redirect_of(r.route("/about/", None).route).1, "/about");
    assert!(matches!(r.route("/about", None).route, Route::Static(_)));
    assert!(matches!(r.route("/", None).route, Route::Static(_)));
}

#[test]
fn trailing_slash_ignore_serves_both_variants_of_a_deferred_page() {
    let (_dir, r) = site(TrailingSlash::Ignore);
    assert_eq!(deferred_path(r.route("/blog/a", None).route).0, "/blog/a/");
    assert_eq!(deferred_path(r.route("/blog/a/", None).route).0, "/blog/a/");
}

#[test]
fn path_prefix_is_required_and_stripped() {
    let (_dir, r) = router();
    let r = r.with_path_prefix(Some("/docs/"));
    assert!(matches!(
        r.route("/docs/about/", None).route,
        Route::Static(_)
    ));
    assert!(matches!(r.route("/docs", None).route, Route::Static(_)));
    assert!(matches!(r.route("/about/", None).route, Route::NotFound));
    assert!(matches!(
        r.route("/docsabout/", None).route,
        Route::NotFound
    ));
    assert_eq!(
        redirect_of(r.route("/docs/about", None).route).1,
        "/docs/about/"
    );
}

fn redirect_spec(from: &str, to: &str, force: bool) -> RedirectSpec {
    RedirectSpec {
        from_path: from.into(),
        to_path: to.into(),
        is_permanent: true,
        status_code: None,
        ignore_case: false,
        force,
        conditions: Default::default(),
    }
}

#[test]
fn redirect_answers_a_path_nothing_else_serves() {
    let (_dir, r) = router();
    let r = r.with_redirects(&[redirect_spec("/old-page/", "/about/", false)]);
    assert_eq!(
        redirect_of(r.route("/old-page", None).route),
        (StatusCode::MOVED_PERMANENTLY, "/about/".into())
    );
}

#[test]
fn redirect_is_shadowed_by_a_page_unless_forced() {
    let (_dir, r) = router();
    let r = r.with_redirects(&[
        redirect_spec("/about/", "/elsewhere/", false),
        redirect_spec("/blog/a/", "/moved/", true),
    ]);
    assert!(matches!(r.route("/about/", None).route, Route::Static(_)));
    assert_eq!(redirect_of(r.route("/blog/a/", None).route).1, "/moved/");
}

#[test]
fn client_only_route_of_an_ssg_page_serves_its_html() {
    let (_dir, r) = router();
    let r = r.with_client_routes(&[ClientRouteSpec {
        path: "/about/".into(),
        match_path: "/about/*".into(),
    }]);
    match r.route("/about/team/42", None).route {
        Route::Static(file) => assert_eq!(&*file.url_path, "/about/index.html"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_only_route_follows_the_trailing_slash_option() {
    let (_dir, r) = site(TrailingSlash::Always);
    let r = r.with_client_routes(&[ClientRouteSpec {
        path: "/about/".into(),
        match_path: "/about/*".into(),
    }]);
    assert_eq!(
        redirect_of(r.route("/about/team", Some("tab=1")).route).1,
        "/about/team/?tab=1"
    );
    assert!(matches!(
        r.route("/about/team/", None).route,
        Route::Static(_)
    ));
    assert_eq!(redirect_of(r.route("/app/x", None).route).1, "/app/x/");
    assert_eq!(deferred_path(r.route("/app/x/", None).route).0, "/app/");

    let (_dir, r) = site(TrailingSlash::Never);
    assert_eq!(redirect_of(r.route("/app/x/", None).route).1, "/app/x");
    assert_eq!(deferred_path(r.route("/app/x", None).route).0, "/app/");
}

fn ssr_router() -> (tempfile::TempDir, Router) {
    let (dir, router) = router();
    let ssr = DeferredPages::new([
        spec("/ssr/", None),
        spec("/ssr/[param]/", Some("/ssr/:param")),
        spec("/ssr-docs/[...]/", Some("/ssr-docs/*")),
    ]);
    (dir, router.with_ssr_pages(ssr))
}

fn ssr_route(route: Route) -> (String, ArtifactKind) {
    match route {
        Route::Ssr { page, kind } => (page.path.to_string(), kind),
        other => panic!("expected an SSR page, got {other:?}"),
    }
}

#[test]
fn an_ssr_page_is_found_by_its_path_and_its_page_data_url() {
    let (_dir, r) = ssr_router();
    assert_eq!(
        ssr_route(r.route("/ssr/", Some("a=1")).route),
        ("/ssr/".into(), ArtifactKind::Html)
    );
    assert_eq!(
        ssr_route(r.route("/page-data/ssr/page-data.json", None).route),
        ("/ssr/".into(), ArtifactKind::PageData)
    );
}

#[test]
fn an_ssr_page_with_a_match_path_answers_its_urls_and_their_page_data() {
    let (_dir, r) = ssr_router();
    assert_eq!(
        ssr_route(r.route("/ssr/first/", None).route),
        ("/ssr/[param]/".into(), ArtifactKind::Html)
    );
    assert_eq!(
        ssr_route(r.route("/page-data/ssr/first/page-data.json", None).route),
        ("/ssr/[param]/".into(), ArtifactKind::PageData)
    );
    assert_eq!(
        ssr_route(r.route("/ssr-docs/a/b/c/", None).route),
        ("/ssr-docs/[...]/".into(), ArtifactKind::Html)
    );
}

#[test]
fn a_more_specific_ssr_pattern_wins_over_a_deferred_catch_all() {
    let (_dir, r) = ssr_router();
    // /catch/ has matchPath /* (deferred); /ssr/:param is more specific.
    assert!(matches!(r.route("/ssr/x/", None).route, Route::Ssr { .. }));
    assert!(matches!(
        r.route("/elsewhere/", None).route,
        Route::Deferred { .. }
    ));
}

#[test]
fn a_file_written_into_static_after_start_up_is_looked_up_before_a_catch_all_page() {
    let (dir, r) = router();
    let late = dir.path().join("static/late/x.png");
    fs::create_dir_all(late.parent().unwrap()).unwrap();
    fs::write(&late, "png").unwrap();
    // Before any render settled, nothing is looked up: the catch-all page answers.
    assert!(matches!(
        r.route("/static/late/x.png", None).route,
        Route::Deferred { .. }
    ));
    r.static_files.runtime().render_settled();
    let Route::LookUp(path) = r.route("/static/late/x.png", None).route else {
        panic!("expected a lookup");
    };
    assert!(r.static_files.runtime().look_up(&path).is_some());
    assert!(matches!(
        r.route("/static/late/x.png", None).route,
        Route::Static(_)
    ));

    // Not on disk: routed on without another lookup.
    let Route::LookUp(path) = r.route("/static/none.png", None).route else {
        panic!("expected a lookup");
    };
    assert!(r.static_files.runtime().look_up(&path).is_none());
    assert!(matches!(
        r.route_without_lookup("/static/none.png", None, &Default::default())
            .route,
        Route::Deferred { .. }
    ));
    assert!(matches!(
        r.route("/static/none.png", None).route,
        Route::Deferred { .. }
    ));
    assert_eq!(r.static_files.runtime().disk_lookups(), 2);
}

#[test]
fn a_conditional_redirect_applies_only_to_requests_meeting_its_conditions() {
    use crate::site::{RedirectConditions, RequestFacts};
    let (_dir, r) = router();
    let mut spec = redirect_spec("/lang/", "/de/", false);
    spec.conditions = RedirectConditions {
        language: vec!["de".into()],
        country: vec![],
        unknown: vec![],
    };
    let r = r.with_redirects(&[spec]);
    let german = RequestFacts {
        accept_language: Some("de-DE,de;q=0.9"),
        country: None,
    };
    assert!(matches!(
        r.route_for("/lang/", None, &german).route,
        Route::Redirect { .. }
    ));
    let english = RequestFacts {
        accept_language: Some("en"),
        country: None,
    };
    assert!(!matches!(
        r.route_for("/lang/", None, &english).route,
        Route::Redirect { .. }
    ));
    assert!(!matches!(
        r.route("/lang/", None).route,
        Route::Redirect { .. }
    ));
}
