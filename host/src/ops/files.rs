//! Finding photo files: the photo endings imported by default, the hidden and partial files
//! always skipped, `--pattern` wildcards, and the recursive walk of a folder.

use std::path::{Path, PathBuf};

/// File name endings photosync imports by default.
const PHOTO_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "jfif",
];

/// Whether a file name is one to skip whatever the pattern: hidden files and the names editors
/// and copy tools give files they are still writing.
pub fn is_partial_or_hidden(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with('~')
        || name.ends_with('~')
        || [
            ".part",
            ".partial",
            ".tmp",
            ".crdownload",
            ".download",
            ".swp",
        ]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character, case
/// ignored), or, without a pattern, has a photo file ending.
pub fn wanted(name: &str, pattern: Option<&str>) -> bool {
    if is_partial_or_hidden(name) {
        return false;
    }
    match pattern {
        Some(p) => glob(&p.to_lowercase(), &name.to_lowercase()),
        None => name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| PHOTO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())),
    }
}

fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The photo files under `dir` (recursively) that `pattern` accepts, sorted by path. Only `dir`
/// itself must be readable: a subfolder or file that cannot be read is skipped with a warning.
pub fn photo_files(dir: &Path, pattern: Option<&str>) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if d != dir => {
                tracing::warn!("Skipping the folder {} ({e}).", d.display());
                continue;
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let Ok((entry, kind)) = entry.and_then(|e| e.file_type().map(|k| (e, k))) else {
                tracing::warn!("Skipping an entry of {} that cannot be read.", d.display());
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() && !name.starts_with('.') {
                dirs.push(entry.path());
            } else if kind.is_file() && wanted(&name, pattern) {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_partial_files() {
        assert!(wanted("12345.jpg", None));
        assert!(wanted("John_Smith.JPEG", None));
        assert!(!wanted("notes.txt", None));
        assert!(!wanted(".12345.jpg", None));
        assert!(!wanted("12345.jpg.part", None));
        assert!(!wanted("12345.jpg~", None));
        assert!(wanted("emp-42.png", Some("emp-*.png")));
        assert!(!wanted("emp-42.jpg", Some("emp-*.png")));
        assert!(wanted("a1.jpg", Some("a?.JPG")));
        assert!(!wanted("a12.jpg", Some("a?.jpg")));
        assert!(wanted("anything", Some("*")));
    }
}
