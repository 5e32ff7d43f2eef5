//! gatsby-config `headers`: the site's own headers for the paths its rules match. Applied last,
//! so that a site can override any header this server sets (as `gatsby serve` lets it).

use hyper::header::HeaderMap;

use crate::site::HeaderRules;

/// `path` is the request's normalised path without the path prefix; `None` for requests that did
/// not route to a path of the site (admin, other methods, bad paths, outside the prefix).
pub fn apply(headers: &mut HeaderMap, rules: &HeaderRules, path: Option<&str>) {
    let Some(path) = path.filter(|_| !rules.is_empty()) else {
        return;
    };
    for (name, value) in rules.for_path(path) {
        headers.insert(name.clone(), value.clone());
    }
}
