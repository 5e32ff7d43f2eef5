//! The site's own `404.html` and `500.html`, read once at start-up.

use std::path::Path;

use bytes::Bytes;

#[derive(Debug, Default, Clone)]
pub struct ErrorPages {
    pub not_found: Option<Bytes>,
    pub server_error: Option<Bytes>,
}

impl ErrorPages {
    pub fn load(public_dir: &Path) -> Self {
        let read = |name: &str| std::fs::read(public_dir.join(name)).ok().map(Bytes::from);
        ErrorPages {
            not_found: read("404.html"),
            server_error: read("500.html"),
        }
    }
}
