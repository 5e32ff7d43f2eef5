//! What a purge names: one page by its path, the deferred pages matching a glob, or all; from the
//! public API ([`PurgeRequest`]) or from `POST /__dsg/purge?…`.

use std::sync::Arc;

use crate::error::PurgeError;
use crate::pages::DeferredPages;
use crate::path::normalize;

/// What `POST /__dsg/purge` was asked to remove.
#[derive(Debug, PartialEq, Eq)]
pub enum PurgeTarget {
    All,
    Pages(Vec<Arc<str>>),
}

/// What to purge: one page by its path, the pages matching a glob, or all.
#[derive(Clone, Copy, Debug)]
pub enum PurgeRequest<'a> {
    Path(&'a str),
    Glob(&'a str),
    All,
}

/// The deferred pages a purge request names.
pub fn purge_target(
    request: PurgeRequest<'_>,
    pages: &DeferredPages,
) -> Result<PurgeTarget, PurgeError> {
    Ok(match request {
        PurgeRequest::All => PurgeTarget::All,
        PurgeRequest::Path(path) => {
            let path = normalize(path).map_err(PurgeError::Path)?;
            PurgeTarget::Pages(
                pages
                    .find_exact(&path)
                    .map(|p| vec![Arc::clone(&p.path)])
                    .unwrap_or_default(),
            )
        }
        PurgeRequest::Glob(glob) => PurgeTarget::Pages(
            pages
                .matching(glob)?
                .into_iter()
                .map(|p| Arc::clone(&p.path))
                .collect(),
        ),
    })
}

/// Reads `?path=/a/`, `?glob=/blog/**` or `?all=1` (one of them) into the deferred pages to purge.
pub fn purge_target_of_query(
    query: Option<&str>,
    pages: &DeferredPages,
) -> Result<PurgeTarget, PurgeError> {
    let params: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let request = if matches!(get("all"), Some("1" | "true")) {
        PurgeRequest::All
    } else if let Some(path) = get("path") {
        PurgeRequest::Path(path)
    } else if let Some(glob) = get("glob") {
        PurgeRequest::Glob(glob)
    } else {
        return Err(PurgeError::NothingNamed);
    };
    purge_target(request, pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::DeferredPageSpec;

    fn pages() -> DeferredPages {
        DeferredPages::new(
            ["/blog/a/", "/blog/b/", "/guides/x/"].map(|p| DeferredPageSpec {
                path: p.into(),
                match_path: None,
            }),
        )
    }

    #[test]
    fn purge_by_path_glob_or_all() {
        let t = |q| purge_target_of_query(Some(q), &pages());
        assert_eq!(
            t("path=/blog/a").unwrap(),
            PurgeTarget::Pages(vec![Arc::from("/blog/a/")])
        );
        assert_eq!(
            t("path=/not/deferred/").unwrap(),
            PurgeTarget::Pages(vec![])
        );
        match t("glob=/blog/**").unwrap() {
            PurgeTarget::Pages(mut p) => {
                p.sort();
                assert_eq!(p, vec![Arc::from("/blog/a/"), Arc::from("/blog/b/")]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t("all=1").unwrap(), PurgeTarget::All);
        assert!(matches!(t("glob=/blog/["), Err(PurgeError::Glob(_))));
        assert!(matches!(
            purge_target_of_query(None, &pages()),
            Err(PurgeError::NothingNamed)
        ));
    }
}
