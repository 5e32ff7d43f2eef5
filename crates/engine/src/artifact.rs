//! What a deferred page turns into: its HTML document and its page-data JSON (each stored as
//! [`crate::content::Content`]).

/// The two files Gatsby makes for one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArtifactKind {
    /// `/<path>/index.html`, for a direct visit.
    Html,
    /// `/page-data/<path>/page-data.json`, for client-side navigation.
    PageData,
}

impl ArtifactKind {
    pub const ALL: [ArtifactKind; 2] = [ArtifactKind::PageData, ArtifactKind::Html];

    pub fn content_type(self) -> &'static str {
        match self {
            ArtifactKind::Html => "text/html; charset=utf-8",
            ArtifactKind::PageData => "application/json; charset=utf-8",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::Html => "html",
            ArtifactKind::PageData => "page-data",
        }
    }
}
