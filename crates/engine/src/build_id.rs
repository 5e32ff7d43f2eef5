//! The identity of one `gatsby build`: cached artifacts are stored under it and never served for
//! another build.

use std::fmt;

/// A build id, safe to use as one directory name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BuildId(String);

impl BuildId {
    /// Derives a build id from any number of build facts (e.g. the plugin's per-build id and
    /// Gatsby's `webpackCompilationHash`): a change in any of them gives another id.
    pub fn from_parts<I, S>(parts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            let part = part.as_ref();
            // Length-prefix each part so ("ab","c") and ("a","bc") differ.
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        BuildId(hasher.finalize().to_hex()[..20].to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_parts_give_the_same_id() {
        assert_eq!(
            BuildId::from_parts(["plugin-id", "hash"]),
            BuildId::from_parts(["plugin-id", "hash"])
        );
    }

    #[test]
    fn any_changed_part_gives_another_id() {
        let base = BuildId::from_parts(["a", "b"]);
        assert_ne!(base, BuildId::from_parts(["a", "c"]));
        assert_ne!(base, BuildId::from_parts(["ab", ""]));
    }

    #[test]
    fn id_is_a_plain_directory_name() {
        let id = BuildId::from_parts(["../../etc"]);
        assert!(id.as_str().chars().all(|c| c.is_ascii_hexdigit()));
    }
}
