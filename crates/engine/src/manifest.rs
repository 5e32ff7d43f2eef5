//! The plugin's page manifest (`.cache/gatsby-dsg/deferred-pages.json`, gatsby-plugin/gatsby-node.js
//! writes it) read straight into the page tables: the file is parsed once, in Rust, with each
//! page's strings borrowed from the file's bytes while its key enters the table; no list of pages
//! is built on the way (nor in JavaScript, which reads only the manifest's head).
//!
//! Versions 1 and 2 have the same `pages` and `ssrPages` (objects with `path`, `matchPath` and
//! fields this ignores); another version is refused with a message saying to rebuild. With an
//! expected build id, a manifest of another build (one written after the head JavaScript read,
//! or half of an interrupted build) is refused as well: nothing of a torn pair is served.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::pages::{DeferredPages, PagesBuilder, TableError};

/// The versions of the manifest this reads.
pub const VERSIONS: [u64; 2] = [1, 2];

/// Where the page tables come from, instead of `ServerConfig::deferred_pages`/`ssr_pages`.
#[derive(Clone, Debug)]
pub struct ManifestSource {
    pub file: PathBuf,
    /// The manifest's own `buildId`, as the head read by JavaScript gave it: the file must carry it.
    pub build_id: Option<String>,
}

/// The two tables of a manifest.
#[derive(Debug, Default)]
pub struct ManifestPages {
    pub deferred: DeferredPages,
    pub ssr: DeferredPages,
}

/// Reads `source` (blocking: run it off the async threads).
pub fn read(source: &ManifestSource) -> Result<ManifestPages, TableError> {
    let file = source.file.display().to_string();
    let bytes = std::fs::read(&source.file).map_err(|e| TableError::Read {
        file: file.clone(),
        source: e,
    })?;
    parse(&bytes, &file, source.build_id.as_deref())
}

/// Parses a manifest's bytes; `file` names it in errors.
pub fn parse(
    bytes: &[u8],
    file: &str,
    expected_build_id: Option<&str>,
) -> Result<ManifestPages, TableError> {
    let invalid = |reason: String| TableError::Invalid {
        file: file.to_string(),
        reason,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let read = deserializer
        .deserialize_map(ManifestVisitor)
        .map_err(|e| invalid(e.to_string()))?;
    deserializer.end().map_err(|e| invalid(e.to_string()))?;
    let version = read
        .version
        .ok_or_else(|| invalid("it has no version".into()))?;
    if !VERSIONS.contains(&version) {
        return Err(TableError::Version {
            file: file.to_string(),
            version,
        });
    }
    if let Some(expected) = expected_build_id {
        let found = read.build_id.unwrap_or_default();
        if found != expected {
            return Err(TableError::OtherBuild {
                file: file.to_string(),
                found,
                expected: expected.to_string(),
            });
        }
    }
    Ok(ManifestPages {
        deferred: read.deferred.finish(),
        ssr: read.ssr.finish(),
    })
}

struct Read {
    version: Option<u64>,
    build_id: Option<String>,
    deferred: PagesBuilder,
    ssr: PagesBuilder,
}

struct ManifestVisitor;

impl<'de> Visitor<'de> for ManifestVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with version, buildId, pages and ssrPages")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        let mut read = Read {
            version: None,
            build_id: None,
            deferred: DeferredPages::builder(),
            ssr: DeferredPages::builder(),
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "version" => read.version = Some(map.next_value()?),
                "buildId" => read.build_id = Some(map.next_value()?),
                "pages" => map.next_value_seed(PageList(&mut read.deferred))?,
                "ssrPages" => map.next_value_seed(PageList(&mut read.ssr))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(read)
    }
}

/// A list of pages, each pushed into the builder as it is read.
struct PageList<'b>(&'b mut PagesBuilder);

impl<'de> DeserializeSeed<'de> for PageList<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PageList<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of pages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(page) = seq.next_element::<Page<'de>>()? {
            self.0
                .push(&page.path, page.match_path.as_deref())
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// One page: `path` (borrowed from the file unless it holds escapes) and `matchPath`; other fields
/// are ignored. Only matchPath pages (a site's few `[param]` routes) allocate.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, rename = "matchPath")]
    match_path: Option<String>,
}
